#include "mgmt/views.h"

#include <xxhash.h>

#include <cctype>

#include "engine/store/definitions.h"

namespace haremq::mgmt {
namespace {

json rate(double r) { return json{{"rate", r}}; }

json arguments_json(const std::vector<std::byte>& bytes) {
  return engine::store::arguments_to_json(amqp::field_table::trusted(bytes));
}

std::string url_safe_base64(const unsigned char* data, std::size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(data[i]) << 16;
    if (i + 1 < n) v |= static_cast<std::uint32_t>(data[i + 1]) << 8;
    if (i + 2 < n) v |= data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (i + 1 < n) out += alphabet[(v >> 6) & 63];
    if (i + 2 < n) out += alphabet[v & 63];
  }
  return out;
}

}  // namespace

json message_stats(api_context& c, const std::string& key, const engine::queue_stats& s) {
  const std::uint64_t deliver_get = s.delivered + s.delivered_no_ack + s.got + s.got_no_ack;
  json m = json::object();
  const auto counter = [&](const char* name, std::uint64_t value) {
    m[name] = value;
    m[std::string(name) + "_details"] = rate(c.rates.rate(key + "/" + name, static_cast<double>(value)));
  };
  counter("publish", s.published);
  counter("deliver", s.delivered);
  counter("deliver_no_ack", s.delivered_no_ack);
  counter("get", s.got);
  counter("get_no_ack", s.got_no_ack);
  counter("deliver_get", deliver_get);
  counter("redeliver", s.redelivered);
  counter("ack", s.acked);
  return m;
}

const engine::policy_record* queue_policy(const engine::vhost_record& v, const engine::queue_record& q) {
  if (q.settings.policy.empty()) return nullptr;
  const auto it = v.policies.find(q.settings.policy);
  return it == v.policies.end() ? nullptr : &it->second;
}

const engine::policy_record* exchange_policy(const engine::vhost_record& v, const std::string& exchange) {
  return engine::applicable_policy(v, false, exchange);
}

json queue_json(api_context& c, const engine::queue_record& q, const queue_snapshot* live,
                const engine::policy_record* policy) {
  const auto& s = q.settings;
  const std::string key = "queue/" + s.vhost + "/" + s.name;
  const std::uint64_t ready = live ? live->ready : 0, unacked = live ? live->unacked : 0;
  json j{{"name", s.name},
         {"vhost", s.vhost},
         {"durable", s.durable},
         {"auto_delete", s.auto_delete},
         {"exclusive", s.exclusive},
         {"arguments", arguments_json(s.arguments)},
         {"type", "classic"},
         {"state", live ? "running" : "down"},
         {"node", "haremq@localhost"},
         {"consumers", live ? live->consumers : 0},
         {"policy", policy != nullptr ? json(policy->name) : json(nullptr)},
         {"operator_policy", nullptr},
         // The policy's whole definition, keys an argument overrides included, as RabbitMQ shows it.
         {"effective_policy_definition", policy != nullptr ? json::parse(policy->definition) : json::object()},
         {"exclusive_consumer_tag", nullptr},
         {"head_message_timestamp", nullptr},
         // Every consumer can take a message at once unless its window is full: HareMQ does not
         // measure how often that happens, so a queue with consumers reports full capacity.
         {"consumer_capacity", live && live->consumers > 0 ? json(1.0) : json(0)},
         {"consumer_utilisation", live && live->consumers > 0 ? json(1.0) : json(0)},
         {"single_active_consumer_tag",
          live && !live->active_consumer_tag.empty() ? json(live->active_consumer_tag) : json(nullptr)},
         {"messages", ready + unacked},
         {"messages_ready", ready},
         {"messages_unacknowledged", unacked},
         {"messages_details", rate(0)},
         {"messages_ready_details", rate(0)},
         {"messages_unacknowledged_details", rate(0)}};
  if (live) j["message_stats"] = message_stats(c, key, live->stats);
  return j;
}

json exchange_json(const std::string& vhost, const engine::exchange_record& x, const engine::policy_record* policy) {
  json j{{"name", x.name},
         {"vhost", vhost},
         {"type", std::string(engine::name_of(x.type))},
         {"durable", x.durable},
         {"auto_delete", x.auto_delete},
         {"internal", x.internal},
         {"arguments", arguments_json(x.arguments)},
         {"user_who_performed_action", "rmq-internal"}};
  if (policy != nullptr) j["policy"] = policy->name;
  return j;
}

