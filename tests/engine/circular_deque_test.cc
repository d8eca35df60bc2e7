// Covers: both ends, wrapping, growth and shrinking keep order, insert on either half,
// erase_if, random-access and reverse iteration, move-only elements released (ASan finds
// leaks), a long random run against std::deque.
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

TEST(CircularDeque, PushesAndPopsAtBothEnds) {
  circular_deque<int> d;
  EXPECT_TRUE(d.empty());
  d.push_back(2);
  d.push_back(3);
  d.push_front(1);
  d.push_front(0);
  EXPECT_EQ(values(d), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(d.front(), 0);
  EXPECT_EQ(d.back(), 3);
  d.pop_front();
  d.pop_back();
  EXPECT_EQ(values(d), (std::vector<int>{1, 2}));
  EXPECT_EQ(d[1], 2);
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

TEST(CircularDeque, InsertsBeforeAPositionOnEitherHalf) {
  circular_deque<int> d;
  for (int i : {0, 10, 20, 30, 40, 50, 60}) d.push_back(i);
  auto near_back = std::lower_bound(d.begin(), d.end(), 45);
  EXPECT_EQ(*d.insert(near_back, 45), 45);
  auto near_front = std::lower_bound(d.begin(), d.end(), 5);
  EXPECT_EQ(*d.insert(near_front, 5), 5);
  d.insert(d.end(), 70);
  d.insert(d.begin(), -10);
  EXPECT_EQ(values(d), (std::vector<int>{-10, 0, 5, 10, 20, 30, 40, 45, 50, 60, 70}));
}

TEST(CircularDeque, ErasesWhatThePredicateHoldsForInOrder) {
  circular_deque<int> d;
  for (int i = 0; i < 20; ++i) d.push_front(i);  // wrapped from the start
  EXPECT_EQ(erase_if(d, [](int x) { return x % 3 != 0; }), 13u);
  EXPECT_EQ(values(d), (std::vector<int>{18, 15, 12, 9, 6, 3, 0}));
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
  d.push_front(std::make_unique<int>(-1));
  EXPECT_EQ(values(d), (std::vector<int>{-1, 290, 291, 292, 293, 294, 295, 296, 297, 298, 299}));
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
    const int op = static_cast<int>(random() % 10);
    if (draining && op < 6 && !reference.empty()) {
      d.pop_front();
      reference.pop_front();
      continue;
    }
    if (op < 4) {
      d.push_back(step);
      reference.push_back(step);
    } else if (op < 6) {
      d.push_front(step);
      reference.push_front(step);
    } else if (op < 8 && !reference.empty()) {
      d.pop_front();
      reference.pop_front();
    } else if (op < 9 && !reference.empty()) {
      d.pop_back();
      reference.pop_back();
    } else if (!reference.empty()) {
      const std::size_t at = random() % (reference.size() + 1);
      d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), -step);
      reference.insert(reference.begin() + static_cast<std::ptrdiff_t>(at), -step);
    }
    ASSERT_EQ(d.size(), reference.size());
    if (!reference.empty()) {
      ASSERT_EQ(d.front(), reference.front());
      ASSERT_EQ(d.back(), reference.back());
    }
  }
  EXPECT_TRUE(std::equal(d.begin(), d.end(), reference.begin(), reference.end()));
}

}  // namespace
}  // namespace haremq::engine
