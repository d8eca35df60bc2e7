// Exchanges, queues and bindings: list, declare, delete, purge, publish and get.
#include <algorithm>

#include "engine/header_routes.h"
#include "engine/message.h"
#include "engine/publish_checks.h"
#include "engine/shard.h"
#include "engine/store/definitions.h"
#include "mgmt/api.h"
#include "mgmt/views.h"
#include "net/amqp/properties.h"

namespace haremq::mgmt {
namespace {

using engine::access::permission;
using resource = engine::access::resource_kind;

// The API names the default exchange "amq.default" in paths; the topology names it "".
std::string exchange_named(const std::string& path_segment) {
  return path_segment == "amq.default" ? std::string() : path_segment;
}

// 400 with RabbitMQ's list of the keys a body lacks ("[{key_missing,properties},...]").
void require_keys(const json& body, std::initializer_list<const char*> keys) {
  std::string missing;
  for (const char* key : keys) {
    if (!body.contains(key)) missing += std::string(missing.empty() ? "" : ",") + "{key_missing," + key + "}";
  }
  if (!missing.empty()) throw bad_request("[" + missing + "]");
}

// RabbitMQ's reason for a refused declare or bind: its AMQP text without the "CODE - " prefix.
api_error refused(const engine::topology_error& e) {
  std::string text = e.text;
  if (const auto dash = text.find(" - "); dash != std::string::npos && dash < 24) text.erase(0, dash + 3);
  const int status = e.code == amqp::reply_code::not_found ? 404 : e.code == amqp::reply_code::access_refused ? 401 : 400;
  if (status == 401) return not_authorised("Access refused.");
  return api_error(status, status == 404 ? "not_found" : "bad_request", text);
}

// The "arguments" of a body as field table bytes.
std::vector<std::byte> arguments_of(const json& body) {
  const auto it = body.find("arguments");
  if (it == body.end() || it->is_null() || (it->is_array() && it->empty())) return {};
  if (!it->is_object()) throw bad_request("\"arguments\" must be an object");
  auto bytes = engine::store::arguments_from_json(*it);
  if (auto* why = std::get_if<std::string>(&bytes)) throw bad_request(*why);
  return std::get<std::vector<std::byte>>(std::move(bytes));
}

// --- exchanges ---

void list_exchanges(api_context& c, const request& r, response& out) {
  json items = json::array();
  const bool one_vhost = r.path.size() == 2;
  if (one_vhost) check_vhost(c, r, r.path[1]);
  for (const auto& [vhost, v] : c.broker.topology().snapshot().first) {
    if ((one_vhost && vhost != r.path[1]) || !may_see_vhost(c, r, vhost)) continue;
    for (const auto& [name, x] : v.exchanges) items.push_back(exchange_json(vhost, x, exchange_policy(v, name)));
  }
  out.set_json(shape_list(r, std::move(items)));
}

const engine::exchange_record& find_exchange(const engine::vhost_map& vhosts, const std::string& vhost,
                                             const std::string& name) {
  const auto v = vhosts.find(vhost);
  if (v == vhosts.end()) throw not_found();
  const auto x = v->second.exchanges.find(name);
  if (x == v->second.exchanges.end()) throw not_found();
  return x->second;
}

void get_exchange(api_context& c, const request& r, response& out) {
  check_vhost(c, r, r.path[1]);
  const auto vhosts = c.broker.topology().snapshot().first;
  const std::string name = exchange_named(r.path[2]);
  const auto& x = find_exchange(vhosts, r.path[1], name);  // 404 unless both are there
  json j = exchange_json(r.path[1], x, exchange_policy(vhosts.at(r.path[1]), name));
  j["incoming"] = json::array();
  j["outgoing"] = json::array();
  out.set_json(shape_object(r, std::move(j)));
}

// A PUT of /api/{exchanges|queues}/{vhost}/{name}: the vhost exists and the user may configure it.
void check_declare(api_context& c, const request& r, resource kind) {
  if (!c.broker.topology().vhost_exists(r.path[1])) throw api_error(404, "not_found", "vhost_not_found");
  check_vhost(c, r, r.path[1]);
  check_permission(c, r, permission::configure, kind, r.path[1], r.path[2]);
}

void put_exchange(api_context& c, const request& r, response& out) {
  const std::string &vhost = r.path[1], &name = r.path[2];
  check_declare(c, r, resource::exchange);
  const json body = r.body_json();
  const std::string type = body.contains("type") && body["type"].is_string() ? body["type"].get<std::string>() : "direct";
  const auto arguments = arguments_of(body);
  const bool existed = c.broker.topology().snapshot().first.at(vhost).exchanges.count(name) > 0;
  const engine::exchange_declaration d{name,
                                       type,
                                       false,
                                       json_flag(body, "durable", false),
                                       json_flag(body, "auto_delete", false),
                                       json_flag(body, "internal", false),
                                       amqp::field_table::trusted(arguments)};
  if (auto e = c.broker.topology().declare_exchange(vhost, d)) throw refused(*e);
  out.status = existed ? 204 : 201;
}

void delete_exchange(api_context& c, const request& r, response& out) {
  check_vhost(c, r, r.path[1]);
  find_exchange(c.broker.topology().snapshot().first, r.path[1], exchange_named(r.path[2]));  // 404 if missing
  check_permission(c, r, permission::configure, resource::exchange, r.path[1], r.path[2]);
  if (auto e = c.broker.topology().delete_exchange(r.path[1], r.path[2], r.param("if-unused") == "true")) {
    throw refused(*e);
  }
  out.status = 204;
}

// POST /api/exchanges/{v}/{x}/publish: one message, routed on worker 0 as a publish would be.
// The string-valued basic properties, by their JSON names.
struct text_property {
  const char* key;
  std::string_view amqp::basic_properties::*field;
  amqp::property flag;
};
constexpr text_property text_properties[] = {
    {"content_type", &amqp::basic_properties::content_type, amqp::property::content_type},
    {"content_encoding", &amqp::basic_properties::content_encoding, amqp::property::content_encoding},
    {"correlation_id", &amqp::basic_properties::correlation_id, amqp::property::correlation_id},
    {"reply_to", &amqp::basic_properties::reply_to, amqp::property::reply_to},
    {"expiration", &amqp::basic_properties::expiration, amqp::property::expiration},
    {"message_id", &amqp::basic_properties::message_id, amqp::property::message_id},
    {"type", &amqp::basic_properties::type, amqp::property::type},
    {"user_id", &amqp::basic_properties::user_id, amqp::property::user_id},
    {"app_id", &amqp::basic_properties::app_id, amqp::property::app_id},
};

// The properties of an API publish; its strings view `p`, and `headers` holds the headers table.
amqp::basic_properties properties_of(const json& p, std::vector<std::byte>& headers) {
  amqp::basic_properties props;
  if (!p.is_object()) return props;
  for (const auto& [key, field, flag] : text_properties) {
    if (const auto it = p.find(key); it != p.end() && it->is_string()) {
      props.*field = it->get_ref<const std::string&>();
      props.set(flag);
    }
  }
  if (p.contains("delivery_mode")) {
    props.delivery_mode = static_cast<std::uint8_t>(json_number(p, "delivery_mode", 1));
    props.set(amqp::property::delivery_mode);
  }
  if (p.contains("priority")) {
    props.priority = static_cast<std::uint8_t>(json_number(p, "priority", 0));
    props.set(amqp::property::priority);
  }
  if (p.contains("timestamp")) {
    props.timestamp = static_cast<std::uint64_t>(json_number(p, "timestamp", 0));
    props.set(amqp::property::timestamp);
  }
  if (const auto it = p.find("headers"); it != p.end() && it->is_object()) {
    auto bytes = engine::store::arguments_from_json(*it);
    if (auto* why = std::get_if<std::string>(&bytes)) throw bad_request(*why);
    headers = std::get<std::vector<std::byte>>(std::move(bytes));
    props.headers = amqp::field_table::trusted(headers);
    props.set(amqp::property::headers);
  }
  return props;
}

std::vector<std::byte> base64_decode(const std::string& text) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::byte> out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == '=' || ch == '\n' || ch == '\r') continue;
    const auto v = alphabet.find(ch);
    if (v == std::string_view::npos) throw bad_request("payload is not valid base64");
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::byte>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

void publish(api_context& c, const request& r, response& out) {
  const std::string &vhost = r.path[1], exchange = exchange_named(r.path[2]);
  check_vhost(c, r, vhost);
  check_permission(c, r, permission::write, resource::exchange, vhost, exchange);
  const json body = r.body_json();
  require_keys(body, {"routing_key", "properties", "payload", "payload_encoding"});
  const std::string routing_key = body["routing_key"].is_string() ? body["routing_key"].get<std::string>() : "";
  const std::string payload = body["payload"].is_string() ? body["payload"].get<std::string>() : "";
  const std::string encoding = body.value("payload_encoding", "string");
  std::vector<std::byte> bytes;
  if (encoding == "base64") {
    bytes = base64_decode(payload);
  } else {
    const auto* p = reinterpret_cast<const std::byte*>(payload.data());
    bytes.assign(p, p + payload.size());
  }
  std::vector<std::byte> headers;
  // Kept alive: the properties' strings are views into it until they are encoded.
  const json properties = body.value("properties", json::object());
  const auto props = properties_of(properties, headers);
  std::vector<std::byte> encoded(64 * 1024);
  amqp::byte_writer writer{encoded};
  amqp::write_properties(writer, props);
  encoded.resize(writer.position());
  const auto traits = engine::message_traits::of(props);
  const auto refused = engine::publish_refusal(props, traits, r.user.name, [&] { return r.user.has_tag("impersonator"); });
  // Owned by the task below, which may outlive this request (run_on gives up waiting): the
  // properties without BCC in `encoded`, the BCC keys copied out.
  std::vector<std::byte> bcc;
  if (traits.header_routes && !refused) {
    std::vector<std::byte> buffer;
    const auto kept = engine::take_out_bcc(props, encoded, buffer);
    bcc.assign(kept.bcc.begin(), kept.bcc.end());
    encoded = std::vector<std::byte>(kept.properties.begin(), kept.properties.end());
  }

  // Routed on worker 0, then enqueued by each queue's owner before the answer: a request that
  // follows (a get, a delete with if-empty) sees the message, as it would in RabbitMQ.
  struct outcome {
    bool found = false;
    bool internal = false;
    std::vector<engine::queue_target> targets;
    engine::message_ref msg;
  };
  auto result = std::make_shared<outcome>();
  c.broker.run_on(engine::worker_id{0}, [=](session::worker_context& w) {
    auto& replica = w.replica();
    const auto* x = replica.find_exchange(vhost, exchange);
    if (x == nullptr) return;
    result->found = true;
    if (x->internal) {
      result->internal = true;
      return;
    }
    if (refused) return;
    engine::message* m = engine::message::create(exchange, routing_key, encoded, bytes.size(), traits, bcc);
    if (m == nullptr) return;
    result->msg = engine::message_ref{m};
    result->msg->append_body(bytes);
    replica.route(vhost, *result->msg, result->targets);
  });
  std::vector<engine::worker_id> owners;
  for (const auto& t : result->targets) {
    if (std::find(owners.begin(), owners.end(), t.owner) == owners.end()) owners.push_back(t.owner);
  }
  for (const auto owner : owners) {
    c.broker.run_on(owner, [result, owner](session::worker_context& w) {
      for (const auto& t : result->targets) {
        if (t.owner == owner) w.shard().handle(engine::enqueue_cmd{t.queue, result->msg.share(), {}});
      }
    });
  }
  if (!result->found) throw bad_request("404 NOT_FOUND - no exchange '" + exchange + "' in vhost '" + vhost + "'");
  if (result->internal) {
    throw bad_request("403 ACCESS_REFUSED - cannot publish to internal exchange '" + exchange + "' in vhost '" + vhost + "'");
  }
  if (refused) throw bad_request("406 PRECONDITION_FAILED - " + *refused);
  out.set_json(json{{"routed", !result->targets.empty()}});
}

// --- queues ---

std::map<std::uint32_t, const queue_snapshot*> by_id(const broker_snapshot& live) {
  std::map<std::uint32_t, const queue_snapshot*> out;
  for (const auto& q : live.queues) out[q.id.value] = &q;
  return out;
}

void list_queues(api_context& c, const request& r, response& out) {
  const bool one_vhost = r.path.size() == 2;
  if (one_vhost) check_vhost(c, r, r.path[1]);
  const auto live = gather(c.broker);
  const auto objects = by_id(live);
  json items = json::array();
  for (const auto& [vhost, v] : c.broker.topology().snapshot().first) {
    if ((one_vhost && vhost != r.path[1]) || !may_see_vhost(c, r, vhost)) continue;
    // A monitoring user without permissions sees no queues, as in RabbitMQ.
    if (!r.user.is_administrator() && !c.broker.topology().find_permissions(vhost, r.user.name)) continue;
    for (const auto& [name, q] : v.queues) {
      const auto it = objects.find(q.id.value);
      items.push_back(queue_json(c, q, it == objects.end() ? nullptr : it->second, queue_policy(v, q)));
    }
  }
  out.set_json(shape_list(r, std::move(items)));
}

engine::queue_record find_queue(api_context& c, const request& r) {
  check_vhost(c, r, r.path[1]);
  auto found = c.broker.topology().find_queue(r.path[1], r.path[2], engine::connection_key{});
  if (auto* q = std::get_if<engine::queue_record>(&found)) return *q;
  // An exclusive queue of a connection is still listed and shown.
  const auto vhosts = c.broker.topology().snapshot().first;
  const auto& queues = vhosts.at(r.path[1]).queues;
  const auto it = queues.find(r.path[2]);
  if (it == queues.end()) throw not_found();
  return it->second;
}

void get_queue(api_context& c, const request& r, response& out) {
  const auto q = find_queue(c, r);
  const auto live = gather(c.broker);
  const auto objects = by_id(live);
  const auto it = objects.find(q.id.value);
  const auto vhosts = c.broker.topology().snapshot().first;
  const auto v = vhosts.find(r.path[1]);
  const engine::policy_record* policy = v == vhosts.end() ? nullptr : queue_policy(v->second, q);
  json j = queue_json(c, q, it == objects.end() ? nullptr : it->second, policy);
  json details = json::array();
  for (const auto& conn : live.connections) {
    for (const auto& ch : conn.session.channels) {
      for (const auto& consumer : ch.consumers) {
        if (consumer.queue == q.id) {
          details.push_back(consumer_json(conn, ch, consumer, q.settings.name,
                                          it == objects.end() ? nullptr : it->second));
        }
      }
    }
  }
  j["consumer_details"] = std::move(details);
  j["deliveries"] = json::array();
  j["incoming"] = json::array();
  out.set_json(shape_object(r, std::move(j)));
}

void put_queue(api_context& c, const request& r, response& out) {
  const std::string &vhost = r.path[1], &name = r.path[2];
  check_declare(c, r, resource::queue);
  const json body = r.body_json();
  const auto arguments = arguments_of(body);
  const bool existed = c.broker.topology().snapshot().first.at(vhost).queues.count(name) > 0;
  engine::queue_declaration d;
  d.name = name;
  d.durable = json_flag(body, "durable", false);
  d.auto_delete = json_flag(body, "auto_delete", false);
  d.arguments = amqp::field_table::trusted(arguments);
  const auto owner = c.broker.place_queue();
  auto declared = c.broker.topology().declare_queue(vhost, d, owner, engine::connection_key{});
  if (auto* e = std::get_if<engine::topology_error>(&declared)) throw refused(*e);
  const auto record = std::get<engine::queue_record>(declared);
  c.broker.run_on(record.owner, [record](session::worker_context& w) {
    if (w.shard().find(record.id) == nullptr) w.shard().create_queue(record);
  });
  out.status = existed ? 204 : 201;
}

// Runs a queue operation on the queue's owner; the error as RabbitMQ words it.
void queue_operation(api_context& c, const engine::queue_record& q, engine::queue_op op, bool if_unused, bool if_empty) {
  auto answer = std::make_shared<engine::reply_payload>();
  const bool ran = c.broker.run_on(q.owner, [=](session::worker_context& w) {
    *answer = w.shard().apply(op, q.id, if_unused, if_empty);
  });
  if (!ran) throw api_error(503, "timeout", "the queue's worker did not answer");
  if (auto* e = std::get_if<engine::reply_error>(answer.get())) throw refused(*e);
}

void delete_queue(api_context& c, const request& r, response& out) {
  const auto q = find_queue(c, r);
  check_permission(c, r, permission::configure, resource::queue, r.path[1], r.path[2]);
  queue_operation(c, q, engine::queue_op::remove, r.param("if-unused") == "true", r.param("if-empty") == "true");
  out.status = 204;
}

void purge_queue(api_context& c, const request& r, response& out) {
  const auto q = find_queue(c, r);
  check_permission(c, r, permission::read, resource::queue, r.path[1], r.path[2]);
  queue_operation(c, q, engine::queue_op::purge, false, false);
  out.status = 204;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

std::string base64_encode(std::string_view s) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (i + 1 < s.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < s.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < s.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

// A message's properties as the API shows them; RabbitMQ gives [] when there are none.
json properties_json(const engine::message& m) {
  const auto decoded = amqp::decode_properties(m.properties());
  if (!decoded || decoded->flags == 0) return json::array();
  const auto& p = *decoded;
  json j = json::object();
  for (const auto& [key, field, flag] : text_properties) {
    if (p.has(flag)) j[key] = std::string(p.*field);
  }
  if (p.has(amqp::property::delivery_mode)) j["delivery_mode"] = p.delivery_mode;
  if (p.has(amqp::property::priority)) j["priority"] = p.priority;
  if (p.has(amqp::property::timestamp)) j["timestamp"] = p.timestamp;
  if (p.has(amqp::property::headers)) j["headers"] = engine::store::arguments_to_json(p.headers);
  return j;
}

void get_messages(api_context& c, const request& r, response& out) {
  const auto q = find_queue(c, r);
  check_permission(c, r, permission::read, resource::queue, r.path[1], r.path[2]);
  const json body = r.body_json();
  require_keys(body, {"count", "ackmode", "encoding"});
  const std::string ackmode = body.value("ackmode", "");
  const bool requeue = ackmode == "ack_requeue_true" || ackmode == "reject_requeue_true";
  if (!requeue && ackmode != "ack_requeue_false" && ackmode != "reject_requeue_false") {
    throw bad_request("ackmode must be ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false");
  }
  const auto count = static_cast<std::size_t>(std::max(0LL, json_number(body, "count", 1)));
  const long long truncate = json_number(body, "truncate", -1);
  const bool base64 = body.value("encoding", "auto") == "base64";
  auto got = std::make_shared<std::vector<engine::get_result>>();
  if (!c.broker.run_on(q.owner, [=](session::worker_context& w) { *got = w.shard().fetch(q.id, count, requeue); })) {
    throw api_error(503, "timeout", "the queue's worker did not answer");
  }
  json items = json::array();
  for (const auto& g : *got) {
    const auto body_bytes = g.msg->body();
    std::string payload(reinterpret_cast<const char*>(body_bytes.data()), body_bytes.size());
    if (truncate >= 0 && static_cast<std::size_t>(truncate) < payload.size()) payload.resize(static_cast<std::size_t>(truncate));
    const bool as_text = !base64 && valid_utf8(payload);
    items.push_back({{"payload_bytes", body_bytes.size()},
                     {"redelivered", g.redelivered},
                     {"exchange", std::string(g.msg->exchange())},
                     {"routing_key", std::string(g.msg->routing_key())},
                     {"message_count", g.remaining},
                     {"properties", properties_json(*g.msg)},
                     {"payload", as_text ? payload : base64_encode(payload)},
                     {"payload_encoding", as_text ? "string" : "base64"}});
  }
  out.set_json(items);
}

// --- bindings ---

void list_bindings(api_context& c, const request& r, response& out) {
  const bool one_vhost = r.path.size() == 2;
  if (one_vhost) check_vhost(c, r, r.path[1]);
  json items = json::array();
  for (const auto& [vhost, v] : c.broker.topology().snapshot().first) {
    if ((one_vhost && vhost != r.path[1]) || !may_see_vhost(c, r, vhost)) continue;
    for (auto& b : bindings_json(vhost, v)) items.push_back(std::move(b));
  }
  out.set_json(shape_list(r, std::move(items)));
}

// The bindings of a vhost that match the given fields (empty: any).
// The source is optional rather than "empty for any": "" is the default exchange's name.
json select_bindings(const engine::vhost_map& vhosts, const std::string& vhost, const std::optional<std::string>& source,
                     const std::string& kind, const std::string& destination) {
  const auto v = vhosts.find(vhost);
  if (v == vhosts.end()) throw not_found();
  json out = json::array();
  for (auto& b : bindings_json(vhost, v->second)) {
    if (source && b["source"] != *source) continue;
    if (!kind.empty() && b["destination_type"] != kind) continue;
    if (!destination.empty() && b["destination"] != destination) continue;
    out.push_back(std::move(b));
  }
  return out;
}

// /api/bindings/{v}/e/{source}/{q|e}/{destination}[/{props}]
struct binding_path {
  std::string vhost, source, kind, destination;
  engine::binding_kind binding;
};
binding_path binding_of(const request& r) {
  const bool to_queue = r.path[4] == "q";
  if (r.path[2] != "e" || (!to_queue && r.path[4] != "e")) throw not_found();
  return {r.path[1], r.path[3], to_queue ? "queue" : "exchange", r.path[5],
          to_queue ? engine::binding_kind::queue : engine::binding_kind::exchange};
}

void get_bindings_between(api_context& c, const request& r, response& out) {
  const auto b = binding_of(r);
  check_vhost(c, r, b.vhost);
  out.set_json(shape_list(r, select_bindings(c.broker.topology().snapshot().first, b.vhost, b.source, b.kind,
                                             b.destination)));
}

// Binding and unbinding need write on the destination and read on the source, as over AMQP.
void check_binding(api_context& c, const request& r, const binding_path& b) {
  check_vhost(c, r, b.vhost);
  const auto kind = b.binding == engine::binding_kind::queue ? resource::queue : resource::exchange;
  check_permission(c, r, permission::write, kind, b.vhost, b.destination);
  check_permission(c, r, permission::read, resource::exchange, b.vhost, b.source);
}

void add_binding(api_context& c, const request& r, response& out) {
  const auto b = binding_of(r);
  check_binding(c, r, b);
  const json body = r.body_json();
  const std::string key = body.value("routing_key", "");
  const auto arguments = arguments_of(body);
  if (auto e = c.broker.topology().bind(b.vhost, b.binding, b.destination, b.source, key,
                                        amqp::field_table::trusted(arguments), engine::connection_key{})) {
    throw refused(*e);
  }
  out.status = 201;
  out.headers.emplace_back("Location", b.destination + "/" + properties_key(key, arguments));
}

json find_binding(api_context& c, const request& r, const binding_path& b) {
  for (auto& item : select_bindings(c.broker.topology().snapshot().first, b.vhost, b.source, b.kind, b.destination)) {
    // The key as listed (form-encoded), or decoded once more, as rabbitmqadmin sends it.
    const auto& key = item["properties_key"];
    if (key == r.path[6] || key == form_encoded(r.path[6])) return item;
  }
  throw not_found();
}

void get_binding(api_context& c, const request& r, response& out) {
  const auto b = binding_of(r);
  check_vhost(c, r, b.vhost);
  out.set_json(find_binding(c, r, b));
}

void delete_binding(api_context& c, const request& r, response& out) {
  const auto b = binding_of(r);
  check_binding(c, r, b);
  const json found = find_binding(c, r, b);
  const auto arguments = arguments_of(found);
  if (auto e = c.broker.topology().unbind(b.vhost, b.binding, b.destination, b.source,
                                          found["routing_key"].get<std::string>(),
                                          amqp::field_table::trusted(arguments), engine::connection_key{})) {
    throw refused(*e);
  }
  out.status = 204;
}

void exchange_bindings(api_context& c, const request& r, response& out) {
  check_vhost(c, r, r.path[1]);
  const auto vhosts = c.broker.topology().snapshot().first;
  find_exchange(vhosts, r.path[1], r.path[2]);
  const bool as_source = r.path[4] == "source";
  out.set_json(shape_list(r, as_source ? select_bindings(vhosts, r.path[1], r.path[2], "", "")
                                       : select_bindings(vhosts, r.path[1], std::nullopt, "exchange", r.path[2])));
}

void queue_bindings(api_context& c, const request& r, response& out) {
  const auto q = find_queue(c, r);
  out.set_json(shape_list(
      r, select_bindings(c.broker.topology().snapshot().first, r.path[1], std::nullopt, "queue", q.settings.name)));
}

}  // namespace

void add_topology_routes(std::vector<route>& routes) {
  routes.push_back({"GET", {"exchanges"}, role::management, list_exchanges});
  routes.push_back({"GET", {"exchanges", "*"}, role::management, list_exchanges});
  routes.push_back({"GET", {"exchanges", "*", "*"}, role::management, get_exchange});
  routes.push_back({"PUT", {"exchanges", "*", "*"}, role::management, put_exchange});
  routes.push_back({"DELETE", {"exchanges", "*", "*"}, role::management, delete_exchange});
  routes.push_back({"POST", {"exchanges", "*", "*", "publish"}, role::management, publish});
  routes.push_back({"GET", {"exchanges", "*", "*", "bindings", "*"}, role::management, exchange_bindings});
  routes.push_back({"GET", {"queues"}, role::management, list_queues});
  routes.push_back({"GET", {"queues", "*"}, role::management, list_queues});
  routes.push_back({"GET", {"queues", "*", "*"}, role::management, get_queue});
  routes.push_back({"PUT", {"queues", "*", "*"}, role::management, put_queue});
  routes.push_back({"DELETE", {"queues", "*", "*"}, role::management, delete_queue});
  routes.push_back({"DELETE", {"queues", "*", "*", "contents"}, role::management, purge_queue});
  routes.push_back({"POST", {"queues", "*", "*", "get"}, role::management, get_messages});
  routes.push_back({"GET", {"queues", "*", "*", "bindings"}, role::management, queue_bindings});
  routes.push_back({"GET", {"bindings"}, role::management, list_bindings});
  routes.push_back({"GET", {"bindings", "*"}, role::management, list_bindings});
  routes.push_back({"GET", {"bindings", "*", "*", "*", "*", "*"}, role::management, get_bindings_between});
  routes.push_back({"POST", {"bindings", "*", "*", "*", "*", "*"}, role::management, add_binding});
  routes.push_back({"GET", {"bindings", "*", "*", "*", "*", "*", "*"}, role::management, get_binding});
  routes.push_back({"DELETE", {"bindings", "*", "*", "*", "*", "*", "*"}, role::management, delete_binding});
}

}  // namespace haremq::mgmt
