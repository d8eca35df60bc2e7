// Covers: splitting frames of every type, "need more" with nothing consumed for every
// prefix, frame-max enforcement on the header alone, the frame-end octet, unknown frame
// types, heartbeat and body frames, the protocol header.
#include "net/amqp/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "net/amqp/method_codec.h"
#include "tests/support/frame_feeder.h"

namespace haremq::amqp {
namespace {

std::vector<std::byte> raw_frame(std::uint8_t type, std::uint16_t channel, std::vector<std::uint8_t> payload,
                                 std::uint8_t end = frame_end) {
  std::vector<std::byte> out{std::byte{type}, std::byte(channel >> 8), std::byte(channel & 0xFF)};
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::byte((n >> shift) & 0xFF));
  for (auto b : payload) out.push_back(std::byte{b});
  out.push_back(std::byte{end});
  return out;
}

TEST(FrameReader, SplitsAMethodFrame) {
  const auto bytes = raw_frame(1, 5, {0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 9, 1});
  const auto r = parse_frame(bytes, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::frame);
  EXPECT_EQ(r.parsed.type, frame_type::method);
  EXPECT_EQ(r.parsed.channel, 5);
  EXPECT_EQ(r.parsed.payload.size(), 13u);
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.parsed.payload.data(), bytes.data() + frame_header_size);  // a view, not a copy
}

TEST(FrameReader, EveryPrefixNeedsMoreAndConsumesNothing) {
  const auto bytes = raw_frame(3, 1, {'h', 'e', 'l', 'l', 'o'});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const auto r = parse_frame(bytes_view{bytes}.first(n), default_frame_max);
    EXPECT_EQ(r.outcome, frame_parse::status::need_more) << "prefix " << n;
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(FrameReader, TakesOnlyTheFirstOfSeveralFrames) {
  auto stream = raw_frame(8, 0, {});
  const auto second = raw_frame(3, 2, {'x'});
  stream.insert(stream.end(), second.begin(), second.end());
  const auto r = parse_frame(stream, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::frame);
  EXPECT_EQ(r.parsed.type, frame_type::heartbeat);
  EXPECT_EQ(r.consumed, 8u);
}

TEST(FrameReader, RejectsBadFrameEndWithWhatWasFound) {
  // The bytes of the badframes scenario: channel.open's 4 octets, then 0x00 for 0xCE.
  const auto bytes = raw_frame(1, 0, {0, 20, 0, 10}, 0x00);
  const auto r = parse_frame(bytes, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::error);
  EXPECT_EQ(r.error, errc::bad_frame_end);
  EXPECT_EQ(r.found_end, 0);
  EXPECT_EQ(r.raw_type, 1);
  EXPECT_EQ(r.payload_seen.size(), 4u);
  EXPECT_EQ(reply_code_of(r.error), reply_code::frame_error);
}

TEST(FrameReader, RejectsUnknownFrameType) {
  for (int t : {0, 4, 7, 9, 255}) {
    const auto type = static_cast<std::uint8_t>(t);
    const auto bytes = raw_frame(type, 0, {});
    const auto r = parse_frame(bytes, default_frame_max);
    ASSERT_EQ(r.outcome, frame_parse::status::error) << int{type};
    EXPECT_EQ(r.error, errc::unknown_frame_type);
    EXPECT_EQ(r.raw_type, type);
  }
}

TEST(FrameReader, RejectsFrameAboveNegotiatedMaxOnTheHeaderAlone) {
  // Only the 7-byte header of a 10 MB frame: refused at once, before its payload arrives.
  std::vector<std::byte> header{std::byte{1}, std::byte{0}, std::byte{1}, std::byte{0x00},
                                std::byte{0x98}, std::byte{0x96}, std::byte{0x80}};
  const auto r = parse_frame(header, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::error);
  EXPECT_EQ(r.error, errc::frame_too_large);
  EXPECT_EQ(r.declared_size, 10'000'000u);
  EXPECT_EQ(max_payload(default_frame_max), 131064u);
}

TEST(FrameReader, AcceptsFrameExactlyAtFrameMax) {
  const std::uint32_t frame_max = frame_min_size;
  const auto bytes = raw_frame(3, 1, std::vector<std::uint8_t>(frame_max - frame_overhead, 'x'));
  EXPECT_EQ(parse_frame(bytes, frame_max).outcome, frame_parse::status::frame);
  const auto over = raw_frame(3, 1, std::vector<std::uint8_t>(frame_max - frame_overhead + 1, 'x'));
  EXPECT_EQ(parse_frame(over, frame_max).error, errc::frame_too_large);
  EXPECT_EQ(parse_frame(over, 0).outcome, frame_parse::status::frame);  // 0: no limit
}

TEST(FrameWriter, WritesHeartbeatAndBodyFramesThatParseBack) {
  std::array<std::byte, 64> buf{};
  byte_writer out{buf};
  write_heartbeat_frame(out);
  const std::array<std::byte, 3> body{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  write_body_frame(out, 9, body);
  ASSERT_TRUE(out.ok());
  const auto fed = test::feed_whole({out.written().begin(), out.written().end()}, default_frame_max);
  ASSERT_EQ(fed.frames.size(), 2u);
  EXPECT_EQ(fed.frames[0].type, frame_type::heartbeat);
  EXPECT_EQ(fed.frames[0].wire, raw_frame(8, 0, {}));
  EXPECT_EQ(fed.frames[1].type, frame_type::body);
  EXPECT_EQ(fed.frames[1].wire, raw_frame(3, 9, {'a', 'b', 'c'}));
}

TEST(ProtocolHeader, AcceptsAmqp091) {
  EXPECT_EQ(check_protocol_header(protocol_header), header_check::ok);
  EXPECT_EQ(check_protocol_header(bytes_view{protocol_header}.first(5)), header_check::need_more);
  EXPECT_EQ(check_protocol_header({}), header_check::need_more);
}

TEST(ProtocolHeader, RejectsOtherProtocolsAndVersions) {
  const std::string_view http = "HTTP/1.1 GET /\r\n\r\n";
  EXPECT_EQ(check_protocol_header(as_bytes(http)), header_check::bad);
  const std::array<std::byte, 8> amqp010{std::byte{'A'}, std::byte{'M'}, std::byte{'Q'}, std::byte{'P'},
                                         std::byte{1},   std::byte{1},   std::byte{0},   std::byte{10}};
  EXPECT_EQ(check_protocol_header(amqp010), header_check::bad);
  EXPECT_EQ(check_protocol_header(bytes_view{amqp010}.first(5)), header_check::bad);  // known bad early
}

}  // namespace
}  // namespace haremq::amqp
