#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/exchange_type.h"
#include "engine/headers_match.h"
#include "engine/topic_trie.h"
#include "net/amqp/field_table.h"

// The bindings of one exchange, and routing by them according to the exchange's type.
//
// A binding is (destination, routing key, arguments); as in RabbitMQ (rabbit_binding), two
// bindings are the same when all three are equal, the arguments being compared after a
// stable sort by name (binding with {a, b} and unbinding with {b, a} removes the binding).
// The arguments are copied in that sorted order: the declaring frame's buffer does not
// live on, and the management API lists them as RabbitMQ does, sorted.
//
// Routing, by type (AMQP 0-9-1 §3.1.3, RabbitMQ's exchange type modules):
// - direct: bindings whose key equals the routing key (one hash lookup);
// - fanout: every bound destination;
// - topic: the topic_trie;
// - headers: bindings whose arguments match the message headers (headers_match); the
//   headers are sorted once per message, then every destination's bindings are tried.
// Each destination is appended at most once per route().
//
// Owned by one thread at a time (a worker's replica of the topology, or the topology
// under its lock); not thread-safe, not even for concurrent route() calls, because route()
// is const but reuses scratch space held here (mutable). Movable, not copyable (indexes
// point into the binding set).
namespace haremq::engine {

class binding_table {
 public:
  explicit binding_table(exchange_type type);
  binding_table(binding_table&&) = default;
  binding_table& operator=(binding_table&&) = default;
  binding_table(const binding_table&) = delete;
  binding_table& operator=(const binding_table&) = delete;

  exchange_type type() const noexcept { return _type; }

  // queue.bind / exchange.bind. False if the same binding exists already (RabbitMQ answers
  // bind-ok either way). Does not validate: a headers exchange's x-match is checked with
  // parse_x_match() by the caller, which refuses the bind (406) as RabbitMQ does.
  // Allocates.
  bool add(destination to, std::string_view routing_key, const amqp::field_table& arguments);

  // queue.unbind / exchange.unbind. False, and no change, if there is no such binding
  // (RabbitMQ answers unbind-ok either way).
  bool remove(destination to, std::string_view routing_key, const amqp::field_table& arguments);

  // The destination is gone (queue deleted, exchange deleted): drops all its bindings.
  // Returns how many there were.
  std::size_t remove_destination(destination to);

  bool has_bindings_to(destination to) const noexcept { return _by_destination.contains(to); }
  std::size_t size() const noexcept { return _bindings.size(); }
  bool empty() const noexcept { return _bindings.empty(); }

  // Calls f(destination, std::string_view routing_key, const amqp::field_table& arguments)
  // for every binding, in no particular order. The views last until the next change.
  template <class F>
  void for_each(F&& f) const {
    for (const binding& b : _bindings) {
      const amqp::field_table arguments = amqp::field_table::trusted(b.arguments);
      f(b.to, std::string_view{b.routing_key}, arguments);
    }
  }

  // Appends the destinations a message with this routing key and these headers reaches,
  // each once (destinations already in `out` are not looked at). Allocates only when `out`
  // must grow, or while the scratch space first grows to its working size.
  void route(std::string_view routing_key, const amqp::field_table& headers,
             std::vector<destination>& out) const noexcept;

 private:
  struct binding {
    destination to;
    std::string routing_key;
    std::vector<std::byte> arguments;  // sorted by name
  };
  struct binding_ref {
    destination to;
    std::string_view routing_key;
    amqp::bytes_view arguments;
  };
  struct binding_hasher {
    using is_transparent = void;
    std::size_t operator()(const binding& b) const noexcept {
      return (*this)(binding_ref{b.to, b.routing_key, b.arguments});
    }
    std::size_t operator()(const binding_ref& b) const noexcept;
  };
  struct binding_equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.to == b.to && std::string_view{a.routing_key} == std::string_view{b.routing_key} &&
             amqp::as_chars(a.arguments) == amqp::as_chars(b.arguments);
    }
  };
  struct string_hasher {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  // What one destination has in this table.
  struct per_destination {
    std::vector<const binding*> bindings;  // elements of _bindings (node-based: stable)
    std::uint32_t fanout_slot = npos;      // index in _fanout
    std::uint32_t headers_slot = npos;     // index in _headers
  };
  // Bindings of one direct key to one destination (they differ by arguments only).
  struct destination_count {
    destination to;
    std::uint32_t bindings;
  };
  struct headers_binding {
    const binding* source;
    headers_pattern pattern;
  };
  // A destination's headers bindings together: the first that matches routes to it, which
  // deduplicates without a lookup.
  struct headers_group {
    destination to;
    std::vector<headers_binding> bindings;
  };

  void index(const binding& b, per_destination& d);
  void unindex_key(const binding& b);  // direct and topic indexes
  void drop_fanout_slot(per_destination& d) noexcept;
  void drop_headers_group(per_destination& d) noexcept;

  exchange_type _type;
  std::unordered_set<binding, binding_hasher, binding_equal> _bindings;
  std::unordered_map<destination, per_destination> _by_destination;
  std::unordered_map<std::string, std::vector<destination_count>, string_hasher, std::equal_to<>> _direct;
  std::vector<destination> _fanout;
  topic_trie _topic;
  std::vector<headers_group> _headers;
  mutable std::vector<amqp::field_entry> _sorted_headers;  // route() scratch
};

}  // namespace haremq::engine
