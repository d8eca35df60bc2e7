#include "net/amqp/field_table.h"

#include <bit>
#include <vector>

namespace haremq::amqp {
namespace {

// Payload size of each fixed-size value type; 0 for the length-prefixed ones and void.
constexpr std::size_t fixed_size(field_type t) noexcept {
  switch (t) {
    case field_type::boolean:
    case field_type::i8:
    case field_type::u8: return 1;
    case field_type::i16:
    case field_type::u16: return 2;
    case field_type::i32:
    case field_type::u32:
    case field_type::f32: return 4;
    case field_type::i64:
    case field_type::f64:
    case field_type::timestamp: return 8;
    case field_type::decimal: return 5;
    default: return 0;
  }
}

constexpr bool is_length_prefixed(field_type t) noexcept {
  return t == field_type::long_string || t == field_type::byte_array || t == field_type::array ||
         t == field_type::table;
}

// The open containers while validating: a fixed inline stack that spills to the heap only
// for nesting deeper than any real client sends, so validation never recurses.
class level_stack {
 public:
  struct level {
    std::size_t end;
    bool is_table;
  };
  void push(level l) {
    if (_size < _inline.size()) {
      _inline[_size++] = l;
    } else {
      _spill.push_back(l);
      ++_size;
    }
  }
  void pop() noexcept {
    if (_size > _inline.size()) _spill.pop_back();
    --_size;
  }
  level& top() noexcept { return _size > _inline.size() ? _spill.back() : _inline[_size - 1]; }
  bool empty() const noexcept { return _size == 0; }

