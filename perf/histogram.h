#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

// A latency histogram in the manner of HdrHistogram: values in nanoseconds, exact below
// 256 ns, then 128 linear sub-buckets per power of two (a bucket is at most 0.78% wide) up to
// 2^37 ns (137 s); larger values count in the last bucket, while max() stays exact. A fixed
// 31 KiB array: recording is a bit scan, a shift and an increment, with no allocation and no
// per-message storage. Not thread-safe: each thread records into its own and an owner merges.
namespace haremq::perf {

class histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 7;  // 128 sub-buckets per power of two
  static constexpr std::uint64_t max_trackable = (std::uint64_t{1} << 37) - 1;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  static constexpr std::uint64_t exact_below = sub_buckets * 2;
  static constexpr std::size_t bucket_count = 3968;  // bucket_of(max_trackable) + 1

  void record(std::uint64_t value_ns) noexcept {
    ++_counts[bucket_of(value_ns)];
    ++_count;
    _sum += value_ns;
    if (value_ns < _min) _min = value_ns;
    if (value_ns > _max) _max = value_ns;
  }
  void add(const histogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return _count; }
  std::uint64_t min() const noexcept { return _count == 0 ? 0 : _min; }
  std::uint64_t max() const noexcept { return _max; }
  double mean() const noexcept { return _count == 0 ? 0.0 : static_cast<double>(_sum) / static_cast<double>(_count); }
  // The smallest value v such that `percent` % of the recorded values are <= v, to the
  // bucket's precision (its highest value, capped at max()); 0 when empty.
  std::uint64_t percentile(double percent) const noexcept;

  // Values below 256 index themselves. Above, with s = bit_width(v) - 8, v >> s is in
  // [128, 256) and the bucket is 128 * s + (v >> s): each power of two gets 128 buckets and
  // the ranges of consecutive s are contiguous. Inline: it runs once per message.
  static constexpr std::size_t bucket_of(std::uint64_t value) noexcept {
    value = std::min(value, max_trackable);
    if (value < exact_below) return static_cast<std::size_t>(value);
    const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - (sub_bucket_bits + 1);
    return static_cast<std::size_t>(sub_buckets * shift + (value >> shift));
  }
  static std::uint64_t lowest_in(std::size_t bucket) noexcept;
  static std::uint64_t highest_in(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, bucket_count> _counts{};
  std::uint64_t _count = 0;
  std::uint64_t _sum = 0;
  std::uint64_t _min = UINT64_MAX;
  std::uint64_t _max = 0;
};

static_assert(histogram::bucket_of(histogram::max_trackable) + 1 == histogram::bucket_count);

}  // namespace haremq::perf
