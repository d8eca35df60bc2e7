#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "net/amqp/endian.h"
#include "net/amqp/errc.h"

namespace haremq::amqp {

using bytes_view = std::span<const std::byte>;

inline std::string_view as_chars(bytes_view b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Bounds-checked big-endian reader over a byte span; everything it returns is a view into
// that span. A read past the end returns zero/empty and latches the first error, so a
// decoder reads all its fields and checks once (the check is a branch per field anyway).
// Not thread-safe; allocates nothing.
class byte_reader {
 public:
  explicit byte_reader(bytes_view input) noexcept : _data(input.data()), _size(input.size()) {}

  std::uint8_t u8() noexcept { return take(1) ? std::to_integer<std::uint8_t>(_data[_pos - 1]) : 0; }
  std::uint16_t u16() noexcept { return be<std::uint16_t>(); }
  std::uint32_t u32() noexcept { return be<std::uint32_t>(); }
  std::uint64_t u64() noexcept { return be<std::uint64_t>(); }

  // A span of n bytes; a length that runs past the end is `length_past_end`.
  bytes_view bytes(std::size_t n) noexcept {
    if (n > remaining()) {
      fail(errc::length_past_end);
      return {};
    }
    bytes_view out{_data + _pos, n};
    _pos += n;
    return out;
  }

  // shortstr: one length octet, then up to 255 bytes (spec §4.2.5.3).
  std::string_view short_string() noexcept {
    const std::size_t n = u8();
    return as_chars(bytes(n));
  }
  // longstr: a 32-bit length, then the bytes.
  std::string_view long_string() noexcept {
    const std::size_t n = u32();
    return as_chars(bytes(n));
  }

  std::size_t position() const noexcept { return _pos; }
  std::size_t remaining() const noexcept { return _size - _pos; }
  bool ok() const noexcept { return _error == errc{}; }
  errc error() const noexcept { return _error; }
  void fail(errc e) noexcept {
    if (ok()) _error = e;
    _pos = _size;  // nothing more is read once an error latched
  }

 private:
  bool take(std::size_t n) noexcept {
    if (n > remaining()) [[unlikely]] {
      fail(errc::truncated);
      return false;
    }
    _pos += n;
    return true;
  }
  template <class T>
  T be() noexcept {
    if (!take(sizeof(T))) return 0;
    return detail::load_be<T>(_data + _pos - sizeof(T));
  }

  const std::byte* _data;
  std::size_t _size;
  std::size_t _pos = 0;
  errc _error{};
};

}  // namespace haremq::amqp
