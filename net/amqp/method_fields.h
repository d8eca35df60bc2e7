#pragma once

#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "net/amqp/byte_reader.h"
#include "net/amqp/byte_writer.h"
#include "net/amqp/field_table.h"
#include "net/amqp/methods.h"

// The generic argument codec: a method's `fields()` tuple is read or written in order, the
// C++ type choosing the wire type. Consecutive bits share octets, first bit lowest
// (spec §4.2.5.2); any other field ends a run of bits.
namespace haremq::amqp::detail {

inline void read_field(byte_reader& in, std::uint8_t& v) noexcept { v = in.u8(); }
inline void read_field(byte_reader& in, std::uint16_t& v) noexcept { v = in.u16(); }
inline void read_field(byte_reader& in, std::uint32_t& v) noexcept { v = in.u32(); }
inline void read_field(byte_reader& in, std::uint64_t& v) noexcept { v = in.u64(); }
inline void read_field(byte_reader& in, std::string_view& v) noexcept { v = in.short_string(); }
inline void read_field(byte_reader& in, long_string& v) noexcept { v.value = in.long_string(); }
inline void read_field(byte_reader& in, field_table& v) noexcept { v = read_table(in); }

inline void write_field(byte_writer& out, std::uint8_t v) noexcept { out.u8(v); }
inline void write_field(byte_writer& out, std::uint16_t v) noexcept { out.u16(v); }
inline void write_field(byte_writer& out, std::uint32_t v) noexcept { out.u32(v); }
inline void write_field(byte_writer& out, std::uint64_t v) noexcept { out.u64(v); }
inline void write_field(byte_writer& out, std::string_view v) noexcept { out.short_string(v); }
inline void write_field(byte_writer& out, const long_string& v) noexcept { out.long_string(v.value); }
inline void write_field(byte_writer& out, const field_table& v) noexcept { write_table(out, v); }

class bit_reader {
 public:
  template <class T>
  void operator()(byte_reader& in, T& field) noexcept {
    if constexpr (std::is_same_v<T, bool>) {
      if (_used == 8) {
        _octet = in.u8();
        _used = 0;
      }
      field = ((_octet >> _used++) & 1U) != 0;
    } else {
      _used = 8;
      read_field(in, field);
    }
  }

 private:
  std::uint8_t _octet = 0;
  unsigned _used = 8;  // 8: no octet open
};

class bit_writer {
 public:
  template <class T>
  void operator()(byte_writer& out, const T& field) noexcept {
    if constexpr (std::is_same_v<T, bool>) {
      if (_used == 8) flush(out);
      _octet = static_cast<std::uint8_t>(_octet | (field ? 1U << _used : 0U));
      ++_used;
    } else {
      flush(out);
      write_field(out, field);
    }
  }
  void flush(byte_writer& out) noexcept {
    if (_used > 0) out.u8(_octet);
    _octet = 0;
    _used = 0;
  }

 private:
  std::uint8_t _octet = 0;
  unsigned _used = 0;  // bits in the open octet
};

template <class M>
void read_arguments(byte_reader& in, M& m) noexcept {
  bit_reader bits;
  std::apply([&](auto&... f) { (bits(in, f), ...); }, m.fields());
}

template <class M>
void write_arguments(byte_writer& out, const M& m) noexcept {
  bit_writer bits;
  std::apply([&](const auto&... f) { (bits(out, f), ...); }, m.fields());
  bits.flush(out);
}

}  // namespace haremq::amqp::detail
