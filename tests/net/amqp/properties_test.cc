// Covers: content headers with each of the 14 basic properties alone and all together,
// undefined flag bits, truncation, trailing bytes, and body splitting at frame-max.
#include "net/amqp/properties.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "tests/support/frame_feeder.h"

namespace haremq::amqp {
namespace {

basic_properties every_property(field_table headers) {
  basic_properties p;
  p.content_type = "text/plain";
  p.content_encoding = "gzip";
  p.headers = headers;
  p.delivery_mode = 2;
  p.priority = 7;
  p.correlation_id = "corr";
  p.reply_to = "replies";
  p.expiration = "60000";
  p.message_id = "m1";
  p.timestamp = 1700000000;
  p.type = "kind";
  p.user_id = "guest";
  p.app_id = "app";
  p.cluster_id = "c";
  return p;
}

constexpr std::array<property, 14> all_properties{
    property::content_type, property::content_encoding, property::headers,  property::delivery_mode,
    property::priority,     property::correlation_id,   property::reply_to, property::expiration,
    property::message_id,   property::timestamp,        property::type,     property::user_id,
    property::app_id,       property::cluster_id};

class ContentHeader : public ::testing::Test {
 protected:
  void SetUp() override {
    byte_writer out{_table_buf};
    table_writer t{out};
    t.add("x-trace", field_value::string("abc")).add("n", field_value::i32(42));
    _headers = field_table::trusted(t.finish());
  }

  // Encodes, parses and decodes back; returns the decoded header and checks re-encoding.
  content_header round_trip(const content_header& h) {
    std::array<std::byte, 1024> buf{};
    byte_writer out{buf};
    write_content_header_frame(out, 3, h);
    EXPECT_TRUE(out.ok());
    const auto r = parse_frame(out.written(), default_frame_max);
    EXPECT_EQ(r.outcome, frame_parse::status::frame);
    EXPECT_EQ(r.parsed.type, frame_type::header);
    auto decoded = decode_content_header(r.parsed.payload);
    EXPECT_TRUE(decoded) << decoded.error().message();
    std::array<std::byte, 1024> again_buf{};
    byte_writer again{again_buf};
    write_content_header_frame(again, 3, *decoded);
    EXPECT_EQ(as_chars(again.written()), as_chars(out.written()));
    _kept.assign(out.written().begin(), out.written().end());  // decoded views these bytes
    auto kept = decode_content_header(parse_frame(_kept, default_frame_max).parsed.payload);
    return *kept;
  }

  std::array<std::byte, 128> _table_buf{};
  field_table _headers;
  std::vector<std::byte> _kept;
};

TEST_F(ContentHeader, RoundTripsAllFourteenProperties) {
  content_header h;
  h.body_size = 12;
  h.properties = every_property(_headers);
  for (auto p : all_properties) h.properties.set(p);
  EXPECT_EQ(h.properties.flags, 0xFFFC);
  const auto back = round_trip(h);
  EXPECT_EQ(back.class_id, 60);
  EXPECT_EQ(back.body_size, 12u);
  const auto& p = back.properties;
  EXPECT_EQ(p.content_type, "text/plain");
  EXPECT_EQ(p.content_encoding, "gzip");
  EXPECT_EQ(p.headers.find("n")->as_int(), 42);
  EXPECT_EQ(p.delivery_mode, 2);
  EXPECT_EQ(p.priority, 7);
  EXPECT_EQ(p.correlation_id, "corr");
  EXPECT_EQ(p.reply_to, "replies");
  EXPECT_EQ(p.expiration, "60000");
  EXPECT_EQ(p.message_id, "m1");
  EXPECT_EQ(p.timestamp, 1700000000u);
  EXPECT_EQ(p.type, "kind");
  EXPECT_EQ(p.user_id, "guest");
  EXPECT_EQ(p.app_id, "app");
  EXPECT_EQ(p.cluster_id, "c");
}

TEST_F(ContentHeader, EachPropertyAloneRoundTripsAndOthersStayAbsent) {
  for (auto only : all_properties) {
    content_header h;
    h.body_size = 1;
    h.properties = every_property(_headers);
    h.properties.flags = 0;
    h.properties.set(only);
    const auto back = round_trip(h);
    EXPECT_EQ(back.properties.flags, static_cast<std::uint16_t>(only));
    for (auto other : all_properties) EXPECT_EQ(back.properties.has(other), other == only);
  }
}

TEST(ContentHeaderErrors, RejectsUndefinedFlagBits) {
  for (int bit : {0x0001, 0x0002}) {
    const auto flags = static_cast<std::uint16_t>(bit);
    std::array<std::byte, 14> payload{};
    byte_writer out{payload};
    out.u16(60);
    out.u16(0);
    out.u64(0);
    out.u16(flags);
    EXPECT_EQ(decode_content_header(payload).error(), errc::bad_property_flags);
  }
}

TEST(ContentHeaderErrors, RejectsTruncatedPropertiesAndTrailingBytes) {
  std::array<std::byte, 32> payload{};
  byte_writer out{payload};
  out.u16(60);
  out.u16(0);
  out.u64(5);
  out.u16(static_cast<std::uint16_t>(property::content_type));
  out.short_string("text/plain");
  const auto whole = out.written();
  EXPECT_TRUE(decode_content_header(whole));
  for (std::size_t n = 0; n < whole.size(); ++n) EXPECT_FALSE(decode_content_header(whole.first(n))) << n;
  out.u8(0);
  EXPECT_EQ(decode_content_header(out.written()).error(), errc::trailing_bytes);
}

TEST(ContentFrames, SplitsTheBodyAtFrameMax) {
  const std::uint32_t frame_max = frame_min_size;
  std::vector<std::byte> body(10000);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::byte>(i * 7);
  std::vector<std::byte> buf(20000);
  byte_writer out{buf};
  basic_properties p;
  p.delivery_mode = 1;
  p.set(property::delivery_mode);
  write_content_frames(out, 4, p, body, frame_max);
  ASSERT_TRUE(out.ok());
  const auto fed = test::feed_whole({out.written().begin(), out.written().end()}, frame_max);
  ASSERT_EQ(fed.frames.size(), 4u);  // header + 4088 + 4088 + 1824
  EXPECT_EQ(fed.frames[0].type, frame_type::header);
  EXPECT_EQ(decode_content_header(fed.frames[0].payload)->body_size, 10000u);
  std::vector<std::byte> joined;
  for (std::size_t i = 1; i < fed.frames.size(); ++i) {
    EXPECT_EQ(fed.frames[i].type, frame_type::body);
    EXPECT_LE(fed.frames[i].wire.size(), frame_max);
    joined.insert(joined.end(), fed.frames[i].payload.begin(), fed.frames[i].payload.end());
  }
  EXPECT_EQ(joined, body);
}

TEST(ContentFrames, EmptyBodyIsAHeaderAlone) {
  std::array<std::byte, 64> buf{};
  byte_writer out{buf};
  write_content_frames(out, 1, basic_properties{}, {}, default_frame_max);
  const auto fed = test::feed_whole({out.written().begin(), out.written().end()}, default_frame_max);
  ASSERT_EQ(fed.frames.size(), 1u);
  EXPECT_EQ(fed.frames[0].type, frame_type::header);
}

}  // namespace
}  // namespace haremq::amqp
