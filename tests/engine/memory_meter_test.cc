// Covers: the memory meter counts every message's allocation while it lives, also when it is
// made on one thread and freed on another, and keeps the count of threads that have ended.
#include "engine/memory_meter.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/message.h"

namespace haremq::engine {
namespace {

TEST(MemoryMeter, CountsAMessageWhileItLives) {
  const std::int64_t before = memory_meter::total();
  message* m = message::create("x", "key", {}, 1000);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(memory_meter::total() - before, static_cast<std::int64_t>(m->memory_size()));
  EXPECT_GE(m->memory_size(), 1004u);
  message_ref{m}.reset();
  EXPECT_EQ(memory_meter::total(), before);
}

TEST(MemoryMeter, MadeOnOneThreadFreedOnAnotherBalances) {
  const std::int64_t before = memory_meter::total();
  message* m = nullptr;
  std::thread maker([&] { m = message::create("", "q", {}, 4096); });
  maker.join();  // the maker has ended: its count is kept
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(memory_meter::total() - before, static_cast<std::int64_t>(m->memory_size()));
  std::thread freer([&] { message_ref{m}.reset(); });
  freer.join();
  EXPECT_EQ(memory_meter::total(), before);
}

}  // namespace
}  // namespace haremq::engine
