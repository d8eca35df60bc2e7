#include "perf/topology.h"

#include <array>

namespace haremq::perf {
namespace {

// Encodes a table with the codec's table_writer and keeps its content (after the length).
template <class Fill>
std::vector<std::byte> build_table(Fill&& fill) {
  std::array<std::byte, 512> buffer{};
  amqp::byte_writer w{buffer};
  amqp::table_writer t{w};
  fill(t);
  const amqp::bytes_view content = t.finish();
  return {content.begin(), content.end()};
}

}  // namespace

std::optional<exchange_kind> parse_exchange_kind(std::string_view name) noexcept {
  if (name == "direct") return exchange_kind::direct;
  if (name == "fanout") return exchange_kind::fanout;
  if (name == "topic") return exchange_kind::topic;
  if (name == "headers") return exchange_kind::headers;
  return std::nullopt;
}

std::string_view name_of(exchange_kind kind) noexcept {
  switch (kind) {
    case exchange_kind::direct: return "direct";
    case exchange_kind::fanout: return "fanout";
    case exchange_kind::topic: return "topic";
    case exchange_kind::headers: return "headers";
  }
  return "direct";
}

topology::topology(std::string exchange, exchange_kind kind, const std::string& queue_base, std::size_t queues,
                   bool durable)
    : _exchange(std::move(exchange)), _kind(kind), _durable(durable) {
  _routes.resize(queues == 0 ? 1 : queues);
  for (std::size_t i = 0; i < _routes.size(); ++i) {
    queue_route& r = _routes[i];
    r.queue = _routes.size() == 1 ? queue_base : queue_base + "-" + std::to_string(i);
    switch (kind) {
      case exchange_kind::direct:
        r.binding_key = r.publish_key = r.queue;
        break;
      case exchange_kind::fanout:
        break;  // the key is ignored: every bound queue gets a copy
      case exchange_kind::topic:
        // A wildcard, so the run measures pattern matching rather than an exact lookup.
        r.binding_key = r.queue + ".*";
        r.publish_key = r.queue + ".msg";
        break;
      case exchange_kind::headers:
        r.binding_arguments = build_table([&](amqp::table_writer& t) {
          t.add("x-match", amqp::field_value::string("all"));
          t.add("queue", amqp::field_value::string(r.queue));
        });
        r.publish_headers = build_table([&](amqp::table_writer& t) {
          t.add("queue", amqp::field_value::string(r.queue));
        });
        break;
    }
  }
}

std::size_t topology::consumed_copies(std::size_t producer, std::size_t consumers) const noexcept {
  const std::size_t k = _routes.size();
  const std::size_t consumed_queues = consumers < k ? consumers : k;  // queues 0 .. that-1
  if (_kind == exchange_kind::fanout) return consumed_queues;
  return producer % k < consumed_queues ? 1 : 0;
}

void topology::declare(amqp_client& client) const {
  (void)client.call<amqp::exchange_declare_ok>(
      amqp::exchange_declare{0, _exchange, name_of(_kind), false, _durable, false, false, false, {}});
  for (const queue_route& r : _routes) {
    (void)client.call<amqp::queue_declare_ok>(amqp::queue_declare{0, r.queue, false, _durable, false, false, false, {}});
    (void)client.call<amqp::queue_bind_ok>(
        amqp::queue_bind{0, r.queue, _exchange, r.binding_key, false, r.binding_table()});
  }
}

void topology::remove(amqp_client& client) const {
  for (const queue_route& r : _routes) {
    (void)client.call<amqp::queue_delete_ok>(amqp::queue_delete{0, r.queue, false, false, false});
  }
  (void)client.call<amqp::exchange_delete_ok>(amqp::exchange_delete{0, _exchange, false, false});
}

}  // namespace haremq::perf
