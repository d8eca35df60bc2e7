#include "perf/histogram.h"

#include <algorithm>
#include <cmath>

namespace haremq::perf {

std::uint64_t histogram::lowest_in(std::size_t bucket) noexcept {
  if (bucket < exact_below) return bucket;
  const std::uint64_t shift = bucket / sub_buckets - 1;
  const std::uint64_t sub = bucket - sub_buckets * shift;
  return sub << shift;
}

std::uint64_t histogram::highest_in(std::size_t bucket) noexcept {
  if (bucket < exact_below) return bucket;
  const std::uint64_t shift = bucket / sub_buckets - 1;
  const std::uint64_t sub = bucket - sub_buckets * shift;
  return ((sub + 1) << shift) - 1;
}

void histogram::add(const histogram& other) noexcept {
  if (other._count == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i) _counts[i] += other._counts[i];
  _count += other._count;
  _sum += other._sum;
  _min = std::min(_min, other._min);
  _max = std::max(_max, other._max);
}

void histogram::reset() noexcept {
  _counts.fill(0);
  _count = 0;
  _sum = 0;
  _min = UINT64_MAX;
  _max = 0;
}

std::uint64_t histogram::percentile(double percent) const noexcept {
  if (_count == 0) return 0;
  const double clamped = std::clamp(percent, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(_count)));
  rank = std::clamp<std::uint64_t>(rank, 1, _count);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += _counts[i];
    if (seen >= rank) return std::min(highest_in(i), _max);
  }
  return _max;
}

}  // namespace haremq::perf
