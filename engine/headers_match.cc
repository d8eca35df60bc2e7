#include "engine/headers_match.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string_view>

namespace haremq::engine {
namespace {

using amqp::field_entry;
using amqp::field_type;
using amqp::field_value;

// The Erlang term a field value decodes to (rabbit_binary_parser:parse_table/1), which is
// what decides how `==` compares it.
enum class term { integer, floating, binary, boolean, decimal, list, undefined };

term term_of(field_type t) noexcept {
  switch (t) {
    case field_type::i8:
    case field_type::u8:
    case field_type::i16:
    case field_type::u16:
    case field_type::i32:
    case field_type::u32:
    case field_type::i64:
    case field_type::timestamp: return term::integer;
    case field_type::f32:
    case field_type::f64: return term::floating;
    case field_type::long_string:
    case field_type::byte_array: return term::binary;
    case field_type::boolean: return term::boolean;
    case field_type::decimal: return term::decimal;
    case field_type::table:
    case field_type::array: return term::list;
    case field_type::void_value: return term::undefined;
  }
  return term::undefined;
}

// An integer of any wire type. Only a timestamp (unsigned 64-bit) can exceed int64_t; its
// bits are then kept with `above` set, so that 'T' 2^64-1 does not equal 'l' -1.
struct wide_int {
  bool above;
  std::int64_t bits;
};

wide_int integer_of(const field_value& v) noexcept {
  return {v.type() == field_type::timestamp && v.as_int() < 0, v.as_int()};
}

double floating_of(const field_value& v) noexcept {
  return v.type() == field_type::f32 ? static_cast<double>(v.as_f32()) : v.as_f64();
}

// Erlang's `==` between an integer and a float is exact (a float too large to hold every
// integer is converted to an integer, not the other way round): equal only if the float is
// integral and has that very value. Observed on 3.10.8: 'l' 2^53+1 is not 'd' 2^53.
bool integer_equals_floating(wide_int i, double d) noexcept {
  if (!std::isfinite(d) || std::trunc(d) != d) return false;
  constexpr double two_63 = 9223372036854775808.0;
  if (i.above) {
    if (d < two_63 || d >= 2 * two_63) return false;
    return static_cast<std::uint64_t>(d) == static_cast<std::uint64_t>(i.bits);
  }
  if (d < -two_63 || d >= two_63) return false;
  return static_cast<std::int64_t>(d) == i.bits;
}

bool same_bytes(amqp::bytes_view a, amqp::bytes_view b) noexcept { return amqp::as_chars(a) == amqp::as_chars(b); }

// `==` between two terms that are not lists.
bool scalar_equal(const field_value& a, const field_value& b) noexcept {
  const term ta = term_of(a.type());
  const term tb = term_of(b.type());
  if (ta == term::integer && tb == term::integer) {
    const wide_int x = integer_of(a);
    const wide_int y = integer_of(b);
    return x.above == y.above && x.bits == y.bits;
  }
  if (ta == term::integer && tb == term::floating) return integer_equals_floating(integer_of(a), floating_of(b));
  if (ta == term::floating && tb == term::integer) return integer_equals_floating(integer_of(b), floating_of(a));
  if (ta != tb) return false;
  switch (ta) {
    case term::floating: return floating_of(a) == floating_of(b);
    case term::binary: return same_bytes(a.as_bytes(), b.as_bytes());
    case term::boolean: return a.as_bool() == b.as_bool();
    case term::decimal: return a.as_decimal() == b.as_decimal();
    case term::undefined: return true;
    default: return false;
  }
}

// Two containers of the same kind compared element by element, names and field types
// included (inside a list RabbitMQ keeps each value's type tag, so 'I' 1 and 'l' 1 differ
// there). Walked with an explicit stack: the codec accepts nesting to any depth, and a
// header must not be able to exhaust the thread's stack.
class container_compare {
 public:
  bool equal(amqp::bytes_view a, amqp::bytes_view b, bool is_table) noexcept {
    if (a.size() != b.size()) return false;  // equal lists have identical layouts
    push({a, b, is_table});
    while (_size != 0) {
      level& current = top();
      if (current.a.empty()) {
        pop();
        continue;
      }
      amqp::byte_reader ra{current.a};
      amqp::byte_reader rb{current.b};
      if (current.is_table && ra.short_string() != rb.short_string()) return false;
      const field_value va = field_value::read(ra);
      const field_value vb = field_value::read(rb);
      if (ra.position() != rb.position()) return false;
      current.a = current.a.subspan(ra.position());
      current.b = current.b.subspan(rb.position());
      if (va.type() != vb.type()) return false;
      if (va.type() == field_type::table || va.type() == field_type::array) {
        // Equal lengths already follow from equal positions above.
        push({va.as_bytes(), vb.as_bytes(), va.type() == field_type::table});
      } else if (!scalar_equal(va, vb)) {
        return false;
      }
    }
    return true;
  }

