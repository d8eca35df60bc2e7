#pragma once

#include <cstdint>
#include <string_view>
#include <tuple>
#include <variant>

#include "net/amqp/field_table.h"
#include "net/amqp/method_id.h"

// One struct per AMQP 0-9-1 method (spec §1.3-1.10 and RabbitMQ's extensions), fields in
// wire order, reserved fields kept so that a decoded frame re-encodes to the same bytes.
// Strings and tables are views into the decoded payload: a method lives no longer than the
// buffer it was decoded from. `fields()` lists the wire fields for the generic codec and
// `field_names` their names ("a, b, c"), for logs and tests.
namespace haremq::amqp {

// A longstr field (32-bit length); a plain std::string_view field is a shortstr.
struct long_string {
  std::string_view value;
  friend bool operator==(const long_string&, const long_string&) = default;
};

#define HAREMQ_AMQP_METHOD(CLASS, METHOD, NAME, CONTENT)       \
  static constexpr amqp::method_id id{CLASS, METHOD};          \
  static constexpr std::string_view name = NAME;               \
  static constexpr bool has_content = CONTENT
#define HAREMQ_AMQP_FIELDS(...)                                 \
  static constexpr std::string_view field_names = #__VA_ARGS__; \
  auto fields() noexcept { return std::tie(__VA_ARGS__); }      \
  auto fields() const noexcept { return std::tie(__VA_ARGS__); }

// The many methods with no arguments (mostly the "-ok" replies).
template <std::uint16_t Class, std::uint16_t Method, fixed_name Name>
struct no_arguments {
  HAREMQ_AMQP_METHOD(Class, Method, std::string_view(Name.text), false);
  static constexpr std::string_view field_names = "";
  auto fields() const noexcept { return std::tuple<>{}; }
  friend bool operator==(const no_arguments&, const no_arguments&) = default;
};

// connection (class 10)
struct connection_start {
  HAREMQ_AMQP_METHOD(10, 10, "connection.start", false);
  std::uint8_t version_major = 0;
  std::uint8_t version_minor = 9;
  field_table server_properties;
  long_string mechanisms;
  long_string locales;
  HAREMQ_AMQP_FIELDS(version_major, version_minor, server_properties, mechanisms, locales)
};
struct connection_start_ok {
  HAREMQ_AMQP_METHOD(10, 11, "connection.start-ok", false);
  field_table client_properties;
  std::string_view mechanism;
  long_string response;
  std::string_view locale;
  HAREMQ_AMQP_FIELDS(client_properties, mechanism, response, locale)
};
struct connection_secure {
  HAREMQ_AMQP_METHOD(10, 20, "connection.secure", false);
  long_string challenge;
  HAREMQ_AMQP_FIELDS(challenge)
};
struct connection_secure_ok {
  HAREMQ_AMQP_METHOD(10, 21, "connection.secure-ok", false);
  long_string response;
  HAREMQ_AMQP_FIELDS(response)
};
struct connection_tune {
  HAREMQ_AMQP_METHOD(10, 30, "connection.tune", false);
  std::uint16_t channel_max = 0;
  std::uint32_t frame_max = 0;
  std::uint16_t heartbeat = 0;
  HAREMQ_AMQP_FIELDS(channel_max, frame_max, heartbeat)
};
struct connection_tune_ok {
  HAREMQ_AMQP_METHOD(10, 31, "connection.tune-ok", false);
  std::uint16_t channel_max = 0;
  std::uint32_t frame_max = 0;
  std::uint16_t heartbeat = 0;
  HAREMQ_AMQP_FIELDS(channel_max, frame_max, heartbeat)
};
struct connection_open {
  HAREMQ_AMQP_METHOD(10, 40, "connection.open", false);
  std::string_view virtual_host;
  std::string_view capabilities;  // reserved-1
  bool insist = false;            // reserved-2
  HAREMQ_AMQP_FIELDS(virtual_host, capabilities, insist)
};
struct connection_open_ok {
  HAREMQ_AMQP_METHOD(10, 41, "connection.open-ok", false);
  std::string_view known_hosts;  // reserved-1
  HAREMQ_AMQP_FIELDS(known_hosts)
};
struct connection_close {
  HAREMQ_AMQP_METHOD(10, 50, "connection.close", false);
  std::uint16_t reply_code = 0;
  std::string_view reply_text;
  std::uint16_t class_id = 0;
  std::uint16_t method_id = 0;
  HAREMQ_AMQP_FIELDS(reply_code, reply_text, class_id, method_id)
};
using connection_close_ok = no_arguments<10, 51, "connection.close-ok">;
struct connection_blocked {
  HAREMQ_AMQP_METHOD(10, 60, "connection.blocked", false);
  std::string_view reason;
  HAREMQ_AMQP_FIELDS(reason)
};
using connection_unblocked = no_arguments<10, 61, "connection.unblocked">;
struct connection_update_secret {
  HAREMQ_AMQP_METHOD(10, 70, "connection.update-secret", false);
  long_string new_secret;
  std::string_view reason;
  HAREMQ_AMQP_FIELDS(new_secret, reason)
};
using connection_update_secret_ok = no_arguments<10, 71, "connection.update-secret-ok">;

// channel (class 20)
struct channel_open {
  HAREMQ_AMQP_METHOD(20, 10, "channel.open", false);
  std::string_view out_of_band;  // reserved-1
  HAREMQ_AMQP_FIELDS(out_of_band)
};
struct channel_open_ok {
  HAREMQ_AMQP_METHOD(20, 11, "channel.open-ok", false);
  long_string channel_id;  // reserved-1
  HAREMQ_AMQP_FIELDS(channel_id)
};
struct channel_flow {
  HAREMQ_AMQP_METHOD(20, 20, "channel.flow", false);
  bool active = false;
  HAREMQ_AMQP_FIELDS(active)
};
struct channel_flow_ok {
  HAREMQ_AMQP_METHOD(20, 21, "channel.flow-ok", false);
  bool active = false;
  HAREMQ_AMQP_FIELDS(active)
};
struct channel_close {
  HAREMQ_AMQP_METHOD(20, 40, "channel.close", false);
  std::uint16_t reply_code = 0;
  std::string_view reply_text;
  std::uint16_t class_id = 0;
  std::uint16_t method_id = 0;
  HAREMQ_AMQP_FIELDS(reply_code, reply_text, class_id, method_id)
};
using channel_close_ok = no_arguments<20, 41, "channel.close-ok">;

// exchange (class 40)
struct exchange_declare {
  HAREMQ_AMQP_METHOD(40, 10, "exchange.declare", false);
  std::uint16_t ticket = 0;  // reserved-1
  std::string_view exchange;
  std::string_view type;
  bool passive = false;
  bool durable = false;
  bool auto_delete = false;
  bool internal = false;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, exchange, type, passive, durable, auto_delete, internal, no_wait, arguments)
};
using exchange_declare_ok = no_arguments<40, 11, "exchange.declare-ok">;
struct exchange_delete {
  HAREMQ_AMQP_METHOD(40, 20, "exchange.delete", false);
  std::uint16_t ticket = 0;
  std::string_view exchange;
  bool if_unused = false;
  bool no_wait = false;
  HAREMQ_AMQP_FIELDS(ticket, exchange, if_unused, no_wait)
};
using exchange_delete_ok = no_arguments<40, 21, "exchange.delete-ok">;
struct exchange_bind {
  HAREMQ_AMQP_METHOD(40, 30, "exchange.bind", false);
  std::uint16_t ticket = 0;
  std::string_view destination;
  std::string_view source;
  std::string_view routing_key;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, destination, source, routing_key, no_wait, arguments)
};
using exchange_bind_ok = no_arguments<40, 31, "exchange.bind-ok">;
struct exchange_unbind {
  HAREMQ_AMQP_METHOD(40, 40, "exchange.unbind", false);
  std::uint16_t ticket = 0;
  std::string_view destination;
  std::string_view source;
  std::string_view routing_key;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, destination, source, routing_key, no_wait, arguments)
};
// RabbitMQ numbers exchange.unbind-ok 51, not 41.
using exchange_unbind_ok = no_arguments<40, 51, "exchange.unbind-ok">;

