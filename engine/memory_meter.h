#pragma once

#include <cstdint>

// How many bytes the broker's messages hold, for the memory alarm. Messages are made on one
// worker and freed on another, so each thread keeps its own signed count (a plain store to a
// line no other thread writes: nothing shared on the hot path) and total() sums them. The sum
// is read a few times a second, and may be a moment behind.
namespace haremq::engine::memory_meter {

// Adds `bytes` (negative when freed) to the calling thread's count.
void add(std::int64_t bytes) noexcept;

// Every thread's count, those of threads that have ended included.
std::int64_t total() noexcept;

}  // namespace haremq::engine::memory_meter
