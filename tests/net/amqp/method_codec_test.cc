// Covers: every method of connection, channel, exchange, queue, basic, confirm and tx
// (with RabbitMQ's extensions) encoded and decoded back with non-default values in every
// field; bit packing; unknown class and method; truncated arguments, bad tables and
// trailing bytes; names and ids.
#include "net/amqp/method_codec.h"

#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <string>
#include <vector>

#include "tests/support/frame_feeder.h"

namespace haremq::amqp {
namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

// Fills every field of a method with a distinct, non-default value: integers count up,
// bits alternate, strings are named after their position, tables hold one entry.
class field_filler {
 public:
  explicit field_filler(field_table table) : _table(table) {}
  void operator()(bool& v) { v = (_n++ % 2) == 0; }
  void operator()(std::string_view& v) { v = keep("short-" + std::to_string(_n++)); }
  void operator()(long_string& v) { v.value = keep("long-" + std::to_string(_n++)); }
  void operator()(field_table& v) { v = _table; }
  template <class Integer>
  void operator()(Integer& v) {
    v = static_cast<Integer>(0x0102030405060708ULL + 0x11 * _n++);
  }

 private:
  std::string_view keep(std::string s) { return _strings.emplace_back(std::move(s)); }
  field_table _table;
  std::deque<std::string> _strings;  // a deque never moves what it holds: the views stay valid
  int _n = 1;
};

class MethodRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    byte_writer out{_table_buf};
    table_writer t{out};
    t.add("x-max-length", field_value::i32(10));
    _table = field_table::trusted(t.finish());
  }

  template <class M>
  void check() {
    SCOPED_TRACE(std::string(M::name));
    field_filler fill(_table);
    M original{};
    std::apply([&](auto&... f) { (fill(f), ...); }, original.fields());

    std::array<std::byte, 4096> buf{};
    byte_writer out{buf};
    write_method_frame(out, 42, original);
    ASSERT_TRUE(out.ok());

    const auto r = parse_frame(out.written(), default_frame_max);
    ASSERT_EQ(r.outcome, frame_parse::status::frame);
    EXPECT_EQ(r.consumed, out.position());
    EXPECT_EQ(r.parsed.type, frame_type::method);
    EXPECT_EQ(r.parsed.channel, 42);
    EXPECT_EQ(peek_method_id(r.parsed.payload), M::id);

    auto decoded = decode_method(r.parsed.payload);
    ASSERT_TRUE(decoded) << decoded.error().message();
    ASSERT_TRUE(std::holds_alternative<M>(*decoded));
    const M& back = std::get<M>(*decoded);
    EXPECT_TRUE(back.fields() == original.fields());
    EXPECT_EQ(id_of(*decoded), M::id);
    EXPECT_EQ(name_of(*decoded), M::name);
    EXPECT_EQ(name_of(M::id), M::name);
    EXPECT_EQ(has_content(*decoded), M::has_content);

    // Re-encoding the decoded method (through the variant) gives the same bytes.
    std::array<std::byte, 4096> again_buf{};
    byte_writer again{again_buf};
    write_method_frame(again, 42, *decoded);
    EXPECT_EQ(as_chars(again.written()), as_chars(out.written()));

    // Every truncation of the arguments is an error, never a crash or a partial method.
    for (std::size_t n = 4; n < r.parsed.payload.size(); ++n) {
      auto cut = decode_method(r.parsed.payload.first(n));
      EXPECT_FALSE(cut) << "cut at " << n;
    }
    ++_checked;
  }

  template <std::size_t... I>
  void check_all(std::index_sequence<I...>) {
    (check<std::variant_alternative_t<I, method>>(), ...);
  }

  std::array<std::byte, 64> _table_buf{};
  field_table _table;
  std::size_t _checked = 0;
};

TEST_F(MethodRoundTrip, EveryMethodEncodesAndDecodesBack) {
  check_all(std::make_index_sequence<method_count>{});
  EXPECT_EQ(_checked, 64u);  // 14 connection, 6 channel, 8 exchange, 10 queue, 18 basic, 2 confirm, 6 tx
}

