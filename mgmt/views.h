#pragma once

#include "engine/topology.h"
#include "mgmt/api.h"

// The JSON objects of RabbitMQ's API for HareMQ's objects: a queue, an exchange, a binding, a
// connection, a channel, a consumer, and message_stats with their rates.
namespace haremq::mgmt {

// message_stats of counters named as RabbitMQ names them, each with its "_details": {"rate"}.
// `key` names the object for the rate tracker.
json message_stats(api_context& c, const std::string& key, const engine::queue_stats& s);

// A queue as /api/queues lists it; `live` is its object's snapshot (absent: no worker answered),
// `policy` the policy that applies to it (null: none).
json queue_json(api_context& c, const engine::queue_record& q, const queue_snapshot* live,
                const engine::policy_record* policy);
// An exchange; RabbitMQ adds "policy" only when one applies.
json exchange_json(const std::string& vhost, const engine::exchange_record& x, const engine::policy_record* policy);
// The policy that applies to a queue (as its record says) or an exchange of `v`, or null.
const engine::policy_record* queue_policy(const engine::vhost_record& v, const engine::queue_record& q);
const engine::policy_record* exchange_policy(const engine::vhost_record& v, const std::string& exchange);
// Every binding of a vhost, the default exchange's implicit ones first, as /api/bindings lists them.
json bindings_json(const std::string& vhost, const engine::vhost_record& v);
// RabbitMQ's "properties_key" of a binding: the routing key, or key~hash with arguments.
std::string properties_key(std::string_view routing_key, const std::vector<std::byte>& arguments);
// Form encoding as RabbitMQ applies it to routing keys in paths ("x.#" -> "x.%23", "a b" -> "a+b").
std::string form_encoded(std::string_view key);

json connection_json(api_context& api, const connection_snapshot& c);
json channel_json(const connection_snapshot& c, const session::channel_description& ch);
// `queue`: the consumer's queue's snapshot (null: not known), for single active consumer's
// "active" and "activity_status".
json consumer_json(const connection_snapshot& c, const session::channel_description& ch,
                   const session::consumer_description& consumer, const std::string& queue_name,
                   const queue_snapshot* queue);

// The queue's name and vhost by id, from a topology snapshot.
struct queue_names {
  std::map<std::uint32_t, std::pair<std::string, std::string>> by_id;  // id -> (vhost, name)
  explicit queue_names(const engine::vhost_map& vhosts);
};

}  // namespace haremq::mgmt