 private:
  std::array<level, 32> _inline{};
  std::vector<level> _spill;
  std::size_t _size = 0;
};

errc validate(bytes_view content, bool is_table) noexcept {
  byte_reader in{content};
  level_stack open;
  open.push({content.size(), is_table});
  while (!open.empty()) {
    const auto current = open.top();
    if (in.position() == current.end) {
      open.pop();
      continue;
    }
    // Every read below is also bounded by the innermost container, not just the input.
    auto within = [&](std::size_t n) { return n <= current.end - in.position(); };
    if (current.is_table) {
      if (!within(1)) return errc::length_past_end;
      const std::size_t name_length = in.u8();
      if (!within(name_length)) return errc::length_past_end;
      (void)in.bytes(name_length);
    }
    if (!within(1)) return errc::length_past_end;
    const std::uint8_t tag = in.u8();
    if (!is_known_field_type(tag)) return errc::bad_field_type;
    const auto type = static_cast<field_type>(tag);
    if (is_length_prefixed(type)) {
      if (!within(4)) return errc::length_past_end;
      const std::size_t length = in.u32();
      if (!within(length)) return errc::length_past_end;
      if (type == field_type::table || type == field_type::array) {
        try {
          open.push({in.position() + length, type == field_type::table});
        } catch (...) {  // std::bad_alloc on absurd nesting: refuse the table
          return errc::length_past_end;
        }
      } else {
        (void)in.bytes(length);
      }
    } else {
      const std::size_t n = fixed_size(type);
      if (!within(n)) return errc::length_past_end;
      (void)in.bytes(n);
    }
  }
  return errc{};
}

}  // namespace

bool is_known_field_type(std::uint8_t tag) noexcept {
  switch (tag) {
    case 't': case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'l':
    case 'f': case 'd': case 'D': case 'S': case 'x': case 'A': case 'T': case 'F': case 'V':
      return true;
    default:
      return false;
  }
}

field_value field_value::f32(float v) noexcept {
  field_value f;
  f._type = field_type::f32;
  f._integer = 0;
  f._f32 = v;
  return f;
}

field_value field_value::f64(double v) noexcept {
  field_value f;
  f._type = field_type::f64;
  f._f64 = v;
  return f;
}

field_value field_value::decimal(decimal_value v) noexcept {
  field_value f;
  f._type = field_type::decimal;
  f._integer = 0;
  f._decimal = v;
  return f;
}

field_value field_value::string(std::string_view v) noexcept {
  field_value f;
  f._type = field_type::long_string;
  f._bytes = amqp::as_bytes(v);
  return f;
}

field_value field_value::byte_array(bytes_view v) noexcept {
  field_value f;
  f._type = field_type::byte_array;
  f._bytes = v;
  return f;
}

field_value field_value::table(const field_table& v) noexcept {
  field_value f;
  f._type = field_type::table;
  f._bytes = v.bytes();
  return f;
}

field_value field_value::array(const field_array& v) noexcept {
  field_value f;
  f._type = field_type::array;
  f._bytes = v.bytes();
  return f;
}

bool field_value::is_integer() const noexcept {
  switch (_type) {
    case field_type::i8: case field_type::u8: case field_type::i16: case field_type::u16:
    case field_type::i32: case field_type::u32: case field_type::i64:
      return true;
    default:
      return false;
  }
}

field_table field_value::as_table() const noexcept {
  return _type == field_type::table ? field_table::trusted(_bytes) : field_table{};
}

field_array field_value::as_array() const noexcept {
  return _type == field_type::array ? field_array::trusted(_bytes) : field_array{};
}

field_value field_value::read(byte_reader& in) noexcept {
  const auto type = static_cast<field_type>(in.u8());
  switch (type) {
    case field_type::boolean: return scalar(field_type::boolean, in.u8());  // raw octet: re-encodes exactly
    case field_type::i8: return i8(static_cast<std::int8_t>(in.u8()));
    case field_type::u8: return u8(in.u8());
    case field_type::i16: return i16(static_cast<std::int16_t>(in.u16()));
    case field_type::u16: return u16(in.u16());
    case field_type::i32: return i32(static_cast<std::int32_t>(in.u32()));
    case field_type::u32: return u32(in.u32());
    case field_type::i64: return i64(static_cast<std::int64_t>(in.u64()));
    case field_type::timestamp: return timestamp(in.u64());
    case field_type::f32: return f32(std::bit_cast<float>(in.u32()));
    case field_type::f64: return f64(std::bit_cast<double>(in.u64()));
    case field_type::decimal: {
      const std::uint8_t scale = in.u8();
      return decimal({scale, in.u32()});
    }
    case field_type::long_string: return string(in.long_string());
    case field_type::byte_array: return byte_array(in.bytes(in.u32()));
    case field_type::table: return table(field_table::trusted(in.bytes(in.u32())));
    case field_type::array: return array(field_array::trusted(in.bytes(in.u32())));
    case field_type::void_value: return void_value();
  }
  in.fail(errc::bad_field_type);
  return void_value();
}

void field_value::write(byte_writer& out) const noexcept {
  out.u8(static_cast<std::uint8_t>(_type));
  switch (_type) {
    case field_type::boolean:
    case field_type::i8:
    case field_type::u8: out.u8(static_cast<std::uint8_t>(_integer)); break;
    case field_type::i16:
    case field_type::u16: out.u16(static_cast<std::uint16_t>(_integer)); break;
    case field_type::i32:
    case field_type::u32: out.u32(static_cast<std::uint32_t>(_integer)); break;
    case field_type::i64:
    case field_type::timestamp: out.u64(static_cast<std::uint64_t>(_integer)); break;
    case field_type::f32: out.u32(std::bit_cast<std::uint32_t>(_f32)); break;
    case field_type::f64: out.u64(std::bit_cast<std::uint64_t>(_f64)); break;
    case field_type::decimal:
      out.u8(_decimal.scale);
      out.u32(_decimal.value);
      break;
    case field_type::long_string:
    case field_type::byte_array:
    case field_type::table:
    case field_type::array:
      out.u32(static_cast<std::uint32_t>(_bytes.size()));
      out.bytes(_bytes);
      break;
    case field_type::void_value: break;
  }
}

bool operator==(const field_value& a, const field_value& b) noexcept {
  if (a._type != b._type) return false;
  switch (a._type) {
    case field_type::f32: return std::bit_cast<std::uint32_t>(a._f32) == std::bit_cast<std::uint32_t>(b._f32);
    case field_type::f64: return std::bit_cast<std::uint64_t>(a._f64) == std::bit_cast<std::uint64_t>(b._f64);
    case field_type::decimal: return a._decimal == b._decimal;
    case field_type::boolean: return a.as_bool() == b.as_bool();
    case field_type::long_string:
    case field_type::byte_array:
    case field_type::table:
    case field_type::array:
      return as_chars(a._bytes) == as_chars(b._bytes);
    default: return a._integer == b._integer;
  }
}

void field_table::iterator::advance() noexcept {
  if (_rest.empty()) {
    _done = true;
    return;
  }
  _done = false;
  _at = _rest.data();
  byte_reader in{_rest};
  _current.name = in.short_string();
  _current.value = field_value::read(in);
  _rest = _rest.subspan(in.position());
}

void field_array::iterator::advance() noexcept {
  if (_rest.empty()) {
    _done = true;
    return;
  }
  _done = false;
  _at = _rest.data();
  byte_reader in{_rest};
  _current = field_value::read(in);
  _rest = _rest.subspan(in.position());
}

result<field_table> field_table::parse(bytes_view content) noexcept {
  if (const errc e = validate(content, true); e != errc{}) return e;
  return field_table{content};
}

std::size_t field_table::size() const noexcept {
  std::size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

std::optional<field_value> field_table::find(std::string_view name) const noexcept {
  for (const auto& entry : *this) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

bool operator==(const field_table& a, const field_table& b) noexcept {
  return as_chars(a._content) == as_chars(b._content);
}

std::size_t field_array::size() const noexcept {
  std::size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

field_table read_table(byte_reader& in) noexcept {
  const bytes_view content = in.bytes(in.u32());
  if (!in.ok()) return {};
  auto parsed = field_table::parse(content);
  if (!parsed) {
    in.fail(static_cast<errc>(parsed.error().value()));
    return {};
  }
  return *parsed;
}

void write_table(byte_writer& out, const field_table& table) noexcept {
  out.u32(static_cast<std::uint32_t>(table.bytes().size()));
  out.bytes(table.bytes());
}

table_writer::table_writer(byte_writer& out, kind k) noexcept : _out(out), _kind(k), _length_at(out.position()) {
  _out.u32(0);  // patched by finish()
}

void table_writer::key(std::string_view name) noexcept {
  if (_kind == kind::table) _out.short_string(name);
}

table_writer& table_writer::add(std::string_view name, const field_value& value) noexcept {
  key(name);
  value.write(_out);
  return *this;
}

table_writer table_writer::nested(std::string_view name, kind k) noexcept {
  key(name);
  _out.u8(static_cast<std::uint8_t>(k == kind::table ? field_type::table : field_type::array));
  return table_writer{_out, k};
}

bytes_view table_writer::finish() noexcept {
  const std::size_t content_at = _length_at + 4;
  const std::size_t end = _out.position();
  _out.patch_u32(_length_at, static_cast<std::uint32_t>(end - content_at));
  if (!_out.ok()) return {};
  return _out.written().subspan(content_at, end - content_at);
}

}  // namespace haremq::amqp
