#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/command.h"
#include "net/amqp/field_table.h"

// What a queue's arguments (x-message-ttl, x-max-length, x-dead-letter-exchange, ...) and the
// policy that applies to it ask of the queue, checked as RabbitMQ checks them on queue.declare
// and resolved as RabbitMQ resolves an argument against a policy.
namespace haremq::engine {

// What a queue at its length limit does with one more message.
enum class overflow_mode : std::uint8_t {
  drop_head,           // the oldest ready one goes (dead-lettered with reason maxlen)
  reject_publish,      // the new one is refused: basic.nack with confirms, else dropped
  reject_publish_dlx,  // ... and dead-lettered
  block_publishers,    // taken, but its publishers are held back until consumers make room
};
std::string_view overflow_name(overflow_mode m) noexcept;
std::optional<overflow_mode> parse_overflow(std::string_view name) noexcept;

// The keys a policy may set for queues and exchanges (a policy definition's names, without
// the arguments' "x-" prefix). Unset ones leave the queue's own argument alone.
struct policy_keys {
  std::optional<std::int64_t> message_ttl;
  std::optional<std::int64_t> expires;
  std::optional<std::int64_t> max_length;
  std::optional<std::int64_t> max_length_bytes;
  std::optional<overflow_mode> overflow;
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
  std::optional<std::int64_t> delivery_limit;
  std::optional<std::int64_t> consumer_timeout;
  std::optional<std::string> alternate_exchange;  // for exchanges
};

struct queue_limits {
  std::optional<std::int64_t> message_ttl_ms;
  std::optional<std::int64_t> expires_ms;
  std::optional<std::uint64_t> max_length;
  std::optional<std::uint64_t> max_length_bytes;
  overflow_mode overflow = overflow_mode::drop_head;
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
  std::uint8_t max_priority = 0;  // 0: not a priority queue
  bool single_active_consumer = false;
  std::optional<std::uint64_t> delivery_limit;
  std::optional<std::int64_t> consumer_timeout_ms;

  bool bounded() const noexcept { return max_length || max_length_bytes; }
  friend bool operator==(const queue_limits&, const queue_limits&) = default;
};

// queue.declare's check of its arguments: RabbitMQ's 406 "invalid arg" text for the first one
// (in RabbitMQ's order) whose type or value is not acceptable.
std::optional<reply_error> check_queue_arguments(std::string_view name, std::string_view vhost,
                                                 const amqp::field_table& arguments);

// The limits a queue works under: its arguments (already checked), with a policy's keys where
// RabbitMQ lets them apply: the lower of the two for TTLs, expiry, lengths and the delivery
// limit; the argument's for the dead-letter exchange, its routing key and the overflow mode.
queue_limits resolve_limits(const amqp::field_table& arguments, const policy_keys* policy = nullptr);

}  // namespace haremq::engine
