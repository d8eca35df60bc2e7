#pragma once

#include <cstdint>

// What an io_uring completion (or an epoll event) is about, packed into the 64 bits of
// `user_data` (`epoll_data.u64`) so that it is dispatched without a lookup table: the
// operation kind, a slot (connection or listener index) and the low 24 bits of the
// connection's generation.
namespace haremq::io::detail {

enum class op_kind : std::uint8_t {
  accept = 1,  // slot = listener index
  recv,        // slot + generation = connection
  send,        // slot + generation = connection
  wake,        // the eventfd read
  cancel,      // an async cancel; its completion carries nothing to act on
  readiness,   // epoll: an event on a connection (slot + generation)
  file_write,  // slot = the file operation
  file_sync,   // slot = the file operation
};

struct op_data {
  op_kind kind{};
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;  // only the low `generation_bits` survive packing
};

inline constexpr unsigned generation_bits = 24;
inline constexpr std::uint32_t generation_mask = (1u << generation_bits) - 1;

// Layout, high to low: kind (8 bits) | generation (24 bits) | slot (32 bits). 24 bits of
// generation are enough because a slot is never reused while an operation on it is in
// flight; the generation only double-checks that invariant.
constexpr std::uint64_t pack(op_data d) noexcept {
  return (std::uint64_t{static_cast<std::uint8_t>(d.kind)} << 56) |
         (std::uint64_t{d.generation & generation_mask} << 32) | std::uint64_t{d.slot};
}

constexpr op_data unpack(std::uint64_t v) noexcept {
  return {static_cast<op_kind>(static_cast<std::uint8_t>(v >> 56)),
          static_cast<std::uint32_t>(v & 0xffff'ffffu),
          static_cast<std::uint32_t>((v >> 32) & generation_mask)};
}

constexpr bool same_generation(std::uint32_t full, std::uint32_t packed) noexcept {
  return (full & generation_mask) == packed;
}

}  // namespace haremq::io::detail
