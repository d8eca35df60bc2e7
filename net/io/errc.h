#pragma once

#include <string_view>
#include <system_error>

// The reactor's own error codes, registered as their own std::error_category. Failures the
// kernel reports travel as std::system_category codes instead.
namespace haremq::io {

enum class errc {
  peer_closed = 1,   // the peer ended the stream in order (a 0-byte read): no error on the wire
  uring_unsupported,  // the kernel's io_uring lacks an operation the reactor needs
};

const std::error_category& io_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), io_category()};
}

}  // namespace haremq::io

template <>
struct std::is_error_code_enum<haremq::io::errc> : std::true_type {};
