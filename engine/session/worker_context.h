#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/session/connection.h"
#include "engine/session/host.h"

// What a task from the management thread (engine::task_cmd) may use on the worker it runs on:
// the worker's shard, routing and outbox, and its connections. Everything is read or changed
// on the worker's own thread, so statistics cost nothing while nobody asks.
namespace haremq::session {

// One open connection and what its socket knows.
struct connection_endpoint {
  const connection& session;
  std::string peer_host;
  std::uint16_t peer_port = 0;
  std::string host;  // the broker's side
  std::uint16_t port = 0;
  std::int64_t connected_at_ms = 0;  // Unix time
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_bytes = 0;
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t pending_output = 0;  // bytes queued, not yet sent
};

class worker_context : public host {
 public:
  virtual void for_each_connection(const std::function<void(const connection_endpoint&)>& f) = 0;
  // Closes the connections `match` picks: connection.close 320 CONNECTION_FORCED with `reason`.
  virtual void close_connections(const std::function<bool(const connection_endpoint&)>& match,
                                 std::string_view reason) = 0;
};

}  // namespace haremq::session
