#pragma once

#include <cstdint>
#include <functional>

// Strong ids shared by the engine and the sessions.
namespace haremq::engine {

// A worker thread (and the shard of queues it owns).
struct worker_id {
  std::uint16_t value = 0;
  friend constexpr bool operator==(worker_id, worker_id) = default;
};

// A queue, unique in the broker for its lifetime (never reused).
struct queue_id {
  std::uint32_t value = 0;
  friend constexpr bool operator==(queue_id, queue_id) = default;
};

// A client connection: its worker and a number unique on that worker.
struct connection_key {
  worker_id worker;
  std::uint64_t local = 0;
  friend constexpr bool operator==(connection_key, connection_key) = default;
  bool valid() const noexcept { return local != 0; }
};

// Where a consumer's deliveries go: a connection, a channel of it, and the consumer's
// number on that channel (consumer tags are strings; this is their cheap stand-in). Numbers
// start at 1: 0 stands for the channel's basic.get deliveries.
struct consumer_address {
  connection_key connection;
  std::uint16_t channel = 0;
  std::uint32_t consumer = 0;
  friend constexpr bool operator==(consumer_address, consumer_address) = default;
};

}  // namespace haremq::engine

template <>
struct std::hash<haremq::engine::queue_id> {
  std::size_t operator()(haremq::engine::queue_id q) const noexcept { return std::hash<std::uint32_t>{}(q.value); }
};