TEST(MethodCodec, PacksConsecutiveBitsLowestFirst) {
  queue_declare m;
  m.queue = "q";
  m.passive = false;
  m.durable = true;
  m.exclusive = false;
  m.auto_delete = true;
  m.no_wait = true;
  std::array<std::byte, 64> buf{};
  byte_writer out{buf};
  write_method_frame(out, 1, m);
  // header(7) class+method(4) ticket(2) "q"(2) bits(1) table-length(4) end(1)
  ASSERT_EQ(out.position(), 21u);
  EXPECT_EQ(std::to_integer<int>(buf[15]), 0b11010);
}

TEST(MethodCodec, UnknownClassIsCommandInvalid) {
  const auto payload = bytes_of({0, 30, 0, 10});  // class 30 (access) is not in 0-9-1 as RabbitMQ speaks it
  EXPECT_EQ(decode_method(payload).error(), errc::unknown_class);
  EXPECT_EQ(reply_code_of(errc::unknown_class), reply_code::command_invalid);
}

TEST(MethodCodec, UnknownMethodIsCommandInvalid) {
  const auto payload = bytes_of({0, 10, 0, 99});  // connection method 99, as in the badframes capture
  EXPECT_EQ(decode_method(payload).error(), errc::unknown_method);
  EXPECT_EQ(reply_code_of(errc::unknown_method), reply_code::command_invalid);
  EXPECT_EQ(name_of(method_id{10, 99}), "");
}

TEST(MethodCodec, PayloadShorterThanIdsIsTruncated) {
  EXPECT_EQ(decode_method(bytes_of({0, 10})).error(), errc::truncated);
}

TEST(MethodCodec, TruncatedArgumentsAreAFrameError) {
  // queue.declare whose arguments stop after the ticket and an empty name (the badframes
  // capture's "cannot decode <<0,0,0,0>>").
  const auto payload = bytes_of({0, 50, 0, 10, 0, 0, 0, 0});
  const auto r = decode_method(payload);
  EXPECT_EQ(r.error(), errc::truncated);
  EXPECT_EQ(reply_code_of(errc::truncated), reply_code::frame_error);
}

TEST(MethodCodec, TrailingBytesAreRejected) {
  const auto payload = bytes_of({0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xFF});
  EXPECT_EQ(decode_method(payload).error(), errc::trailing_bytes);
}

TEST(MethodCodec, BadTableInArgumentsIsRejected) {
  // exchange.declare with an argument table holding an unknown value type.
  const auto payload = bytes_of({0, 40, 0, 10, 0, 0, 1, 'e', 6, 'd', 'i', 'r', 'e', 'c', 't', 0,
                                 0, 0, 0, 4, 1, 'k', 'Q', 0});
  EXPECT_EQ(decode_method(payload).error(), errc::bad_field_type);
  const auto past_end = bytes_of({0, 40, 0, 10, 0, 0, 1, 'e', 6, 'd', 'i', 'r', 'e', 'c', 't', 0,
                                  0, 0, 0, 9, 1, 'k', 'V'});
  EXPECT_EQ(decode_method(past_end).error(), errc::length_past_end);
}

TEST(MethodCodec, ShortStringLengthPastEndIsRejected) {
  const auto payload = bytes_of({0, 60, 0, 40, 0, 0, 200, 'a'});
  EXPECT_EQ(decode_method(payload).error(), errc::length_past_end);
}

TEST(MethodCodec, DecodedStringsViewThePayload) {
  const auto payload = bytes_of({0, 60, 0, 40, 0, 0, 2, 'e', 'x', 3, 'k', 'e', 'y', 0b01});
  auto r = decode_method(payload);
  ASSERT_TRUE(r);
  const auto& publish = std::get<basic_publish>(*r);
  EXPECT_EQ(publish.exchange, "ex");
  EXPECT_EQ(publish.routing_key, "key");
  EXPECT_TRUE(publish.mandatory);
  EXPECT_FALSE(publish.immediate);
  EXPECT_EQ(static_cast<const void*>(publish.routing_key.data()), static_cast<const void*>(payload.data() + 10));
}

}  // namespace
}  // namespace haremq::amqp
