#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/ids.h"
#include "engine/queue_stats.h"
#include "engine/session/description.h"
#include "mgmt/broker_link.h"

// The broker's state as the management API and Prometheus report it: gathered on request by a
// task on every worker (each copies out its own queues and connections), and message rates
// computed from the counters of successive gatherings.
namespace haremq::mgmt {

struct queue_snapshot {
  engine::queue_id id;
  engine::worker_id owner;
  std::string vhost;
  std::string name;
  std::uint32_t ready = 0;
  std::uint32_t unacked = 0;
  std::uint32_t consumers = 0;
  engine::queue_stats stats;
  bool single_active_consumer = false;
  std::optional<engine::consumer_address> active_consumer;  // with single active consumer: the one that receives
  std::string active_consumer_tag;  // and its tag
};

struct connection_snapshot {
  engine::worker_id worker;
  engine::connection_key key;
  std::string name;  // RabbitMQ's "peer_host:peer_port -> host:port"
  std::string peer_host;
  std::uint16_t peer_port = 0;
  std::string host;
  std::uint16_t port = 0;
  std::int64_t connected_at_ms = 0;
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_bytes = 0;
  std::uint64_t reads = 0;   // socket reads that brought data
  std::uint64_t writes = 0;  // frames and bodies queued for sending
  std::uint64_t pending_output = 0;
  session::connection_description session;
};

struct broker_snapshot {
  std::vector<queue_snapshot> queues;            // every queue object, by owner
  std::vector<connection_snapshot> connections;  // every open connection
  std::vector<double> worker_cpu_seconds;        // by worker: CPU time its thread has used
  bool complete = true;                          // every worker answered
};

broker_snapshot gather(broker_link& broker);

// Rates per second of ever-growing counters, from the samples of the last seconds. Thread-safe.
class rate_tracker {
 public:
  // Records `value` of `key` now and returns its rate over the window (0 until two samples).
  double rate(const std::string& key, double value);

 private:
  struct sample {
    std::chrono::steady_clock::time_point at;
    double value;
  };
  std::mutex _mutex;
  std::map<std::string, std::deque<sample>, std::less<>> _samples;
  std::uint64_t _calls = 0;
};

}  // namespace haremq::mgmt
