// Covers: bucket boundaries (exact below 256 ns, contiguous and at most 0.78% wide above),
// percentiles on known distributions, min/max/mean, merging, reset, values past the range.
// Not yet: concurrent use (the histogram is single-threaded by contract).
#include "perf/histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>

namespace haremq::perf {
namespace {

TEST(Histogram, ValuesBelow256NanosecondsAreExact) {
  for (std::uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(histogram::bucket_of(v), v);
    EXPECT_EQ(histogram::lowest_in(histogram::bucket_of(v)), v);
    EXPECT_EQ(histogram::highest_in(histogram::bucket_of(v)), v);
  }
}

TEST(Histogram, BucketsAreContiguousAndNarrow) {
  for (std::size_t b = 1; b < histogram::bucket_count; ++b) {
    ASSERT_EQ(histogram::lowest_in(b), histogram::highest_in(b - 1) + 1) << "bucket " << b;
    if (b < 256) continue;  // exact: one value each
    const double width = static_cast<double>(histogram::highest_in(b) - histogram::lowest_in(b) + 1);
    EXPECT_LE(width / static_cast<double>(histogram::lowest_in(b)), 1.0 / 128 + 1e-12) << "bucket " << b;
  }
  EXPECT_EQ(histogram::highest_in(histogram::bucket_count - 1), histogram::max_trackable);
}

TEST(Histogram, EveryValueLandsInTheBucketThatHoldsIt) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = random() >> (random() % 64);
    const std::size_t b = histogram::bucket_of(v);
    const std::uint64_t clamped = std::min(v, histogram::max_trackable);
    ASSERT_LE(histogram::lowest_in(b), clamped);
    ASSERT_GE(histogram::highest_in(b), clamped);
  }
}

TEST(Histogram, EmptyReportsZeros) {
  const auto h = std::make_unique<histogram>();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->percentile(50), 0u);
  EXPECT_EQ(h->mean(), 0.0);
}

TEST(Histogram, PercentilesOfAUniformRangeAreWithinOnePercent) {
  const auto h = std::make_unique<histogram>();
  for (std::uint64_t us = 1; us <= 10000; ++us) h->record(us * 1000);  // 1 µs .. 10 ms
  EXPECT_EQ(h->count(), 10000u);
  EXPECT_EQ(h->min(), 1000u);
  EXPECT_EQ(h->max(), 10'000'000u);
  for (double p : {50.0, 75.0, 95.0, 99.0, 99.9}) {
    const double expected = p / 100.0 * 10'000'000.0;
    const auto got = static_cast<double>(h->percentile(p));
    EXPECT_GE(got, expected) << p;  // never below: a percentile reports its bucket's top
    EXPECT_LE(got, expected * 1.01) << p;
  }
  EXPECT_EQ(h->percentile(100), 10'000'000u);
  EXPECT_NEAR(h->mean(), 5'000'500.0, 1.0);
}

TEST(Histogram, PercentileNeverExceedsTheMaximum) {
  const auto h = std::make_unique<histogram>();
  h->record(1'000'001);
  EXPECT_EQ(h->percentile(50), 1'000'001u);
  EXPECT_EQ(h->percentile(99.9), 1'000'001u);
}

TEST(Histogram, ATailShowsInTheHighPercentilesOnly) {
  const auto h = std::make_unique<histogram>();
  for (int i = 0; i < 990; ++i) h->record(100'000);  // 100 µs
  for (int i = 0; i < 10; ++i) h->record(50'000'000);  // 50 ms
  EXPECT_LE(h->percentile(50), 100'800u);
  EXPECT_LE(h->percentile(99), 100'800u);
  EXPECT_GE(h->percentile(99.9), 50'000'000u);
  EXPECT_EQ(h->max(), 50'000'000u);
}

TEST(Histogram, ValuesPastTheRangeCountInTheLastBucketWithAnExactMax) {
  const auto h = std::make_unique<histogram>();
  const std::uint64_t huge = 1000 * histogram::max_trackable;
  h->record(huge);
  EXPECT_EQ(histogram::bucket_of(huge), histogram::bucket_count - 1);
  EXPECT_EQ(h->max(), huge);
  EXPECT_EQ(h->count(), 1u);
}

TEST(Histogram, AddMergesCountsAndExtremes) {
  const auto a = std::make_unique<histogram>();
  const auto b = std::make_unique<histogram>();
  a->record(5'000);
  a->record(7'000);
  b->record(1'000);
  b->record(9'000'000);
  a->add(*b);
  EXPECT_EQ(a->count(), 4u);
  EXPECT_EQ(a->min(), 1'000u);
  EXPECT_EQ(a->max(), 9'000'000u);
  EXPECT_NEAR(a->mean(), (5'000.0 + 7'000 + 1'000 + 9'000'000) / 4, 1e-6);
  const auto empty = std::make_unique<histogram>();
  a->add(*empty);
  EXPECT_EQ(a->count(), 4u);
  EXPECT_EQ(a->min(), 1'000u);
}

TEST(Histogram, ResetForgetsEverything) {
  const auto h = std::make_unique<histogram>();
  h->record(123'456);
  h->reset();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->percentile(99), 0u);
  h->record(10);
  EXPECT_EQ(h->min(), 10u);
  EXPECT_EQ(h->percentile(50), 10u);
}

}  // namespace
}  // namespace haremq::perf
