#include "net/io/input_buffer.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace haremq::io::detail {
namespace {

void write(input_buffer& in, std::string_view text) {
  const std::span<std::byte> room = in.room();
  ASSERT_GE(room.size(), text.size());
  std::memcpy(room.data(), text.data(), text.size());
  in.commit(text.size());
}

std::string_view view(const input_buffer& in) {
  const auto data = in.unconsumed();
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

TEST(InputBuffer, AllocatesItsInitialSizeOnFirstRoom) {
  input_buffer in(1024);
  EXPECT_EQ(in.capacity(), 0u);
  EXPECT_EQ(in.room().size(), 1024u);
  EXPECT_TRUE(in.empty());
}

TEST(InputBuffer, KeepsUnconsumedBytesInOrder) {
  input_buffer in(1024);
  write(in, "hello ");
  write(in, "world");
  EXPECT_EQ(view(in), "hello world");
  in.consume(6);
  EXPECT_EQ(view(in), "world");
}

TEST(InputBuffer, RewindsWhenEverythingIsConsumed) {
  input_buffer in(1024);
  write(in, "abc");
  in.consume(3);
  EXPECT_EQ(in.room().size(), 1024u);
}

TEST(InputBuffer, CompactsInsteadOfGrowingWhenTheFrontIsConsumed) {
  input_buffer in(1024);
  write(in, std::string(1000, 'x'));
  in.consume(990);  // 10 bytes left, 24 bytes of room at the back
  const std::span<std::byte> room = in.room();
  EXPECT_EQ(in.capacity(), 1024u);
  EXPECT_EQ(room.size(), 1024u - 10);
  EXPECT_EQ(view(in), std::string(10, 'x'));
}

TEST(InputBuffer, DoesNotCompactWhileHalfTheBufferIsFree) {
  input_buffer in(1024);
  write(in, std::string(100, 'x'));
  in.consume(50);
  EXPECT_EQ(in.room().size(), 1024u - 100);
  EXPECT_EQ(view(in), std::string(50, 'x'));
}

TEST(InputBuffer, GrowsOnlyWhenOneUnconsumedChunkFillsIt) {
  input_buffer in(1024);
  write(in, std::string(1024, 'a'));
  const std::span<std::byte> room = in.room();
  EXPECT_EQ(in.capacity(), 2048u);
  EXPECT_EQ(room.size(), 1024u);
  EXPECT_EQ(view(in), std::string(1024, 'a'));
}

TEST(InputBuffer, ResetGivesBackGrownMemory) {
  input_buffer in(1024);
  write(in, std::string(1024, 'a'));
  (void)in.room();
  in.reset();
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(in.capacity(), 0u);
  EXPECT_EQ(in.room().size(), 1024u);
}

TEST(InputBuffer, SteadyConsumptionNeverGrows) {
  input_buffer in(4096);
  // 7-byte frames read in 1000-byte pieces; whole frames consumed each time.
  std::size_t carried = 0;
  for (int round = 0; round < 1000; ++round) {
    write(in, std::string(std::min<std::size_t>(1000, in.room().size()), 'f'));
    const std::size_t size = in.unconsumed().size();
    in.consume(size - size % 7);
    carried = in.unconsumed().size();
  }
  EXPECT_LT(carried, 7u);
  EXPECT_EQ(in.capacity(), 4096u);
}

}  // namespace
}  // namespace haremq::io::detail