 private:
  struct level {
    amqp::bytes_view a;
    amqp::bytes_view b;
    bool is_table;
  };
  void push(level l) noexcept {
    if (_size < _inline.size()) {
      _inline[_size] = l;
    } else {
      _spill.push_back(l);  // only for nesting deeper than any real header
    }
    ++_size;
  }
  void pop() noexcept {
    if (_size > _inline.size()) _spill.pop_back();
    --_size;
  }
  level& top() noexcept { return _size > _inline.size() ? _spill.back() : _inline[_size - 1]; }

  std::array<level, 16> _inline{};
  std::vector<level> _spill;
  std::size_t _size = 0;
};

bool ignored_for(x_match mode, std::string_view name) noexcept {
  if (name == "x-match") return true;
  const bool with_x = mode == x_match::all_with_x || mode == x_match::any_with_x;
  return !with_x && name.starts_with("x-");
}

}  // namespace

std::optional<x_match> parse_x_match(const amqp::field_table& arguments) noexcept {
  const auto v = arguments.find("x-match");
  if (!v) return x_match::all;  // RabbitMQ allows it to be omitted
  if (v->type() != field_type::long_string) return std::nullopt;
  const std::string_view s = v->as_string();
  if (s == "all") return x_match::all;
  if (s == "any") return x_match::any;
  if (s == "all-with-x") return x_match::all_with_x;
  if (s == "any-with-x") return x_match::any_with_x;
  return std::nullopt;
}

bool header_value_equal(const field_value& bound, const field_value& header) noexcept {
  const bool bound_list = term_of(bound.type()) == term::list;
  const bool header_list = term_of(header.type()) == term::list;
  if (!bound_list || !header_list) return !bound_list && !header_list && scalar_equal(bound, header);
  if (bound.type() != header.type()) return bound.as_bytes().empty() && header.as_bytes().empty();  // [] == []
  container_compare walk;
  return walk.equal(bound.as_bytes(), header.as_bytes(), bound.type() == field_type::table);
}

void sort_entries(const amqp::field_table& table, std::vector<field_entry>& out) noexcept {
  out.clear();
  for (const field_entry& e : table) out.push_back(e);
  // Stable without std::stable_sort's temporary buffer: among equal names, the one earlier
  // in the table has the lower address.
  std::sort(out.begin(), out.end(), [](const field_entry& a, const field_entry& b) {
    if (a.name != b.name) return a.name < b.name;
    return std::less<const char*>{}(a.name.data(), b.name.data());
  });
}

headers_pattern::headers_pattern(const amqp::field_table& arguments)
    : _bytes(arguments.bytes().begin(), arguments.bytes().end()),
      _mode(parse_x_match(arguments).value_or(x_match::all)) {
  sort_entries(amqp::field_table::trusted(_bytes), _entries);
  std::erase_if(_entries, [&](const field_entry& e) { return ignored_for(_mode, e.name); });
}

bool headers_match(const headers_pattern& pattern, std::span<const field_entry> sorted_headers) noexcept {
  // RabbitMQ's merge of two name-sorted lists (rabbit_exchange_type_headers:headers_match/5),
  // stopping as soon as the outcome is known.
  const bool any = pattern.mode() == x_match::any || pattern.mode() == x_match::any_with_x;
  bool all_matched = true;
  bool any_matched = false;
  auto header = sorted_headers.begin();
  for (const field_entry& wanted : pattern.entries()) {
    if (any ? any_matched : !all_matched) break;
    while (header != sorted_headers.end() && header->name < wanted.name) ++header;
    if (header == sorted_headers.end()) {  // this and every later argument are missing
      all_matched = false;
      break;
    }
    if (header->name != wanted.name) {  // missing
      all_matched = false;
      continue;
    }
    if (wanted.value.type() == field_type::void_value || header_value_equal(wanted.value, header->value)) {
      any_matched = true;
    } else {
      all_matched = false;
    }
    ++header;  // each header entry answers one binding entry (matters for duplicates)
  }
  return any ? any_matched : all_matched;
}

bool headers_match(const amqp::field_table& arguments, const amqp::field_table& headers) {
  const headers_pattern pattern{arguments};
  std::vector<field_entry> sorted;
  sort_entries(headers, sorted);
  return headers_match(pattern, sorted);
}

}  // namespace haremq::engine
