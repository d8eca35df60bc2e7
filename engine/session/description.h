#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ids.h"

// What a connection and its channels say about themselves to the management API: plain
// values copied out on the connection's worker, so the copy can cross to the HTTP thread.
namespace haremq::session {

struct consumer_description {
  std::string tag;
  engine::queue_id queue;
  bool ack_required = true;
  std::uint16_t prefetch = 0;
  bool exclusive = false;
};

struct channel_description {
  std::uint16_t number = 0;
  std::uint16_t prefetch = 0;         // for new consumers (basic.qos global=false)
  std::uint16_t global_prefetch = 0;  // basic.qos global=true
  std::uint32_t unacked = 0;
  std::uint64_t unconfirmed = 0;
  bool confirm = false;
  bool transactional = false;
  std::vector<consumer_description> consumers;
};

struct connection_description {
  std::string user;
  std::string vhost;
  std::string state;  // RabbitMQ's: "starting", "tuning", "opening", "running", "blocked", "closing"
  std::string auth_mechanism;
  std::vector<std::byte> client_properties;  // the start-ok's field table
  std::uint32_t frame_max = 0;
  std::uint16_t channel_max = 0;
  std::uint16_t heartbeat = 0;
  std::vector<channel_description> channels;
};

}  // namespace haremq::session
