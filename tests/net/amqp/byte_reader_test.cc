// Covers: big-endian reads and writes, strings, latched errors on truncation, length past
// end and buffer overflow, patching a length.
#include "net/amqp/byte_reader.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "net/amqp/byte_writer.h"

namespace haremq::amqp {
namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(ByteReader, ReadsBigEndianIntegers) {
  const auto data = bytes_of({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f});
  byte_reader in{data};
  EXPECT_EQ(in.u8(), 0x01);
  EXPECT_EQ(in.u16(), 0x0203);
  EXPECT_EQ(in.u32(), 0x04050607u);
  EXPECT_EQ(in.u64(), 0x08090a0b0c0d0e0full);
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(ByteReader, ReadsShortAndLongStringsAsViews) {
  const auto data = bytes_of({3, 'a', 'b', 'c', 0, 0, 0, 2, 'x', 'y'});
  byte_reader in{data};
  const auto s = in.short_string();
  EXPECT_EQ(s, "abc");
  EXPECT_EQ(static_cast<const void*>(s.data()), static_cast<const void*>(data.data() + 1));
  EXPECT_EQ(in.long_string(), "xy");
  EXPECT_TRUE(in.ok());
}

TEST(ByteReader, TruncatedIntegerLatchesTruncated) {
  const auto data = bytes_of({0x01, 0x02, 0x03});
  byte_reader in{data};
  EXPECT_EQ(in.u32(), 0u);
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.error(), errc::truncated);
  EXPECT_EQ(in.u8(), 0);  // nothing more is read after an error
  EXPECT_EQ(in.error(), errc::truncated);
}

TEST(ByteReader, StringLengthPastEndIsLengthPastEnd) {
  const auto data = bytes_of({5, 'a', 'b'});
  byte_reader in{data};
  EXPECT_TRUE(in.short_string().empty());
  EXPECT_EQ(in.error(), errc::length_past_end);
}

TEST(ByteWriter, WritesBigEndianAndStrings) {
  std::array<std::byte, 32> buf{};
  byte_writer out{buf};
  out.u8(1);
  out.u16(0x0203);
  out.u32(0x04050607);
  out.u64(0x08090a0b0c0d0e0f);
  out.short_string("hi");
  ASSERT_TRUE(out.ok());
  byte_reader in{out.written()};
  EXPECT_EQ(in.u8(), 1);
  EXPECT_EQ(in.u16(), 0x0203);
  EXPECT_EQ(in.u32(), 0x04050607u);
  EXPECT_EQ(in.u64(), 0x08090a0b0c0d0e0full);
  EXPECT_EQ(in.short_string(), "hi");
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(ByteWriter, OverflowLatchesBufferTooSmallAndStopsWriting) {
  std::array<std::byte, 3> buf{};
  byte_writer out{buf};
  out.u16(7);
  out.u16(8);
  EXPECT_EQ(out.error(), errc::buffer_too_small);
  EXPECT_EQ(out.position(), 2u);
}

TEST(ByteWriter, RefusesShortStringOver255Bytes) {
  std::array<std::byte, 512> buf{};
  byte_writer out{buf};
  out.short_string(std::string(256, 'x'));
  EXPECT_EQ(out.error(), errc::value_too_long);
}

TEST(ByteWriter, PatchesALengthWrittenEarlier) {
  std::array<std::byte, 16> buf{};
  byte_writer out{buf};
  out.u32(0);
  out.u16(0xBEEF);
  out.patch_u32(0, 0x11223344);
  byte_reader in{out.written()};
  EXPECT_EQ(in.u32(), 0x11223344u);
  EXPECT_EQ(in.u16(), 0xBEEF);
}

}  // namespace
}  // namespace haremq::amqp
