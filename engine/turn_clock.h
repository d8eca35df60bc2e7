#pragma once

#include <chrono>
#include <cstdint>

// The time at the start of this worker's loop turn, read where the message path needs a
// timestamp (a message's publish time, a delivery's time in queue): a thread-local load
// instead of a clock read per message. Steady clock nanoseconds, comparable across workers;
// zero on a thread that never set it.
namespace haremq::engine::turn_clock {

inline thread_local std::int64_t current_ns = 0;

inline std::int64_t now() noexcept { return current_ns; }
inline void set(std::chrono::steady_clock::time_point t) noexcept {
  current_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace haremq::engine::turn_clock
