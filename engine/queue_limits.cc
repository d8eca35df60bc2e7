#include "engine/queue_limits.h"

#include <algorithm>
#include <array>

#include "engine/arguments.h"

namespace haremq::engine {
namespace {

// rabbit_misc:check_expiry's limit: ten years of milliseconds.
constexpr std::int64_t max_expiry_ms = 315'360'000'000;

using amqp::field_type;
using amqp::field_value;

// RabbitMQ's error term for an argument, printed as Erlang prints it (~p).
using check_result = std::optional<std::string>;

check_result unacceptable(const field_value& v) {
  return "{unacceptable_type," + std::string(rabbit_type_name(v.type())) + "}";
}

check_result integer(const field_value& v) {
  if (!v.is_integer()) return "\"expected integer, got " + std::string(rabbit_type_name(v.type())) + "\"";
  return std::nullopt;
}

check_result non_negative(const field_value& v) {
  if (auto e = integer(v)) return e;
  if (v.as_int() < 0) return "{value_negative," + std::to_string(v.as_int()) + "}";
  return std::nullopt;
}

check_result expiry(const field_value& v) {
  if (auto e = non_negative(v)) return e;
  if (v.as_int() > max_expiry_ms) return "{value_too_large," + std::to_string(v.as_int()) + "}";
  return std::nullopt;
}

check_result expires(const field_value& v) {
  if (auto e = integer(v)) return e;
  if (v.as_int() == 0) return std::string("{value_zero,0}");
  return expiry(v);
}

check_result long_string(const field_value& v) {
  if (v.type() != field_type::long_string) return unacceptable(v);
  return std::nullopt;
}

check_result boolean(const field_value& v) {
  if (v.type() != field_type::boolean) return unacceptable(v);
  return std::nullopt;
}

constexpr std::int64_t max_supported_priority = 255;
check_result max_priority(const field_value& v) {
  if (auto e = non_negative(v)) return e;
  if (v.as_int() > max_supported_priority) return "{max_value_exceeded," + std::to_string(v.as_int()) + "}";
  return std::nullopt;
}

check_result overflow(const field_value& v) {
  if (auto e = long_string(v)) return e;
  if (!parse_overflow(v.as_string())) return std::string("invalid_overflow");
  return std::nullopt;
}

check_result queue_mode(const field_value& v) {
  if (auto e = long_string(v)) return e;
  if (v.as_string() != "default" && v.as_string() != "lazy") {
    return "\"unsupported queue mode '" + std::string(v.as_string()) + "'\"";
  }
  return std::nullopt;
}

check_result queue_type(const field_value& v) {
  if (auto e = long_string(v)) return e;
  // Quorum queues are served as durable classic ones (one node has nothing to replicate);
  // streams, whose consumers read by offset, are refused rather than faked.
  if (v.as_string() != "classic" && v.as_string() != "quorum") {
    return "\"unsupported queue type '" + std::string(v.as_string()) + "'\"";
  }
  return std::nullopt;
}

struct argument_rule {
  std::string_view key;
  check_result (*check)(const field_value&);
};

// RabbitMQ's order: the first failing key is the one named (the dead-letter exchange's type
// is checked before, by the caller). x-dead-letter-routing-key also needs the exchange.
constexpr std::array<argument_rule, 10> rules{{
    {"x-queue-type", queue_type},
    {"x-expires", expires},
    {"x-message-ttl", expiry},
    {"x-dead-letter-routing-key", long_string},
    {"x-max-length", non_negative},
    {"x-max-length-bytes", non_negative},
    {"x-max-priority", max_priority},
    {"x-overflow", overflow},
    {"x-queue-mode", queue_mode},
    {"x-single-active-consumer", boolean},
}};
// HareMQ's own, checked after RabbitMQ's.
constexpr std::array<argument_rule, 2> own_rules{{
    {"x-delivery-limit", non_negative},
    {"x-consumer-timeout", non_negative},
}};
// Arguments of other queue types that a classic queue refuses, as RabbitMQ does.
constexpr std::array<std::string_view, 7> foreign_arguments{
    "x-max-in-memory-length", "x-max-in-memory-bytes", "x-max-age", "x-stream-max-segment-size-bytes",
    "x-initial-cluster-size", "x-quorum-initial-group-size", "x-queue-leader-locator"};

template <class T>
void lower_of(std::optional<T>& into, const std::optional<std::int64_t>& policy) {
  if (!policy) return;
  const T p = static_cast<T>(*policy);
  into = into ? std::min(*into, p) : p;
}

}  // namespace

std::string_view overflow_name(overflow_mode m) noexcept {
  switch (m) {
    case overflow_mode::drop_head: return "drop-head";
    case overflow_mode::reject_publish: return "reject-publish";
    case overflow_mode::reject_publish_dlx: return "reject-publish-dlx";
    case overflow_mode::block_publishers: return "block-publishers";
  }
  return "drop-head";
}

std::optional<overflow_mode> parse_overflow(std::string_view name) noexcept {
  for (const auto m : {overflow_mode::drop_head, overflow_mode::reject_publish, overflow_mode::reject_publish_dlx,
                       overflow_mode::block_publishers}) {
    if (overflow_name(m) == name) return m;
  }
  return std::nullopt;
}

std::optional<reply_error> check_queue_arguments(std::string_view name, std::string_view vhost,
                                                 const amqp::field_table& arguments) {
  if (arguments.empty()) return std::nullopt;
  auto invalid = [&](std::string_view key, const std::string& term) {
    return reply_error{amqp::reply_code::precondition_failed,
                       "PRECONDITION_FAILED - invalid arg '" + std::string(key) + "' for queue '" + std::string(name) +
                           "' in vhost '" + std::string(vhost) + "': " + term};
  };
  auto run = [&](const auto& list) -> std::optional<reply_error> {
    for (const argument_rule& rule : list) {
      const auto value = arguments.find(rule.key);
      if (!value) continue;
      if (auto term = rule.check(*value)) return invalid(rule.key, *term);
      if (rule.key == "x-dead-letter-routing-key" && !arguments.find("x-dead-letter-exchange")) {
        return invalid(rule.key, "routing_key_but_no_dlx_defined");
      }
    }
    return std::nullopt;
  };
  if (auto e = run(rules)) return e;
  if (auto e = run(own_rules)) return e;
  const auto type = arguments.find("x-queue-type");
  const bool quorum = type && type->type() == field_type::long_string && type->as_string() == "quorum";
  for (const std::string_view key : foreign_arguments) {
    if (quorum && key.starts_with("x-max-in-memory")) continue;
    if (arguments.find(key)) {
      return reply_error{amqp::reply_code::precondition_failed,
                         "PRECONDITION_FAILED - invalid arg '" + std::string(key) + "' for queue '" + std::string(name) +
                             "' in vhost '" + std::string(vhost) + "' of queue type rabbit_classic_queue"};
    }
  }
  return std::nullopt;
}

queue_limits resolve_limits(const amqp::field_table& arguments, const policy_keys* policy) {
  queue_limits l;
  auto int_arg = [&](std::string_view key) -> std::optional<std::int64_t> {
    const auto v = arguments.find(key);
    if (!v || !v->is_integer()) return std::nullopt;
    return v->as_int();
  };
  auto string_arg = [&](std::string_view key) -> std::optional<std::string> {
    const auto v = arguments.find(key);
    if (!v || v->type() != field_type::long_string) return std::nullopt;
    return std::string(v->as_string());
  };
  l.message_ttl_ms = int_arg("x-message-ttl");
  l.expires_ms = int_arg("x-expires");
  if (auto n = int_arg("x-max-length"); n && *n >= 0) l.max_length = static_cast<std::uint64_t>(*n);
  if (auto n = int_arg("x-max-length-bytes"); n && *n >= 0) l.max_length_bytes = static_cast<std::uint64_t>(*n);
  std::optional<overflow_mode> overflow;
  if (auto o = string_arg("x-overflow")) overflow = parse_overflow(*o);
  l.dead_letter_exchange = string_arg("x-dead-letter-exchange");
  l.dead_letter_routing_key = string_arg("x-dead-letter-routing-key");
  if (auto p = int_arg("x-max-priority"); p && *p > 0) l.max_priority = static_cast<std::uint8_t>(std::min<std::int64_t>(*p, 255));
  if (const auto v = arguments.find("x-single-active-consumer"); v && v->type() == field_type::boolean) {
    l.single_active_consumer = v->as_bool();
  }
  if (auto n = int_arg("x-delivery-limit"); n && *n >= 0) l.delivery_limit = static_cast<std::uint64_t>(*n);
  l.consumer_timeout_ms = int_arg("x-consumer-timeout");

  if (policy != nullptr) {
    lower_of(l.message_ttl_ms, policy->message_ttl);
    lower_of(l.expires_ms, policy->expires);
    lower_of(l.max_length, policy->max_length);
    lower_of(l.max_length_bytes, policy->max_length_bytes);
    lower_of(l.delivery_limit, policy->delivery_limit);
    lower_of(l.consumer_timeout_ms, policy->consumer_timeout);
    if (!overflow) overflow = policy->overflow;
    if (!l.dead_letter_exchange) l.dead_letter_exchange = policy->dead_letter_exchange;
    if (!l.dead_letter_routing_key) l.dead_letter_routing_key = policy->dead_letter_routing_key;
  }
  l.overflow = overflow.value_or(overflow_mode::drop_head);
  return l;
}

}  // namespace haremq::engine
