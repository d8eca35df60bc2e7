#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "net/amqp/byte_reader.h"
#include "net/amqp/byte_writer.h"

// Field tables and arrays (spec §4.2.5.5 with RabbitMQ's errata type tags). Both are views
// of wire bytes: decoding validates a table once, then iterates it lazily without copying;
// encoding copies those bytes back verbatim, or builds new ones with a table_writer.
namespace haremq::amqp {

// The value types RabbitMQ reads and writes; the enumerator is the wire tag.
enum class field_type : char {
  boolean = 't',
  i8 = 'b',
  u8 = 'B',
  i16 = 's',
  u16 = 'u',
  i32 = 'I',
  u32 = 'i',
  i64 = 'l',
  f32 = 'f',
  f64 = 'd',
  decimal = 'D',
  long_string = 'S',
  byte_array = 'x',
  array = 'A',
  timestamp = 'T',
  table = 'F',
  void_value = 'V',
};

bool is_known_field_type(std::uint8_t tag) noexcept;

struct decimal_value {
  std::uint8_t scale;  // digits after the decimal point (trivial: it lives in a union)
  std::uint32_t value;
  friend bool operator==(const decimal_value&, const decimal_value&) = default;
};

class field_table;
class field_array;

// One value of a table or array. Strings, byte arrays and nested containers are views.
class field_value {
 public:
  field_value() = default;

  static field_value boolean(bool v) noexcept { return scalar(field_type::boolean, v ? 1 : 0); }
  static field_value i8(std::int8_t v) noexcept { return scalar(field_type::i8, v); }
  static field_value u8(std::uint8_t v) noexcept { return scalar(field_type::u8, v); }
  static field_value i16(std::int16_t v) noexcept { return scalar(field_type::i16, v); }
  static field_value u16(std::uint16_t v) noexcept { return scalar(field_type::u16, v); }
  static field_value i32(std::int32_t v) noexcept { return scalar(field_type::i32, v); }
  static field_value u32(std::uint32_t v) noexcept { return scalar(field_type::u32, v); }
  static field_value i64(std::int64_t v) noexcept { return scalar(field_type::i64, v); }
  static field_value timestamp(std::uint64_t v) noexcept {
    return scalar(field_type::timestamp, static_cast<std::int64_t>(v));
  }
  static field_value f32(float v) noexcept;
  static field_value f64(double v) noexcept;
  static field_value decimal(decimal_value v) noexcept;
  static field_value string(std::string_view v) noexcept;
  static field_value byte_array(bytes_view v) noexcept;
  static field_value table(const field_table& v) noexcept;
  static field_value array(const field_array& v) noexcept;
  static field_value void_value() noexcept { return scalar(field_type::void_value, 0); }

  field_type type() const noexcept { return _type; }

  bool is_integer() const noexcept;
  bool as_bool() const noexcept { return _integer != 0; }
  // Every integer type, and timestamps, widened.
  std::int64_t as_int() const noexcept { return _integer; }
  float as_f32() const noexcept { return _f32; }
  double as_f64() const noexcept { return _f64; }
  decimal_value as_decimal() const noexcept { return _decimal; }
  std::string_view as_string() const noexcept { return as_chars(_bytes); }
  bytes_view as_bytes() const noexcept { return _bytes; }
  field_table as_table() const noexcept;
  field_array as_array() const noexcept;

  // Reads one value (tag and payload) of already validated bytes.
  static field_value read(byte_reader& in) noexcept;
  void write(byte_writer& out) const noexcept;

  // Same type and same wire bytes.
  friend bool operator==(const field_value& a, const field_value& b) noexcept;

 private:
  static field_value scalar(field_type t, std::int64_t v) noexcept {
    field_value f;
    f._type = t;
    f._integer = v;
    return f;
  }

