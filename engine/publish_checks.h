#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/message.h"
#include "net/amqp/properties.h"

// What RabbitMQ refuses in a publish's properties, with 406 PRECONDITION_FAILED, once the
// exchange is known to exist and take it (rabbit_channel's checks, in its order): a user_id
// that is not the publisher's, unless the publisher is tagged impersonator; an expiration
// that is not a number of milliseconds; a CC or BCC header that is not an array. The channel
// and the HTTP API's publish both ask.
namespace haremq::engine {

// The checks that do not depend on who publishes (expiration, CC/BCC).
std::optional<std::string> property_refusal(const amqp::basic_properties& p, const message_traits& traits);

// The refusal's text after "PRECONDITION_FAILED - "; nullopt when the publish may go on.
// `impersonator` is asked only when user_id names someone else.
template <class IsImpersonator>
std::optional<std::string> publish_refusal(const amqp::basic_properties& p, const message_traits& traits,
                                           std::string_view user, IsImpersonator&& impersonator) {
  if (p.has(amqp::property::user_id) && p.user_id != user && !impersonator()) {
    return "user_id property set to '" + std::string(p.user_id) + "' but authenticated user was '" + std::string(user) +
           "'";
  }
  if (!p.has(amqp::property::expiration) && !traits.header_routes) [[likely]] return std::nullopt;
  return property_refusal(p, traits);
}

}  // namespace haremq::engine
