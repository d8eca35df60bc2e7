#pragma once

#include <time.h>

#include <cstdint>

namespace haremq::perf {

inline constexpr std::uint64_t ns_per_second = 1'000'000'000;

// CLOCK_MONOTONIC in nanoseconds. Producers and consumers run in one process, so a consumer
// can subtract the stamp a producer put in the body; a vDSO call, no system call.
inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * ns_per_second + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace haremq::perf