  field_type _type = field_type::void_value;
  union {
    std::int64_t _integer = 0;
    float _f32;
    double _f64;
    decimal_value _decimal;
  };
  bytes_view _bytes;  // S, x, A, F: the content after the 32-bit length
};

struct field_entry {
  std::string_view name;
  field_value value;
};

// A field table: the bytes after its 32-bit length. Constructed only from validated bytes
// (by decoding, or by a table_writer), so iteration never fails.
class field_table {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = field_entry;
    using difference_type = std::ptrdiff_t;
    using reference = const value_type&;
    using pointer = const value_type*;

    iterator() = default;
    iterator(bytes_view rest) noexcept : _rest(rest) { advance(); }
    const field_entry& operator*() const noexcept { return _current; }
    const field_entry* operator->() const noexcept { return &_current; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      advance();
      return before;
    }
    bool operator==(const iterator& o) const noexcept { return _done == o._done && (_done || _at == o._at); }

   private:
    void advance() noexcept;
    bytes_view _rest;
    const std::byte* _at = nullptr;
    field_entry _current;
    bool _done = true;
  };

  field_table() = default;
  // Validates `content` (the bytes after the length) as a table, nested to any depth.
  static result<field_table> parse(bytes_view content) noexcept;
  static field_table trusted(bytes_view content) noexcept { return field_table{content}; }

  iterator begin() const noexcept { return iterator{_content}; }
  iterator end() const noexcept { return iterator{}; }
  bool empty() const noexcept { return _content.empty(); }
  std::size_t size() const noexcept;  // number of entries (walks the table)
  bytes_view bytes() const noexcept { return _content; }
  std::optional<field_value> find(std::string_view name) const noexcept;

  // Same wire bytes.
  friend bool operator==(const field_table& a, const field_table& b) noexcept;

 private:
  explicit field_table(bytes_view content) noexcept : _content(content) {}
  bytes_view _content;
};

// A field array: the bytes after its 32-bit length; values without names.
class field_array {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = field_value;
    using difference_type = std::ptrdiff_t;
    using reference = const value_type&;
    using pointer = const value_type*;

    iterator() = default;
    iterator(bytes_view rest) noexcept : _rest(rest) { advance(); }
    const field_value& operator*() const noexcept { return _current; }
    const field_value* operator->() const noexcept { return &_current; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      advance();
      return before;
    }
    bool operator==(const iterator& o) const noexcept { return _done == o._done && (_done || _at == o._at); }

   private:
    void advance() noexcept;
    bytes_view _rest;
    const std::byte* _at = nullptr;
    field_value _current;
    bool _done = true;
  };

  field_array() = default;
  static field_array trusted(bytes_view content) noexcept { return field_array{content}; }
  iterator begin() const noexcept { return iterator{_content}; }
  iterator end() const noexcept { return iterator{}; }
  bool empty() const noexcept { return _content.empty(); }
  std::size_t size() const noexcept;
  bytes_view bytes() const noexcept { return _content; }

 private:
  explicit field_array(bytes_view content) noexcept : _content(content) {}
  bytes_view _content;
};

// Reads a table (32-bit length, then content), validating it; errors latch in `in`.
field_table read_table(byte_reader& in) noexcept;
// Writes a table's length and bytes.
void write_table(byte_writer& out, const field_table& table) noexcept;

// Builds a table or an array into a caller's buffer: entries go straight to the writer and
// the length is patched in by finish(). Nested containers are built by a nested writer on
// the same byte_writer, finished before the parent continues.
class table_writer {
 public:
  enum class kind { table, array };
  explicit table_writer(byte_writer& out, kind k = kind::table) noexcept;

  // For a table, `name` is the entry's name; for an array it is ignored.
  table_writer& add(std::string_view name, const field_value& value) noexcept;
  table_writer nested(std::string_view name, kind k) noexcept;
  // Patches the length; returns the content written (valid while the buffer lives).
  bytes_view finish() noexcept;

 private:
  void key(std::string_view name) noexcept;
  byte_writer& _out;
  kind _kind;
  std::size_t _length_at;
};

}  // namespace haremq::amqp
