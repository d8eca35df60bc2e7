// Covers: the headers exchange's matching as RabbitMQ 3.10 does it — every case marked
// "observed" was run against RabbitMQ 3.10.8 with pika (raw field values, one queue bound to
// a headers exchange, one publish): x-match all/any/all-with-x/any-with-x, x- arguments,
// void arguments, how values of different field types compare (integers of any width,
// integers against floats, 'S' against 'x', booleans, decimals, nested tables and arrays),
// duplicate names, and which x-match values RabbitMQ refuses.
// Not yet: NaN and infinite floats (RabbitMQ cannot decode them at all).
#include "engine/headers_match.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "tests/engine/routing_tables.h"

namespace haremq::engine {
namespace {

using amqp::field_value;
using namespace routing_test;

bool matches(const owned_table& arguments, const owned_table& headers) {
  return headers_match(arguments.view(), headers.view());
}

// One binding argument "k" against one header "k" with x-match all.
bool value_matches(const field_value& bound, const field_value& header) {
  return matches(make_table({{"k", bound}}), make_table({{"k", header}}));
}

TEST(HeadersMatch, IntegersOfAnyWidthCompareByValue) {  // observed
  EXPECT_TRUE(value_matches(I(1), l(1)));
  EXPECT_TRUE(value_matches(I(1), field_value::i8(1)));
  EXPECT_TRUE(value_matches(I(1), field_value::i16(1)));
  EXPECT_TRUE(value_matches(I(1), field_value::u32(1)));
  EXPECT_TRUE(value_matches(I(1), field_value::timestamp(1)));
  EXPECT_TRUE(value_matches(field_value::u8(200), field_value::u16(200)));
  EXPECT_FALSE(value_matches(I(1), l(2)));
  EXPECT_FALSE(value_matches(field_value::i8(-1), field_value::u8(255)));
  // A timestamp above INT64_MAX is not the int64 with the same bits.
  EXPECT_FALSE(value_matches(field_value::timestamp(std::numeric_limits<std::uint64_t>::max()), l(-1)));  // observed
  EXPECT_TRUE(value_matches(field_value::timestamp(std::numeric_limits<std::uint64_t>::max()),
                            field_value::timestamp(std::numeric_limits<std::uint64_t>::max())));
}

TEST(HeadersMatch, IntegersAndFloatsCompareExactlyAsNumbers) {  // observed
  EXPECT_TRUE(value_matches(I(1), field_value::f64(1.0)));
  EXPECT_TRUE(value_matches(I(1), field_value::f32(1.0f)));
  EXPECT_FALSE(value_matches(field_value::f64(1.5), I(1)));
  EXPECT_TRUE(value_matches(field_value::f32(0.5f), field_value::f64(0.5)));
  EXPECT_FALSE(value_matches(field_value::f32(0.1f), field_value::f64(0.1)));
  EXPECT_TRUE(value_matches(field_value::f64(0.0), field_value::f64(-0.0)));
  EXPECT_FALSE(value_matches(l((std::int64_t{1} << 53) + 1), field_value::f64(9007199254740992.0)));
  EXPECT_TRUE(value_matches(l(std::int64_t{1} << 62), field_value::f64(4611686018427387904.0)));
  EXPECT_FALSE(value_matches(field_value::timestamp(std::numeric_limits<std::uint64_t>::max()),
                             field_value::f64(18446744073709551616.0)));  // observed: 2^64 is not 2^64-1
  EXPECT_TRUE(value_matches(field_value::timestamp(std::uint64_t{1} << 63), field_value::f64(9223372036854775808.0)));
  EXPECT_FALSE(value_matches(field_value::f64(std::numeric_limits<double>::quiet_NaN()),
                             field_value::f64(std::numeric_limits<double>::quiet_NaN())));
}

TEST(HeadersMatch, LongStringsAndByteArraysAreBothBinaries) {  // observed
  EXPECT_TRUE(value_matches(S("abc"), x("abc")));
  EXPECT_TRUE(value_matches(x("abc"), S("abc")));
  EXPECT_FALSE(value_matches(S("abc"), S("abd")));
  EXPECT_FALSE(value_matches(S("1"), I(1)));
  EXPECT_FALSE(value_matches(S(""), V()));
}

TEST(HeadersMatch, BooleansEqualOnlyBooleans) {  // observed
  EXPECT_TRUE(value_matches(field_value::boolean(true), field_value::boolean(true)));
  EXPECT_FALSE(value_matches(field_value::boolean(true), field_value::boolean(false)));
  EXPECT_FALSE(value_matches(field_value::boolean(true), field_value::i8(1)));
  EXPECT_FALSE(value_matches(field_value::boolean(false), I(0)));
  // Any non-zero octet is true: 't' 1 equals 't' 2 (built from raw bytes, as a client may send).
  const owned_table bound{{std::byte{1}, std::byte{'k'}, std::byte{'t'}, std::byte{1}}};
  const owned_table header{{std::byte{1}, std::byte{'k'}, std::byte{'t'}, std::byte{2}}};
  EXPECT_TRUE(matches(bound, header));
}

TEST(HeadersMatch, DecimalsEqualOnlyTheSameScaleAndDigits) {  // observed
  EXPECT_TRUE(value_matches(field_value::decimal({2, 5}), field_value::decimal({2, 5})));
  EXPECT_FALSE(value_matches(field_value::decimal({1, 10}), field_value::decimal({0, 1})));
  EXPECT_FALSE(value_matches(field_value::decimal({0, 1}), I(1)));
}

TEST(HeadersMatch, NestedTablesAndArraysCompareWithTheirTypes) {  // observed
  const auto a_I1 = make_table({{"a", I(1)}});
  const auto a_I1_again = make_table({{"a", I(1)}});
  const auto a_l1 = make_table({{"a", l(1)}});
  EXPECT_TRUE(value_matches(F(a_I1), F(a_I1_again)));
  EXPECT_FALSE(value_matches(F(a_I1), F(a_l1)));

  const auto zero = make_table({{"a", field_value::f64(0.0)}});
  const auto minus_zero = make_table({{"a", field_value::f64(-0.0)}});
  EXPECT_TRUE(value_matches(F(zero), F(minus_zero)));  // same type, == on the values

  const auto ab = make_table({{"a", I(1)}, {"b", I(2)}});
  const auto ba = make_table({{"b", I(2)}, {"a", I(1)}});
  EXPECT_FALSE(value_matches(F(ab), F(ba)));  // nested tables are not sorted

  EXPECT_TRUE(value_matches(F(make_table({})), A(make_array({}))));  // both decode to []
  EXPECT_FALSE(value_matches(F(a_I1), A(make_array({I(1)}))));

  EXPECT_TRUE(value_matches(A(make_array({I(1), S("x")})), A(make_array({I(1), S("x")}))));
  EXPECT_FALSE(value_matches(A(make_array({I(1)})), A(make_array({l(1)}))));
  EXPECT_FALSE(value_matches(A(make_array({S("a")})), A(make_array({x("a")}))));
  EXPECT_FALSE(value_matches(A(make_array({I(1)})), A(make_array({I(1), I(2)}))));

  // Deeper: a table in an array in a table.
  const auto inner1 = make_table({{"z", field_value::boolean(true)}});
  const auto inner2 = make_table({{"z", field_value::boolean(true)}});
  const auto inner3 = make_table({{"z", field_value::boolean(false)}});
  const auto outer1 = make_table({{"list", A(make_array({F(inner1), S("s")}))}});
  const auto outer2 = make_table({{"list", A(make_array({F(inner2), S("s")}))}});
  const auto outer3 = make_table({{"list", A(make_array({F(inner3), S("s")}))}});
  EXPECT_TRUE(value_matches(F(outer1), F(outer2)));
  EXPECT_FALSE(value_matches(F(outer1), F(outer3)));
}

TEST(HeadersMatch, DeepNestingDoesNotRecurse) {
  // 5000 levels of tables: compared with an explicit stack, not the thread's.
  owned_table deep = make_table({{"leaf", I(7)}});
  for (int i = 0; i < 5000; ++i) deep = make_table({{"n", F(deep)}});
  owned_table same = make_table({{"leaf", I(7)}});
  for (int i = 0; i < 5000; ++i) same = make_table({{"n", F(same)}});
  EXPECT_TRUE(value_matches(F(deep), F(same)));
}

TEST(HeadersMatch, VoidArgumentAsksForPresence) {  // observed
  EXPECT_TRUE(value_matches(V(), I(5)));
  EXPECT_TRUE(value_matches(V(), V()));
  EXPECT_TRUE(value_matches(V(), S("")));
  EXPECT_FALSE(matches(make_table({{"k", V()}}), make_table({{"z", I(5)}})));
  EXPECT_FALSE(value_matches(I(5), V()));
}

TEST(HeadersMatch, AllNeedsEveryArgumentAnyNeedsOne) {  // observed
  const auto all = make_table({{"x-match", S("all")}, {"a", S("1")}, {"b", S("2")}});
  const auto any = make_table({{"x-match", S("any")}, {"a", S("1")}, {"b", S("2")}});
  const auto implicit_all = make_table({{"a", S("1")}, {"b", S("2")}});
  const auto only_b = make_table({{"b", S("2")}});
  const auto both_and_more = make_table({{"z", S("9")}, {"b", S("2")}, {"a", S("1")}});
  const auto wrong_b = make_table({{"a", S("1")}, {"b", S("3")}});
  EXPECT_FALSE(matches(all, only_b));
  EXPECT_TRUE(matches(any, only_b));
  EXPECT_FALSE(matches(implicit_all, only_b));
  EXPECT_TRUE(matches(all, both_and_more));
  EXPECT_TRUE(matches(implicit_all, both_and_more));
  EXPECT_FALSE(matches(all, wrong_b));
  EXPECT_TRUE(matches(any, wrong_b));
  EXPECT_FALSE(matches(any, make_table({})));
  EXPECT_FALSE(matches(all, make_table({})));
}

TEST(HeadersMatch, NothingToMatchIsAllTrueAnyFalse) {  // observed
  EXPECT_TRUE(matches(make_table({}), make_table({})));
  EXPECT_TRUE(matches(make_table({{"x-match", S("all")}}), make_table({})));
  EXPECT_TRUE(matches(make_table({{"x-match", S("all")}}), make_table({{"a", S("1")}})));
  EXPECT_FALSE(matches(make_table({{"x-match", S("any")}}), make_table({{"a", S("1")}})));
  // Only x- arguments: ignored, so the same.
  EXPECT_TRUE(matches(make_table({{"x-match", S("all")}, {"x-foo", S("1")}}), make_table({})));
}

TEST(HeadersMatch, XArgumentsCountOnlyWithX) {  // observed
  const auto headers = make_table({{"x-foo", S("1")}});
  EXPECT_FALSE(matches(make_table({{"x-match", S("any")}, {"x-foo", S("1")}}), headers));
  EXPECT_TRUE(matches(make_table({{"x-match", S("any-with-x")}, {"x-foo", S("1")}}), headers));
  const auto all_with_x = make_table({{"x-match", S("all-with-x")}, {"x-foo", S("1")}, {"a", S("1")}});
  EXPECT_TRUE(matches(all_with_x, make_table({{"x-foo", S("1")}, {"a", S("1")}})));
  EXPECT_FALSE(matches(all_with_x, make_table({{"a", S("1")}})));
  // "x-" alone is an x- name; "X-Foo" is not (the prefix is case-sensitive).
  EXPECT_TRUE(matches(make_table({{"x-match", S("all")}, {"x-", S("1")}}), make_table({})));
  EXPECT_FALSE(matches(make_table({{"x-match", S("all")}, {"X-Foo", S("1")}}), make_table({})));
  // x-match never takes part, even with -with-x, and in headers it is an ordinary header.
  EXPECT_FALSE(matches(make_table({{"x-match", S("any")}, {"x-match2", S("1")}}), make_table({{"x-match", S("any")}})));
  EXPECT_FALSE(matches(make_table({{"x-match", S("any-with-x")}}), make_table({{"x-match", S("any-with-x")}})));
}

TEST(HeadersMatch, DuplicateNamesMergeAsRabbitMqDoes) {  // observed
  // Two equal binding entries need two header entries.
  EXPECT_FALSE(matches(make_table({{"a", I(1)}, {"a", I(1)}}), make_table({{"a", I(1)}})));
  EXPECT_TRUE(matches(make_table({{"a", I(1)}, {"a", I(1)}}), make_table({{"a", I(1)}, {"a", I(1)}})));
  // The first header of a name answers the first binding entry of that name.
  EXPECT_FALSE(matches(make_table({{"a", I(1)}}), make_table({{"a", I(2)}, {"a", I(1)}})));
  EXPECT_TRUE(matches(make_table({{"a", I(1)}}), make_table({{"a", I(1)}, {"a", I(2)}})));
}

TEST(HeadersMatch, ParsesXMatchAndRefusesWhatRabbitMqRefuses) {  // observed
  EXPECT_EQ(parse_x_match(make_table({})), x_match::all);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("all")}})), x_match::all);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("any")}})), x_match::any);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("all-with-x")}})), x_match::all_with_x);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("any-with-x")}})), x_match::any_with_x);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("ALL")}})), std::nullopt);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", S("")}})), std::nullopt);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", I(1)}})), std::nullopt);
  EXPECT_EQ(parse_x_match(make_table({{"x-match", x("any")}})), std::nullopt);
  // A binding that slipped through routes as "all", like RabbitMQ's legacy fallback.
  const headers_pattern legacy{make_table({{"x-match", S("ANY")}, {"a", S("1")}, {"b", S("2")}})};
  EXPECT_EQ(legacy.mode(), x_match::all);
}

