#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "perf/topology.h"
#include "perf/uri.h"

// Everything a run is told on the command line, named like RabbitMQ's PerfTest flags.
namespace haremq::perf {

struct options {
  std::string uri_text = "amqp://guest:guest@127.0.0.1:5672/%2F";
  amqp_uri uri;
  std::size_t producers = 1;
  std::size_t consumers = 1;
  std::size_t body_size = 16;
  double time_s = 0;            // 0: until -C is done, or --max-seconds
  std::uint64_t pmessages = 0;  // per producer (in --consume-only: in total); 0: no limit
  double rate = 0;              // per producer, msg/s; 0: unlimited
  std::uint32_t confirm = 0;    // publisher confirms with at most this many outstanding
  std::uint16_t qos = 0;
  bool autoack = false;
  std::uint32_t multi_ack_every = 0;
  std::string queue = "haremq-perf";
  std::size_t queues = 1;
  std::string exchange = "haremq-perf-x";
  exchange_kind exchange_type = exchange_kind::direct;
  bool persistent = false;
  std::uint64_t prefill = 0;
  bool consume_only = false;
  bool publish_only = false;
  bool keep_queues = false;
  std::size_t connections = 0;
  std::string json_file;
  pid_t broker_pid = 0;
  bool allow_remote = false;
  double max_seconds = 600;
  std::uint16_t heartbeat = 60;
  int discard_server_port = -1;  // --discard-server PORT: be a sink instead of a client
  bool sink = false;             // publish to an in-process discard server
  std::string command_line;

  bool has_producers() const noexcept { return !consume_only && producers > 0; }
  bool has_consumers() const noexcept { return !publish_only && consumers > 0; }
};

// Parses and checks the command line. On --help or a bad argument it returns the exit code
// to end with (after printing); otherwise nullopt and `out` is filled.
std::optional<int> parse_command_line(int argc, char** argv, options& out);

}  // namespace haremq::perf
