#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "perf/errc.h"

// amqp://user:pass@host:port/vhost, as RabbitMQ's URI spec reads it, with two deviations:
// an empty path ("amqp://h/") means the vhost "/" rather than "", since no broker has an
// empty vhost; and query parameters are refused instead of half-supported.
namespace haremq::perf {

struct amqp_uri {
  std::string user = "guest";
  std::string password = "guest";
  std::string host = "127.0.0.1";  // without the brackets of an IPv6 literal
  std::uint16_t port = 5672;
  std::string vhost = "/";

  // host:port, with brackets around an IPv6 literal, for messages.
  std::string endpoint() const;
};

// Parses and percent-decodes; absent parts keep their defaults. Allocates; thread-safe.
[[nodiscard]] result<amqp_uri> parse_uri(std::string_view text);

// "localhost", or a literal in 127.0.0.0/8 or ::1: the only targets a load test may hit
// without --allow-remote. Judged on the text; the connector checks resolved addresses too.
bool is_loopback_host(std::string_view host) noexcept;

}  // namespace haremq::perf