TEST(HeadersPattern, OwnsItsBytesAndSortsWhatItMatches) {
  auto arguments = make_table({{"b", S("2")}, {"x-match", S("any")}, {"a", S("1")}, {"x-other", S("3")}});
  const headers_pattern pattern{arguments};
  std::fill(arguments.bytes.begin(), arguments.bytes.end(), std::byte{0});  // the frame buffer is reused
  ASSERT_EQ(pattern.entries().size(), 2u);
  EXPECT_EQ(pattern.entries()[0].name, "a");
  EXPECT_EQ(pattern.entries()[1].name, "b");
  EXPECT_EQ(pattern.arguments().size(), 4u);
  EXPECT_EQ(pattern.mode(), x_match::any);

  headers_pattern copy = pattern;
  headers_pattern moved = std::move(copy);
  std::vector<amqp::field_entry> headers;
  const auto message = make_table({{"b", S("2")}});
  sort_entries(message, headers);
  EXPECT_TRUE(headers_match(moved, headers));
}

TEST(SortEntries, SortsByNameKeepingTheOrderOfEqualNames) {
  const auto table = make_table({{"b", I(1)}, {"a", I(2)}, {"b", I(3)}, {"", I(4)}, {"a", I(5)}, {"ab", I(6)}});
  std::vector<amqp::field_entry> out;
  sort_entries(table, out);
  std::vector<std::pair<std::string, std::int64_t>> got;
  for (const auto& e : out) got.emplace_back(std::string(e.name), e.value.as_int());
  const std::vector<std::pair<std::string, std::int64_t>> expected = {{"", 4}, {"a", 2}, {"a", 5}, {"ab", 6}, {"b", 1}, {"b", 3}};
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace haremq::engine
