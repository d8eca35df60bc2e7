#pragma once

#include <system_error>

// The load-test harness's own error codes (a bad --uri), registered as a std::error_category.
namespace haremq::perf {

enum class errc {
  uri_bad_scheme = 1,     // not amqp://
  uri_tls_unsupported,    // amqps:// (the harness speaks plain TCP only)
  uri_empty_host,         // nothing between "//" and the port or path
  uri_bad_host,           // an unclosed "[" around an IPv6 address, or junk after "]"
  uri_bad_port,           // not a number in 1..65535
  uri_bad_escape,         // "%" not followed by two hex digits
  uri_vhost_has_slash,    // a second unescaped "/" in the path (a vhost is one segment)
  uri_query_unsupported,  // "?..." or "#..." after the path
};

const std::error_category& perf_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), perf_category()};
}

}  // namespace haremq::perf

template <>
struct std::is_error_code_enum<haremq::perf::errc> : std::true_type {};
