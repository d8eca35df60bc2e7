// Covers: FIFO order, wrapping, growth and shrinking keep order, indexing, random-access and
// reverse iteration, move-only elements released (ASan finds leaks), a long random run
// against std::deque.
#include "engine/circular_deque.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <vector>

namespace haremq::engine {
namespace {

template <class T>
std::vector<int> values(const circular_deque<T>& d) {
  std::vector<int> v;
  for (const auto& x : d) {
    if constexpr (std::is_same_v<T, int>) {
      v.push_back(x);
    } else {
      v.push_back(*x);
    }
  }
  return v;
}

TEST(CircularDeque, PopsInTheOrderPushed) {
  circular_deque<int> d;
  EXPECT_TRUE(d.empty());
  for (int i = 0; i < 4; ++i) d.push_back(i);
  EXPECT_EQ(values(d), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(d.front(), 0);
  d.pop_front();
  EXPECT_EQ(d.front(), 1);
  EXPECT_EQ(d[2], 3);
  EXPECT_EQ(d.size(), 3u);
}

TEST(CircularDeque, KeepsOrderAcrossWrapAndGrowth) {
  circular_deque<int> d;
  // Walk the head around the first block, then grow while wrapped.
  for (int i = 0; i < 10; ++i) d.push_back(i);
  for (int i = 0; i < 8; ++i) d.pop_front();
  for (int i = 10; i < 100; ++i) d.push_back(i);
  std::vector<int> expected;
  for (int i = 8; i < 100; ++i) expected.push_back(i);
  EXPECT_EQ(values(d), expected);
  EXPECT_GE(d.capacity(), 92u);
}

TEST(CircularDeque, GivesMemoryBackOnceDrainedButKeepsASmallBlock) {
  circular_deque<int> d;
  for (int i = 0; i < 100000; ++i) d.push_back(i);
  const std::size_t full = d.capacity();
  while (d.size() > 10) d.pop_front();
  EXPECT_LT(d.capacity(), full / 64);
  EXPECT_GE(d.capacity(), circular_deque<int>::kept_capacity);
  EXPECT_EQ(values(d), (std::vector<int>{99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999}));
  // A block of kept_capacity stays however often it fills and drains.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 200; ++i) d.push_back(i);
    while (!d.empty()) d.pop_front();
    EXPECT_EQ(d.capacity(), circular_deque<int>::kept_capacity);
  }
}

TEST(CircularDeque, IteratesBackwards) {
  circular_deque<int> d;
  for (int i = 0; i < 5; ++i) d.push_back(i);
  std::vector<int> seen(d.rbegin(), d.rend());
  EXPECT_EQ(seen, (std::vector<int>{4, 3, 2, 1, 0}));
  const auto& c = d;
  EXPECT_EQ(c.end() - c.begin(), 5);
  EXPECT_EQ(*(c.begin() + 2), 2);
}

TEST(CircularDeque, MovesAndReleasesMoveOnlyElements) {
  circular_deque<std::unique_ptr<int>> d;
  for (int i = 0; i < 300; ++i) d.push_back(std::make_unique<int>(i));
  for (int i = 0; i < 290; ++i) d.pop_front();  // shrinks: the rest move
  d.push_back(std::make_unique<int>(-1));
  EXPECT_EQ(values(d), (std::vector<int>{290, 291, 292, 293, 294, 295, 296, 297, 298, 299, -1}));
  circular_deque<std::unique_ptr<int>> other = std::move(d);
  EXPECT_TRUE(d.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(other.size(), 11u);
  other.clear();
  EXPECT_TRUE(other.empty());
  other.push_back(std::make_unique<int>(7));  // usable after clear; released by the destructor
  EXPECT_EQ(*other.front(), 7);
}

TEST(CircularDeque, MatchesStdDequeOverARandomRun) {
  std::mt19937 random(12345);
  circular_deque<int> d;
  std::deque<int> reference;
  for (int step = 0; step < 40000; ++step) {
    // Phases of growing and of draining, so that the block grows and shrinks while wrapped.
    const bool draining = (step / 5000) % 2 == 1;
    const bool pop = !reference.empty() && random() % 10 < (draining ? 8u : 3u);
    if (pop) {
      d.pop_front();
      reference.pop_front();
    } else {
      d.push_back(step);
      reference.push_back(step);
    }
    ASSERT_EQ(d.size(), reference.size());
    if (!reference.empty()) {
      ASSERT_EQ(d.front(), reference.front());
      ASSERT_EQ(d[reference.size() - 1], reference.back());
    }
  }
  EXPECT_TRUE(std::equal(d.begin(), d.end(), reference.begin(), reference.end()));
}

}  // namespace
}  // namespace haremq::engine
