#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/ids.h"
#include "engine/message.h"
#include "engine/outbox.h"
#include "engine/shard.h"
#include "engine/topology.h"

// What a session needs from the world around it, as interfaces, so that the protocol state
// machines run without sockets or threads (unit tests drive them with bytes in, frames out).
namespace haremq::session {

// One connection's way out. Implemented by the worker over the reactor.
class transport {
 public:
  virtual ~transport() = default;
  // Room to encode at least `n` bytes; commit() queues the first `used` of them.
  virtual std::span<std::byte> reserve(std::size_t n) = 0;
  virtual void commit(std::size_t used) = 0;
  // Queues `part` of a message's body without copying it; the message is kept alive until
  // the bytes are sent.
  virtual void send_body(const engine::message_ref& msg, amqp::bytes_view part) = 0;
  virtual std::size_t pending_output() const noexcept = 0;
  virtual void pause_reading(bool paused) = 0;
  // Flush, then close the socket.
  virtual void close() = 0;
  // Drop the socket now (a peer that broke the protocol beyond a close handshake).
  virtual void abort() = 0;
};

// Which of the broker's resource alarms are on: publishers are blocked while any is.
struct resource_alarms {
  bool memory = false;
  bool disk = false;
  bool any() const noexcept { return memory || disk; }
  friend bool operator==(const resource_alarms&, const resource_alarms&) = default;
};

struct session_config {
  std::uint16_t channel_max = amqp::default_channel_max;
  std::uint32_t frame_max = amqp::default_frame_max;
  std::uint16_t heartbeat = amqp::default_heartbeat;  // seconds, 0: off
  std::uint64_t max_message_size = 128ull * 1024 * 1024;  // RabbitMQ 3.10's default
  // Users who may log in only from a loopback address (RabbitMQ's loopback_users).
  std::vector<std::string> loopback_users{"guest"};
  std::string product = "HareMQ";
  std::string version = "0.1.0";
  std::string cluster_name = "haremq@localhost";
};

// The worker around the sessions: its engine objects, shared by all its connections.
class host {
 public:
  virtual ~host() = default;
  virtual engine::worker_id self() const noexcept = 0;
  virtual engine::topology_store& topology() noexcept = 0;
  // This worker's routing replica, refreshed before it is returned.
  virtual engine::topology_replica& replica() noexcept = 0;
  virtual engine::shard& shard() noexcept = 0;
  virtual engine::outbox& outbox() noexcept = 0;
  virtual const session_config& config() const noexcept = 0;
  virtual std::chrono::steady_clock::time_point now() const noexcept = 0;

  // Back-pressure. A worker's mailbox over its high mark is congested: publishers that feed
  // it stop reading until every mailbox is back under its low mark ("relieved").
  virtual bool congested(engine::worker_id w) const noexcept = 0;
  virtual bool relieved() const noexcept = 0;
  // connection::on_relief() is called once a loop turn until it returns false.
  virtual void call_until_relieved(engine::connection_key c) = 0;
};

}  // namespace haremq::session
