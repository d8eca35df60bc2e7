#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/amqp/field_table.h"
#include "perf/amqp_client.h"

// What a run declares: one exchange of the chosen type and K queues bound to it, and which
// routing key (or headers) reaches which queue. Producer i publishes to queue i % K and
// consumer i consumes from queue i % K; a fanout exchange copies every message to all K.
// Built once at start-up, then read-only: safe to share between threads.
namespace haremq::perf {

enum class exchange_kind { direct, fanout, topic, headers };

std::optional<exchange_kind> parse_exchange_kind(std::string_view name) noexcept;
std::string_view name_of(exchange_kind kind) noexcept;

struct queue_route {
  std::string queue;
  std::string binding_key;  // queue.bind's routing key (a pattern for topic)
  std::string publish_key;  // a basic.publish routing key that reaches this queue
  std::vector<std::byte> binding_arguments;  // table content (after its length); headers only
  std::vector<std::byte> publish_headers;    // the message headers that match; headers only

  amqp::field_table binding_table() const noexcept { return amqp::field_table::trusted(binding_arguments); }
  amqp::field_table headers_table() const noexcept { return amqp::field_table::trusted(publish_headers); }
};

class topology {
 public:
  // `queue_base` names the only queue when `queues` is 1, else "<base>-0" .. "<base>-<K-1>".
  topology(std::string exchange, exchange_kind kind, const std::string& queue_base, std::size_t queues,
           bool durable);

  const std::string& exchange() const noexcept { return _exchange; }
  exchange_kind kind() const noexcept { return _kind; }
  std::size_t queue_count() const noexcept { return _routes.size(); }
  const queue_route& route(std::size_t queue) const noexcept { return _routes[queue]; }
  const queue_route& route_of_producer(std::size_t i) const noexcept { return _routes[i % _routes.size()]; }
  const queue_route& route_of_consumer(std::size_t i) const noexcept { return _routes[i % _routes.size()]; }

  // How many consumed queues (those of consumers 0 .. consumers-1) one publish of producer
  // `producer` lands in: the deliveries it causes.
  std::size_t consumed_copies(std::size_t producer, std::size_t consumers) const noexcept;

  // Declares the exchange, the queues and the bindings; throws startup_error.
  void declare(amqp_client& client) const;
  // Deletes the queues and the exchange; throws startup_error.
  void remove(amqp_client& client) const;

 private:
  std::string _exchange;
  exchange_kind _kind;
  bool _durable;
  std::vector<queue_route> _routes;
};

}  // namespace haremq::perf
