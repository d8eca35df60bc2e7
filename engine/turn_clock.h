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

// Steady nanoseconds as Unix milliseconds and back, for a time that outlives the process (a
// stored message's publish time). The clocks' distance is read once per process.
inline std::int64_t unix_offset_ns() noexcept {
  static const std::int64_t offset = [] {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() -
           duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  }();
  return offset;
}
inline std::int64_t to_unix_ms(std::int64_t steady_ns) noexcept { return (steady_ns + unix_offset_ns()) / 1'000'000; }
inline std::int64_t from_unix_ms(std::int64_t unix_ms) noexcept { return unix_ms * 1'000'000 - unix_offset_ns(); }

}  // namespace haremq::engine::turn_clock
