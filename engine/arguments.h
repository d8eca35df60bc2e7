#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/command.h"
#include "net/amqp/field_table.h"

// Declare arguments: which ones must match when a queue or exchange is declared again, and
// RabbitMQ's "inequivalent arg" answer when they do not.
namespace haremq::engine {

// The arguments RabbitMQ compares on redeclaration (others are accepted and ignored).
std::span<const std::string_view> queue_equivalence_keys() noexcept;
std::span<const std::string_view> exchange_equivalence_keys() noexcept;

// 406 PRECONDITION_FAILED with RabbitMQ's text for the first of `keys` whose value differs
// between `current` and `received`; integer types compare by value, as RabbitMQ does.
std::optional<reply_error> compare_arguments(std::string_view what, std::string_view name, std::string_view vhost,
                                             std::span<const std::string_view> keys, const amqp::field_table& current,
                                             const amqp::field_table& received);

// A binding's arguments in the form that decides identity: entries sorted by name (stable),
// as RabbitMQ sorts them, so {a,b} and {b,a} are the same binding; integers widened to long.
std::vector<std::byte> canonical_arguments(const amqp::field_table& arguments);

// For a binding to a headers exchange: RabbitMQ's 406 when x-match is not a valid mode.
std::optional<reply_error> check_x_match(const amqp::field_table& arguments);

// RabbitMQ's name of a field type ("signedint", "longstr", ...), used in its texts.
std::string_view rabbit_type_name(amqp::field_type t) noexcept;

}  // namespace haremq::engine
