#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

#include "net/amqp/field_table.h"

// Field tables and arrays for the routing tests, owning their bytes (the codec's tables are
// views). A nested value must outlive the table built from it only until make_*() returns:
// the bytes are copied.
namespace haremq::engine::routing_test {

struct owned_table {
  std::vector<std::byte> bytes;
  amqp::field_table view() const { return amqp::field_table::trusted(bytes); }
  operator amqp::field_table() const { return view(); }  // NOLINT: implicit, for brevity in tests
};

struct owned_array {
  std::vector<std::byte> bytes;
  amqp::field_array view() const { return amqp::field_array::trusted(bytes); }
};

using entry = std::pair<std::string_view, amqp::field_value>;

inline owned_table make_table(std::initializer_list<entry> entries) {
  std::vector<std::byte> buffer(1 << 16);
  amqp::byte_writer out{buffer};
  amqp::table_writer table{out};
  for (const auto& [name, value] : entries) table.add(name, value);
  const amqp::bytes_view content = table.finish();
  return {std::vector<std::byte>(content.begin(), content.end())};
}

inline owned_array make_array(std::initializer_list<amqp::field_value> values) {
  std::vector<std::byte> buffer(1 << 16);
  amqp::byte_writer out{buffer};
  amqp::table_writer array{out, amqp::table_writer::kind::array};
  for (const auto& value : values) array.add({}, value);
  const amqp::bytes_view content = array.finish();
  return {std::vector<std::byte>(content.begin(), content.end())};
}

// Short names for the wire types, by their tags.
inline amqp::field_value S(std::string_view s) { return amqp::field_value::string(s); }
inline amqp::field_value x(std::string_view s) { return amqp::field_value::byte_array(amqp::as_bytes(s)); }
inline amqp::field_value I(std::int32_t v) { return amqp::field_value::i32(v); }
inline amqp::field_value l(std::int64_t v) { return amqp::field_value::i64(v); }
inline amqp::field_value F(const owned_table& t) { return amqp::field_value::table(t.view()); }
inline amqp::field_value A(const owned_array& a) { return amqp::field_value::array(a.view()); }
inline amqp::field_value V() { return amqp::field_value::void_value(); }

}  // namespace haremq::engine::routing_test