// queue (class 50)
struct queue_declare {
  HAREMQ_AMQP_METHOD(50, 10, "queue.declare", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  bool passive = false;
  bool durable = false;
  bool exclusive = false;
  bool auto_delete = false;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, queue, passive, durable, exclusive, auto_delete, no_wait, arguments)
};
struct queue_declare_ok {
  HAREMQ_AMQP_METHOD(50, 11, "queue.declare-ok", false);
  std::string_view queue;
  std::uint32_t message_count = 0;
  std::uint32_t consumer_count = 0;
  HAREMQ_AMQP_FIELDS(queue, message_count, consumer_count)
};
struct queue_bind {
  HAREMQ_AMQP_METHOD(50, 20, "queue.bind", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  std::string_view exchange;
  std::string_view routing_key;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, queue, exchange, routing_key, no_wait, arguments)
};
using queue_bind_ok = no_arguments<50, 21, "queue.bind-ok">;
struct queue_purge {
  HAREMQ_AMQP_METHOD(50, 30, "queue.purge", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  bool no_wait = false;
  HAREMQ_AMQP_FIELDS(ticket, queue, no_wait)
};
struct queue_purge_ok {
  HAREMQ_AMQP_METHOD(50, 31, "queue.purge-ok", false);
  std::uint32_t message_count = 0;
  HAREMQ_AMQP_FIELDS(message_count)
};
struct queue_delete {
  HAREMQ_AMQP_METHOD(50, 40, "queue.delete", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  bool if_unused = false;
  bool if_empty = false;
  bool no_wait = false;
  HAREMQ_AMQP_FIELDS(ticket, queue, if_unused, if_empty, no_wait)
};
struct queue_delete_ok {
  HAREMQ_AMQP_METHOD(50, 41, "queue.delete-ok", false);
  std::uint32_t message_count = 0;
  HAREMQ_AMQP_FIELDS(message_count)
};
struct queue_unbind {
  HAREMQ_AMQP_METHOD(50, 50, "queue.unbind", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  std::string_view exchange;
  std::string_view routing_key;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, queue, exchange, routing_key, arguments)
};
using queue_unbind_ok = no_arguments<50, 51, "queue.unbind-ok">;

// basic (class 60)
struct basic_qos {
  HAREMQ_AMQP_METHOD(60, 10, "basic.qos", false);
  std::uint32_t prefetch_size = 0;
  std::uint16_t prefetch_count = 0;
  bool global = false;
  HAREMQ_AMQP_FIELDS(prefetch_size, prefetch_count, global)
};
using basic_qos_ok = no_arguments<60, 11, "basic.qos-ok">;
struct basic_consume {
  HAREMQ_AMQP_METHOD(60, 20, "basic.consume", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  std::string_view consumer_tag;
  bool no_local = false;
  bool no_ack = false;
  bool exclusive = false;
  bool no_wait = false;
  field_table arguments;
  HAREMQ_AMQP_FIELDS(ticket, queue, consumer_tag, no_local, no_ack, exclusive, no_wait, arguments)
};
struct basic_consume_ok {
  HAREMQ_AMQP_METHOD(60, 21, "basic.consume-ok", false);
  std::string_view consumer_tag;
  HAREMQ_AMQP_FIELDS(consumer_tag)
};
struct basic_cancel {
  HAREMQ_AMQP_METHOD(60, 30, "basic.cancel", false);
  std::string_view consumer_tag;
  bool no_wait = false;
  HAREMQ_AMQP_FIELDS(consumer_tag, no_wait)
};
struct basic_cancel_ok {
  HAREMQ_AMQP_METHOD(60, 31, "basic.cancel-ok", false);
  std::string_view consumer_tag;
  HAREMQ_AMQP_FIELDS(consumer_tag)
};
struct basic_publish {
  HAREMQ_AMQP_METHOD(60, 40, "basic.publish", true);
  std::uint16_t ticket = 0;
  std::string_view exchange;
  std::string_view routing_key;
  bool mandatory = false;
  bool immediate = false;
  HAREMQ_AMQP_FIELDS(ticket, exchange, routing_key, mandatory, immediate)
};
struct basic_return {
  HAREMQ_AMQP_METHOD(60, 50, "basic.return", true);
  std::uint16_t reply_code = 0;
  std::string_view reply_text;
  std::string_view exchange;
  std::string_view routing_key;
  HAREMQ_AMQP_FIELDS(reply_code, reply_text, exchange, routing_key)
};
struct basic_deliver {
  HAREMQ_AMQP_METHOD(60, 60, "basic.deliver", true);
  std::string_view consumer_tag;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string_view exchange;
  std::string_view routing_key;
  HAREMQ_AMQP_FIELDS(consumer_tag, delivery_tag, redelivered, exchange, routing_key)
};
struct basic_get {
  HAREMQ_AMQP_METHOD(60, 70, "basic.get", false);
  std::uint16_t ticket = 0;
  std::string_view queue;
  bool no_ack = false;
  HAREMQ_AMQP_FIELDS(ticket, queue, no_ack)
};
struct basic_get_ok {
  HAREMQ_AMQP_METHOD(60, 71, "basic.get-ok", true);
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string_view exchange;
  std::string_view routing_key;
  std::uint32_t message_count = 0;
  HAREMQ_AMQP_FIELDS(delivery_tag, redelivered, exchange, routing_key, message_count)
};
struct basic_get_empty {
  HAREMQ_AMQP_METHOD(60, 72, "basic.get-empty", false);
  std::string_view cluster_id;  // reserved-1
  HAREMQ_AMQP_FIELDS(cluster_id)
};
struct basic_ack {
  HAREMQ_AMQP_METHOD(60, 80, "basic.ack", false);
  std::uint64_t delivery_tag = 0;
  bool multiple = false;
  HAREMQ_AMQP_FIELDS(delivery_tag, multiple)
};
struct basic_reject {
  HAREMQ_AMQP_METHOD(60, 90, "basic.reject", false);
  std::uint64_t delivery_tag = 0;
  bool requeue = true;
  HAREMQ_AMQP_FIELDS(delivery_tag, requeue)
};
struct basic_recover_async {
  HAREMQ_AMQP_METHOD(60, 100, "basic.recover-async", false);
  bool requeue = false;
  HAREMQ_AMQP_FIELDS(requeue)
};
struct basic_recover {
  HAREMQ_AMQP_METHOD(60, 110, "basic.recover", false);
  bool requeue = false;
  HAREMQ_AMQP_FIELDS(requeue)
};
using basic_recover_ok = no_arguments<60, 111, "basic.recover-ok">;
struct basic_nack {
  HAREMQ_AMQP_METHOD(60, 120, "basic.nack", false);
  std::uint64_t delivery_tag = 0;
  bool multiple = false;
  bool requeue = true;
  HAREMQ_AMQP_FIELDS(delivery_tag, multiple, requeue)
};

// confirm (class 85), a RabbitMQ extension
struct confirm_select {
  HAREMQ_AMQP_METHOD(85, 10, "confirm.select", false);
  bool no_wait = false;
  HAREMQ_AMQP_FIELDS(no_wait)
};
using confirm_select_ok = no_arguments<85, 11, "confirm.select-ok">;

// tx (class 90)
using tx_select = no_arguments<90, 10, "tx.select">;
using tx_select_ok = no_arguments<90, 11, "tx.select-ok">;
using tx_commit = no_arguments<90, 20, "tx.commit">;
using tx_commit_ok = no_arguments<90, 21, "tx.commit-ok">;
using tx_rollback = no_arguments<90, 30, "tx.rollback">;
using tx_rollback_ok = no_arguments<90, 31, "tx.rollback-ok">;

#undef HAREMQ_AMQP_FIELDS
#undef HAREMQ_AMQP_METHOD

// Every method the codec knows. The order is free; decoding dispatches through a table.
using method = std::variant<
    connection_start, connection_start_ok, connection_secure, connection_secure_ok, connection_tune,
    connection_tune_ok, connection_open, connection_open_ok, connection_close, connection_close_ok,
    connection_blocked, connection_unblocked, connection_update_secret, connection_update_secret_ok,
    channel_open, channel_open_ok, channel_flow, channel_flow_ok, channel_close, channel_close_ok,
    exchange_declare, exchange_declare_ok, exchange_delete, exchange_delete_ok, exchange_bind, exchange_bind_ok,
    exchange_unbind, exchange_unbind_ok,
    queue_declare, queue_declare_ok, queue_bind, queue_bind_ok, queue_purge, queue_purge_ok, queue_delete,
    queue_delete_ok, queue_unbind, queue_unbind_ok,
    basic_qos, basic_qos_ok, basic_consume, basic_consume_ok, basic_cancel, basic_cancel_ok, basic_publish,
    basic_return, basic_deliver, basic_get, basic_get_ok, basic_get_empty, basic_ack, basic_reject,
    basic_recover_async, basic_recover, basic_recover_ok, basic_nack,
    confirm_select, confirm_select_ok,
    tx_select, tx_select_ok, tx_commit, tx_commit_ok, tx_rollback, tx_rollback_ok>;

inline constexpr std::size_t method_count = std::variant_size_v<method>;

// The id and dotted name of whichever method `m` holds.
method_id id_of(const method& m) noexcept;
std::string_view name_of(const method& m) noexcept;
bool has_content(const method& m) noexcept;
// The dotted name of a method id, or "" for one the codec does not know.
std::string_view name_of(method_id id) noexcept;

}  // namespace haremq::amqp
