#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "net/amqp/field_table.h"

// The headers exchange's matching, as RabbitMQ 3.10 does it (rabbit_exchange_type_headers):
//
// - The binding's `x-match` argument picks the mode: "all" (also when absent), "any",
//   "all-with-x", "any-with-x" (the last two since 3.10). Any other string, or a value that
//   is not a long string, makes RabbitMQ refuse the binding (see parse_x_match).
// - `x-match` itself never takes part; other arguments whose name starts with "x-" take
//   part only in the -with-x modes.
// - A void argument asks for the header's presence, whatever its value; any other argument
//   asks for the header with an equal value (header_value_equal).
// - "all" with nothing left to match matches every message; "any" matches none.
//
// RabbitMQ sorts both tables by name (stably) and merges them, so duplicate names behave as
// the merge makes them: each binding entry consumes one header entry of its name, in order.
// This file does the same, so duplicates route as RabbitMQ routes them.
//
// Everything here is a pure function or an immutable value: thread-safe.
namespace haremq::engine {

enum class x_match : std::uint8_t { all, any, all_with_x, any_with_x };

// The mode a binding's arguments ask for. nullopt when RabbitMQ refuses the binding with
// 406 PRECONDITION_FAILED: a long string other than the four modes ("Invalid x-match field
// value <<\"ALL\">>; expected all, any, all-with-x, or any-with-x"), or another type
// ("Invalid x-match field type signedint (value 1); expected longstr").
std::optional<x_match> parse_x_match(const amqp::field_table& arguments) noexcept;

// Erlang's `==` on the values RabbitMQ decodes the two fields to, which is what its matching
// compares (the field type itself is dropped at the top level):
// - every integer type ('b' 'B' 's' 'u' 'I' 'i' 'l' and timestamps 'T') compares by value:
//   'I' 1 equals 'l' 1 and 'T' 1;
// - integers and floats ('f' widened to double, 'd') compare exactly as numbers: 'I' 1
//   equals 'd' 1.0, but 2^53+1 does not equal 2^53 as a double; 'f' 0.1 is not 'd' 0.1;
//   0.0 equals -0.0;
// - long strings 'S' and byte arrays 'x' are both binaries: equal bytes are equal;
// - booleans equal only booleans (any non-zero octet is true); 't' true is not 'b' 1;
// - decimals equal only decimals with the same scale and digits ('D' 1.0 is not 'D' 1);
// - tables and arrays compare element by element, in order, *with* their field types
//   (a nested 'I' 1 is not a nested 'l' 1), and an empty table equals an empty array
//   (both decode to Erlang's []);
// - void equals only void (a void binding argument is handled before this: presence).
// Checked against RabbitMQ 3.10.8 with pika; see tests/engine/headers_match_test.cc.
bool header_value_equal(const amqp::field_value& bound, const amqp::field_value& header) noexcept;

// Fills `out` with the entries of `table` sorted by name, entries of equal names kept in
// their order (lists:keysort/2). Views into `table`. Allocates only if `out` must grow.
void sort_entries(const amqp::field_table& table, std::vector<amqp::field_entry>& out) noexcept;

// A headers binding's arguments, owned (the declaring frame's buffer does not live on), with
// the entries that take part in matching pre-sorted. Immutable once built; copying copies
// the bytes.
class headers_pattern {
 public:
  explicit headers_pattern(const amqp::field_table& arguments);
  headers_pattern(const headers_pattern& other) : headers_pattern(other.arguments()) {}
  headers_pattern(headers_pattern&&) noexcept = default;  // moving the byte vector keeps the views valid
  headers_pattern& operator=(const headers_pattern& other) {
    if (this != &other) *this = headers_pattern(other);
    return *this;
  }
  headers_pattern& operator=(headers_pattern&&) noexcept = default;

  // The mode, "all" for an invalid x-match: RabbitMQ refuses such bindings, but routes
  // legacy ones (declared before it validated) as "all".
  x_match mode() const noexcept { return _mode; }
  // The arguments as given.
  amqp::field_table arguments() const noexcept { return amqp::field_table::trusted(_bytes); }
  // What matching compares: sorted by name, without x-match and (unless -with-x) x-*.
  std::span<const amqp::field_entry> entries() const noexcept { return _entries; }

 private:
  std::vector<std::byte> _bytes;
  std::vector<amqp::field_entry> _entries;  // views into _bytes
  x_match _mode = x_match::all;
};

// Whether a message with these headers (sorted by sort_entries) matches the binding.
// Allocates nothing.
bool headers_match(const headers_pattern& pattern, std::span<const amqp::field_entry> sorted_headers) noexcept;

// The same from two tables; allocates (for tests and one-off checks, not for routing).
bool headers_match(const amqp::field_table& arguments, const amqp::field_table& headers);

}  // namespace haremq::engine