// A routing key as RabbitMQ puts it into a path: form-encoded ("x.#" -> "x.%23", "a b" -> "a+b").
std::string form_encoded(std::string_view key) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else if (ch == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string properties_key(std::string_view routing_key, const std::vector<std::byte>& arguments) {
  if (arguments.empty()) return routing_key.empty() ? "~" : form_encoded(routing_key);
  const XXH64_hash_t h = XXH3_64bits(arguments.data(), arguments.size());
  unsigned char bytes[6];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(h >> (8 * i));
  return form_encoded(routing_key) + "~" + url_safe_base64(bytes, sizeof bytes);
}

json bindings_json(const std::string& vhost, const engine::vhost_record& v) {
  json out = json::array();
  std::map<std::uint32_t, std::string> queues, exchanges;
  for (const auto& [name, q] : v.queues) queues.emplace(q.id.value, name);
  for (const auto& [name, x] : v.exchanges) exchanges.emplace(x.id, name);
  // The default exchange binds every queue by its name (RabbitMQ lists these too).
  for (const auto& [name, q] : v.queues) {
    out.push_back({{"source", ""}, {"vhost", vhost}, {"destination", name}, {"destination_type", "queue"},
                   {"routing_key", name}, {"arguments", json::object()}, {"properties_key", properties_key(name, {})}});
  }
  for (const auto& [source, x] : v.exchanges) {
    for (const auto& b : x.bindings) {
      const bool to_queue = b.to.what == engine::destination::kind::queue;
      const auto& names = to_queue ? queues : exchanges;
      const auto to = names.find(b.to.id);
      if (to == names.end()) continue;
      out.push_back({{"source", source},
                     {"vhost", vhost},
                     {"destination", to->second},
                     {"destination_type", to_queue ? "queue" : "exchange"},
                     {"routing_key", b.routing_key},
                     {"arguments", arguments_json(b.arguments)},
                     {"properties_key", properties_key(b.routing_key, b.arguments)}});
    }
  }
  return out;
}

json connection_json(api_context& api, const connection_snapshot& c) {
  const auto& s = c.session;
  json properties = s.client_properties.empty() ? json::object() : arguments_json(s.client_properties);
  std::string provided;
  if (properties.is_object() && properties.contains("connection_name") && properties["connection_name"].is_string()) {
    provided = properties["connection_name"].get<std::string>();
  }
  return json{{"name", c.name},
              {"node", "haremq@localhost"},
              {"type", "network"},
              {"protocol", "AMQP 0-9-1"},
              {"user", s.user},
              {"user_who_performed_action", s.user},
              {"vhost", s.vhost},
              {"state", s.state},
              {"host", c.host},
              {"port", c.port},
              {"peer_host", c.peer_host},
              {"peer_port", c.peer_port},
              {"auth_mechanism", s.auth_mechanism},
              {"ssl", false},
              {"channels", s.channels.size()},
              {"channel_max", s.channel_max},
              {"frame_max", s.frame_max},
              {"timeout", s.heartbeat},
              {"connected_at", c.connected_at_ms},
              {"client_properties", properties},
              {"user_provided_name", provided.empty() ? json(nullptr) : json(provided)},
              {"recv_oct", c.received_bytes},
              {"recv_oct_details", {{"rate", api.rates.rate("connection/" + c.name + "/recv", double(c.received_bytes))}}},
              {"recv_cnt", c.reads},
              {"send_oct", c.sent_bytes},
              {"send_oct_details", {{"rate", api.rates.rate("connection/" + c.name + "/send", double(c.sent_bytes))}}},
              {"send_cnt", c.writes},
              {"send_pend", c.pending_output},
              {"ssl_protocol", nullptr},
              {"ssl_cipher", nullptr},
              {"ssl_hash", nullptr},
              {"ssl_key_exchange", nullptr},
              {"peer_cert_issuer", nullptr},
              {"peer_cert_subject", nullptr},
              {"peer_cert_validity", nullptr}};
}

json channel_json(const connection_snapshot& c, const session::channel_description& ch) {
  std::size_t unacked = ch.unacked;
  return json{{"name", c.name + " (" + std::to_string(ch.number) + ")"},
              {"number", ch.number},
              {"node", "haremq@localhost"},
              {"user", c.session.user},
              {"user_who_performed_action", c.session.user},
              {"vhost", c.session.vhost},
              {"connection_details", {{"name", c.name}, {"peer_host", c.peer_host}, {"peer_port", c.peer_port}}},
              {"state", "running"},
              {"confirm", ch.confirm},
              {"transactional", ch.transactional},
              {"prefetch_count", ch.prefetch},
              {"global_prefetch_count", ch.global_prefetch},
              {"consumer_count", ch.consumers.size()},
              {"messages_unacknowledged", unacked},
              {"messages_unconfirmed", ch.unconfirmed},
              {"messages_uncommitted", 0},
              {"acks_uncommitted", 0}};
}

json consumer_json(const connection_snapshot& c, const session::channel_description& ch,
                   const session::consumer_description& consumer, const std::string& queue_name,
                   const queue_snapshot* queue) {
  // With single active consumer, the one that receives is "single_active", the others wait.
  bool active = true;
  std::string activity = "up";
  if (queue != nullptr && queue->single_active_consumer) {
    active = queue->active_consumer && queue->active_consumer->connection == c.key &&
             queue->active_consumer->channel == ch.number && queue->active_consumer_tag == consumer.tag;
    activity = active ? "single_active" : "waiting";
  }
  return json{{"consumer_tag", consumer.tag},
              {"queue", {{"name", queue_name}, {"vhost", c.session.vhost}}},
              {"channel_details",
               {{"name", c.name + " (" + std::to_string(ch.number) + ")"},
                {"number", ch.number},
                {"connection_name", c.name},
                {"node", "haremq@localhost"},
                {"peer_host", c.peer_host},
                {"peer_port", c.peer_port},
                {"user", c.session.user}}},
              {"ack_required", consumer.ack_required},
              {"exclusive", consumer.exclusive},
              {"prefetch_count", consumer.prefetch},
              {"active", active},
              {"activity_status", activity},
              {"arguments", json::object()}};
}

queue_names::queue_names(const engine::vhost_map& vhosts) {
  for (const auto& [vhost, v] : vhosts) {
    for (const auto& [name, q] : v.queues) by_id[q.id.value] = {vhost, name};
  }
}

}  // namespace haremq::mgmt
