// Covers: every field value type RabbitMQ reads and writes (t b B s u I i l f d D S x A T F V)
// written and read back; nesting to any depth; lookup; every malformed-table error.
// Not yet: RabbitMQ's deprecated 's'-as-short-string reading (RabbitMQ itself reads 's' as int16).
#include "net/amqp/field_table.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace haremq::amqp {
namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(FieldTable, RoundTripsEveryValueType) {
  std::array<std::byte, 1024> nested_buf{};
  byte_writer nested_out{nested_buf};
  table_writer inner{nested_out};
  inner.add("deep", field_value::string("yes"));
  const field_table inner_table = field_table::trusted(inner.finish());

  std::array<std::byte, 256> array_buf{};
  byte_writer array_out{array_buf};
  table_writer items{array_out, table_writer::kind::array};
  items.add({}, field_value::i32(1)).add({}, field_value::string("b")).add({}, field_value::boolean(true));
  const field_array array = field_array::trusted(items.finish());

  const std::array<std::byte, 3> raw{std::byte{0}, std::byte{0xFF}, std::byte{7}};
  const std::vector<std::pair<std::string, field_value>> values = {
      {"t", field_value::boolean(true)},
      {"b", field_value::i8(-5)},
      {"B", field_value::u8(250)},
      {"s", field_value::i16(-30000)},
      {"u", field_value::u16(60000)},
      {"I", field_value::i32(-2000000000)},
      {"i", field_value::u32(4000000000u)},
      {"l", field_value::i64(-9000000000000000000LL)},
      {"f", field_value::f32(1.5f)},
      {"d", field_value::f64(-2.25)},
      {"D", field_value::decimal({2, 31415})},
      {"S", field_value::string("long string")},
      {"x", field_value::byte_array(raw)},
      {"A", field_value::array(array)},
      {"T", field_value::timestamp(1700000000)},
      {"F", field_value::table(inner_table)},
      {"V", field_value::void_value()},
  };

  std::array<std::byte, 4096> buf{};
  byte_writer out{buf};
  table_writer table{out};
  for (const auto& [name, value] : values) table.add(name, value);
  const bytes_view content = table.finish();
  ASSERT_TRUE(out.ok());

  auto parsed = field_table::parse(content);
  ASSERT_TRUE(parsed) << parsed.error().message();
  std::size_t i = 0;
  for (const auto& entry : *parsed) {
    ASSERT_LT(i, values.size());
    EXPECT_EQ(entry.name, values[i].first);
    EXPECT_EQ(static_cast<char>(entry.value.type()), values[i].first[0]);
    EXPECT_EQ(entry.value, values[i].second) << "type " << values[i].first;
    ++i;
  }
  EXPECT_EQ(i, values.size());

  EXPECT_EQ(parsed->find("b")->as_int(), -5);
  EXPECT_EQ(parsed->find("l")->as_int(), -9000000000000000000LL);
  EXPECT_EQ(parsed->find("i")->as_int(), 4000000000LL);
  EXPECT_EQ(parsed->find("f")->as_f32(), 1.5f);
  EXPECT_EQ(parsed->find("d")->as_f64(), -2.25);
  EXPECT_EQ(parsed->find("D")->as_decimal(), (decimal_value{2, 31415}));
  EXPECT_EQ(parsed->find("T")->as_int(), 1700000000);
  EXPECT_EQ(parsed->find("F")->as_table().find("deep")->as_string(), "yes");
  EXPECT_EQ(parsed->find("A")->as_array().size(), 3u);
  EXPECT_FALSE(parsed->find("missing").has_value());

  // Re-encoding the decoded values gives the same bytes.
  std::array<std::byte, 4096> again_buf{};
  byte_writer again_out{again_buf};
  table_writer again{again_out};
  for (const auto& entry : *parsed) again.add(entry.name, entry.value);
  const bytes_view again_content = again.finish();
  EXPECT_EQ(as_chars(again_content), as_chars(content));
}

TEST(FieldTable, NestsToAnyDepthWithinTheBuffer) {
  // 5000 tables inside each other: far deeper than the validator's inline stack.
  constexpr int depth = 5000;
  std::vector<std::byte> buf(depth * 16 + 64);
  byte_writer out{buf};
  std::vector<table_writer> open;
  open.emplace_back(out);
  for (int i = 0; i < depth; ++i) open.push_back(open.back().nested("n", table_writer::kind::table));
  open.back().add("leaf", field_value::i32(42));
  bytes_view content;
  while (!open.empty()) {
    content = open.back().finish();
    open.pop_back();
  }
  ASSERT_TRUE(out.ok());
  auto parsed = field_table::parse(content);
  ASSERT_TRUE(parsed) << parsed.error().message();
  field_table t = *parsed;
  for (int i = 0; i < depth; ++i) t = t.find("n")->as_table();
  EXPECT_EQ(t.find("leaf")->as_int(), 42);
}

TEST(FieldTable, RejectsUnknownValueType) {
  const auto content = bytes_of({1, 'k', 'Z', 0});
  EXPECT_EQ(field_table::parse(content).error(), errc::bad_field_type);
}

TEST(FieldTable, RejectsNameLengthPastEnd) {
  const auto content = bytes_of({9, 'k'});
  EXPECT_EQ(field_table::parse(content).error(), errc::length_past_end);
}

TEST(FieldTable, RejectsStringLengthPastEnd) {
  const auto content = bytes_of({1, 'k', 'S', 0, 0, 0, 9, 'a'});
  EXPECT_EQ(field_table::parse(content).error(), errc::length_past_end);
}

TEST(FieldTable, RejectsFixedValueCutShort) {
  const auto content = bytes_of({1, 'k', 'I', 0, 0});
  EXPECT_EQ(field_table::parse(content).error(), errc::length_past_end);
}

TEST(FieldTable, RejectsNestedContentRunningPastItsContainer) {
  // An inner table of declared length 4 whose string claims 3 bytes at offset 3: it fits
  // the outer buffer but not the inner table.
  const auto content = bytes_of({1, 'o', 'F', 0, 0, 0, 4, 1, 'k', 'S', 0, 0, 0, 3, 'a', 'b', 'c'});
  EXPECT_EQ(field_table::parse(content).error(), errc::length_past_end);
}

TEST(FieldTable, RejectsBadTypeInsideAnArray) {
  const auto content = bytes_of({1, 'a', 'A', 0, 0, 0, 2, 'I', 0});
  EXPECT_EQ(field_table::parse(content).error(), errc::length_past_end);
  const auto bad_tag = bytes_of({1, 'a', 'A', 0, 0, 0, 1, '?'});
  EXPECT_EQ(field_table::parse(bad_tag).error(), errc::bad_field_type);
}

TEST(FieldTable, ReadTableLatchesErrorsInTheReader) {
  const auto data = bytes_of({0, 0, 0, 3, 1, 'k', '!'});
  byte_reader in{data};
  (void)read_table(in);
  EXPECT_EQ(in.error(), errc::bad_field_type);
}

TEST(FieldTable, EmptyTableIsValid) {
  auto parsed = field_table::parse({});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->empty());
  EXPECT_EQ(parsed->size(), 0u);
}

}  // namespace
}  // namespace haremq::amqp
