#pragma once

#include <cstdint>

namespace haremq::amqp {

// A method's (class-id, method-id) pair, the first four bytes of a method frame's payload.
struct method_id {
  std::uint16_t class_id = 0;
  std::uint16_t method = 0;
  friend constexpr bool operator==(method_id, method_id) = default;
};

// A compile-time string usable as a template argument (a method's dotted name).
template <std::size_t N>
struct fixed_name {
  char text[N]{};
  constexpr fixed_name(const char (&s)[N]) {  // NOLINT: implicit so "a.b" can be passed
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};

}  // namespace haremq::amqp
