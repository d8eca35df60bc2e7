#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "net/amqp/byte_reader.h"
#include "net/amqp/endian.h"
#include "net/amqp/errc.h"

namespace haremq::amqp {

// Big-endian writer into a caller's buffer. Writing past the end latches
// `buffer_too_small` and writes nothing more, so an encoder checks once at the end.
// Not thread-safe; allocates nothing.
class byte_writer {
 public:
  explicit byte_writer(std::span<std::byte> out) noexcept : _data(out.data()), _size(out.size()) {}

  void u8(std::uint8_t v) noexcept {
    if (room(1)) _data[_pos++] = std::byte{v};
  }
  void u16(std::uint16_t v) noexcept { be(v); }
  void u32(std::uint32_t v) noexcept { be(v); }
  void u64(std::uint64_t v) noexcept { be(v); }

  void bytes(bytes_view b) noexcept {
    if (!room(b.size())) return;
    if (!b.empty()) std::memcpy(_data + _pos, b.data(), b.size());
    _pos += b.size();
  }
  void short_string(std::string_view s) noexcept {
    if (s.size() > 255) [[unlikely]] {
      fail(errc::value_too_long);
      return;
    }
    u8(static_cast<std::uint8_t>(s.size()));
    bytes(as_bytes(s));
  }
  void long_string(std::string_view s) noexcept {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes(as_bytes(s));
  }

  // Writes a value at an earlier position (a length that is known only after its content).
  void patch_u32(std::size_t at, std::uint32_t v) noexcept {
    if (!ok() || at + 4 > _pos) return;
    detail::store_be(_data + at, v);
  }

  std::size_t position() const noexcept { return _pos; }
  std::span<std::byte> written() const noexcept { return {_data, _pos}; }
  bool ok() const noexcept { return _error == errc{}; }
  errc error() const noexcept { return _error; }
  void fail(errc e) noexcept {
    if (ok()) _error = e;
  }

 private:
  bool room(std::size_t n) noexcept {
    if (!ok()) return false;
    if (n > _size - _pos) [[unlikely]] {
      fail(errc::buffer_too_small);
      return false;
    }
    return true;
  }
  template <class T>
  void be(T v) noexcept {
    if (!room(sizeof(T))) return;
    detail::store_be(_data + _pos, v);
    _pos += sizeof(T);
  }

  std::byte* _data;
  std::size_t _size;
  std::size_t _pos = 0;
  errc _error{};
};

}  // namespace haremq::amqp
