#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

// The vocabulary the routing files share: how an exchange routes (its type) and where a
// binding leads (a destination). Plain values, thread-safe to copy anywhere.
namespace haremq::engine {

// The four exchange types of AMQP 0-9-1 (spec §3.1.3) that RabbitMQ registers by default.
enum class exchange_type : std::uint8_t { direct, fanout, topic, headers };

// The type named in exchange.declare ("direct", "fanout", "topic", "headers"; case-sensitive,
// as RabbitMQ's registry lookup is). nullopt: RabbitMQ answers 503 COMMAND_INVALID
// "unknown exchange type".
std::optional<exchange_type> parse_exchange_type(std::string_view name) noexcept;

// The name RabbitMQ reports (management API, inequivalent-argument errors).
std::string_view name_of(exchange_type type) noexcept;

// Where a binding leads: a queue, or another exchange (RabbitMQ's exchange-to-exchange
// bindings). Ids are assigned by the owner of the topology, not here.
struct destination {
  enum class kind : std::uint8_t { queue, exchange };
  kind what = kind::queue;
  std::uint32_t id = 0;

  friend constexpr bool operator==(destination, destination) = default;
};

}  // namespace haremq::engine

template <>
struct std::hash<haremq::engine::destination> {
  std::size_t operator()(haremq::engine::destination d) const noexcept {
    const auto packed = (static_cast<std::uint64_t>(d.what) << 32) | d.id;
    return std::hash<std::uint64_t>{}(packed);
  }
};
