#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace haremq {

// result<T>: a value or a std::error_code, shaped like C++23's std::expected (which GCC 12's
// C++20 library lacks). Expected failures travel as results; broken invariants abort.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : _state(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(std::error_code error) : _state(std::in_place_index<1>, error) {}  // NOLINT
  template <class E>
    requires std::is_error_code_enum_v<E>
  result(E error) : _state(std::in_place_index<1>, make_error_code(error)) {}  // NOLINT

  bool has_value() const noexcept { return _state.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & noexcept { return *std::get_if<0>(&_state); }
  const T& value() const& noexcept { return *std::get_if<0>(&_state); }
  T&& value() && noexcept { return std::move(*std::get_if<0>(&_state)); }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  std::error_code error() const noexcept {
    const auto* e = std::get_if<1>(&_state);
    return e != nullptr ? *e : std::error_code{};
  }

 private:
  std::variant<T, std::error_code> _state;
};

// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(std::error_code error) : _error(error) {}  // NOLINT
  template <class E>
    requires std::is_error_code_enum_v<E>
  result(E error) : _error(make_error_code(error)) {}  // NOLINT

  bool has_value() const noexcept { return !_error; }
  explicit operator bool() const noexcept { return has_value(); }
  std::error_code error() const noexcept { return _error; }

 private:
  std::error_code _error;
};

}  // namespace haremq
