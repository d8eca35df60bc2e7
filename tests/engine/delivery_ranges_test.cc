// Covers: delivery ranges keep runs of consecutive numbers (a multi-ack is one run), spill
// past two runs, and give every delivery back newest first, gaps and all.
#include "engine/delivery_ranges.h"

#include <gtest/gtest.h>

#include <vector>

namespace haremq::engine {
namespace {

std::vector<std::uint64_t> newest_first(const delivery_ranges& r) {
  std::vector<std::uint64_t> out;
  r.for_each_newest_first([&](std::uint64_t d) { out.push_back(d); });
  return out;
}

TEST(DeliveryRanges, ARunOfConsecutiveDeliveries) {
  delivery_ranges r;
  EXPECT_TRUE(r.empty());
  for (std::uint64_t d = 10; d <= 14; ++d) r.add(d);
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(newest_first(r), (std::vector<std::uint64_t>{14, 13, 12, 11, 10}));
}

TEST(DeliveryRanges, GapsStartNewRunsAndManyRunsSpill) {
  delivery_ranges r;
  for (const std::uint64_t d : {1, 2, 4, 7, 8, 9, 20, 22}) r.add(d);
  EXPECT_EQ(newest_first(r), (std::vector<std::uint64_t>{22, 20, 9, 8, 7, 4, 2, 1}));
  r.clear();
  EXPECT_TRUE(r.empty());
  r.add(5);
  EXPECT_EQ(newest_first(r), (std::vector<std::uint64_t>{5}));
}

TEST(DeliveryRanges, OutOfOrderDeliveriesAreKeptAsGiven) {
  const delivery_ranges r{5, 1, 3};
  EXPECT_EQ(newest_first(r), (std::vector<std::uint64_t>{3, 1, 5}));
}

TEST(DeliveryRanges, DeliveryNumberZeroAndTheLargestWork) {
  delivery_ranges r{0, 1, UINT64_MAX};
  EXPECT_EQ(newest_first(r), (std::vector<std::uint64_t>{UINT64_MAX, 1, 0}));
}

}  // namespace
}  // namespace haremq::engine
