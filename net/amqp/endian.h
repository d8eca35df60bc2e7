#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

// Big-endian loads and stores of unaligned integers: memcpy plus a byte swap compiles to
// one mov + bswap (movbe) on x86-64, where a shift loop would not.
namespace haremq::amqp::detail {

template <class T>
T load_be(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(v));
  else if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
  else if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(v));
  else return v;
}

template <class T>
void store_be(std::byte* p, T v) noexcept {
  if constexpr (sizeof(T) == 2) v = static_cast<T>(__builtin_bswap16(v));
  else if constexpr (sizeof(T) == 4) v = static_cast<T>(__builtin_bswap32(v));
  else if constexpr (sizeof(T) == 8) v = static_cast<T>(__builtin_bswap64(v));
  std::memcpy(p, &v, sizeof v);
}

}  // namespace haremq::amqp::detail
