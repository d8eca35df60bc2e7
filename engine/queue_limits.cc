#include "engine/queue_limits.h"

#include <algorithm>
#include <array>

#include "engine/arguments.h"

namespace haremq::engine {
namespace {

using amqp::field_type;
using amqp::field_value;

// RabbitMQ's error term for an argument, printed as Erlang prints it (~p).
using check_result = std::optional<std::string>;

check_result unacceptable(const field_value& v) {
  return "{unacceptable_type," + std::string(rabbit_type_name(v.type())) + "}";
}

check_result integer(const field_value& v) {
  if (!v.is_integer()) return unacceptable(v);
  return std::nullopt;
}

check_result non_negative(const field_value& v) {
  if (auto e = integer(v)) return e;
  if (v.as_int() < 0) return "{value_negative," + std::to_string(v.as_int()) + "}";
  return std::nullopt;
}

// rabbit_misc:check_expiry: a timer value Erlang can arm.
constexpr std::int64_t max_expiry = 4294967295;  // ms: erlang:send_after's limit, about 49 days
check_result expiry(const field_value& v) {
  if (auto e = non_negative(v)) return e;
  if (v.as_int() > max_expiry) return "{value_too_large," + std::to_string(v.as_int()) + "," + std::to_string(max_expiry) + "}";
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
  if (v.as_string() != "default" && v.as_string() != "lazy") return std::string("invalid_queue_mode");
  return std::nullopt;
}

check_result queue_type(const field_value& v) {
  if (auto e = long_string(v)) return e;
  // Only classic queues are built; quorum and stream are refused rather than faked.
  if (v.as_string() != "classic") return "{unsupported_queue_type," + std::string(v.as_string()) + "}";
  return std::nullopt;
}

struct argument_rule {
  std::string_view key;
  check_result (*check)(const field_value&);
};

// RabbitMQ's order (rabbit_amqqueue:declare_args/0): the first failing key is the one named.
// x-dead-letter-routing-key is checked apart: it needs the exchange next to it.
constexpr std::array<argument_rule, 13> rules{{
    {"x-expires", expires},
    {"x-message-ttl", expiry},
    {"x-dead-letter-exchange", long_string},
    {"x-dead-letter-routing-key", long_string},
    {"x-max-length", non_negative},
    {"x-max-length-bytes", non_negative},
    {"x-max-in-memory-length", non_negative},
    {"x-max-in-memory-bytes", non_negative},
    {"x-max-priority", max_priority},
    {"x-overflow", overflow},
    {"x-queue-mode", queue_mode},
    {"x-single-active-consumer", boolean},
    {"x-queue-type", queue_type},
}};
// HareMQ's own, checked after RabbitMQ's.
constexpr std::array<argument_rule, 2> own_rules{{
    {"x-delivery-limit", non_negative},
    {"x-consumer-timeout", non_negative},
}};

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
  return run(own_rules);
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
