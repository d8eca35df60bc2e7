#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/message.h"
#include "net/amqp/field_table.h"
#include "net/amqp/properties.h"

// Sender-selected distribution, as RabbitMQ does it (rabbit_basic:header_routes): the CC and
// BCC headers of a publish, arrays of strings, name more routing keys for the message, routed
// by each of them on top of its own (each queue still gets one copy). The BCC header is taken
// out before any consumer sees the message; its keys stay with the message, since a dead
// letter is routed by all of them again. Used by the channel and the HTTP API's publish.
namespace haremq::engine {

// RabbitMQ's term for a CC or BCC header that is not an array,
// "{unacceptable_type_in_header,\"CC\",longstr}" (CC named first); empty when both are fine.
std::string header_routes_error(const amqp::basic_properties& p);

// What a published message keeps of its properties, and the BCC keys it is routed by besides.
struct kept_properties {
  amqp::bytes_view properties;
  amqp::bytes_view bcc;  // the BCC array's content
};
// `encoded` (the properties `p` as received) when there is no BCC header; else the properties
// re-encoded into `buffer` without it (a headers table left empty stays, as RabbitMQ leaves
// it). Allocates only when `buffer` is too small. `p` must have passed header_routes_error.
kept_properties take_out_bcc(const amqp::basic_properties& p, amqp::bytes_view encoded, std::vector<std::byte>& buffer);

// Calls f(key) for each string of a CC or BCC array, in order; RabbitMQ skips other values.
template <class F>
void for_each_route(const amqp::field_array& routes, F&& f) {
  for (const auto& v : routes) {
    if (v.type() == amqp::field_type::long_string) f(v.as_string());
  }
}

// The keys `m` is routed by: its routing key, then its CC header's strings, then its BCC
// keys (views into `m`).
void routing_keys_of(const message& m, std::vector<std::string_view>& out);

}  // namespace haremq::engine
