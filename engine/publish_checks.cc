#include "engine/publish_checks.h"

#include "engine/header_routes.h"

namespace haremq::engine {

std::optional<std::string> property_refusal(const amqp::basic_properties& p, const message_traits& traits) {
  if (p.has(amqp::property::expiration) && traits.ttl_ms < 0) {
    // Not a valid expiration: parsed again only to name the error.
    return "invalid expiration '" + std::string(p.expiration) + "': " + parse_expiration(p.expiration).error;
  }
  if (traits.header_routes) {
    if (std::string error = header_routes_error(p); !error.empty()) return "invalid message: " + error;
  }
  return std::nullopt;
}

}  // namespace haremq::engine
