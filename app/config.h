#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "engine/session/host.h"
#include "net/io/reactor.h"

// The server's settings: embedded defaults, then a TOML file (--config), then flags.
namespace haremq::app {

struct config {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 5672;
  unsigned workers = 0;  // 0: one per core
  std::string data_dir = "/var/lib/haremq";
  std::string definitions;         // a RabbitMQ definitions file to import at start
  std::string export_definitions;  // write the stored definitions there and exit
  std::uint64_t segment_size = 64 << 20;  // message log segment files close at this size
  std::string config_file;
  io::backend io = io::backend::io_uring;
  std::string log_level = "info";
  // The management port (RabbitMQ's HTTP API, /metrics, the web console); -1: off, 0: any free port.
  int http_port = 15672;
  // A second port serving only /metrics, as RabbitMQ's 15692; -1: off.
  int prometheus_port = -1;
  // The memory alarm: over this many bytes of messages, publishers are blocked. Given as a
  // fraction of the machine's memory (RabbitMQ's vm_memory_high_watermark, 0.4 by default),
  // or in bytes by memory_limit (0: use the fraction).
  double memory_high_watermark = 0.4;
  std::uint64_t memory_limit = 0;
  // A consumer that holds a delivery unacknowledged this long is cancelled (basic.cancel) and
  // its deliveries requeued; its channel stays open. RabbitMQ's default, 30 minutes. 0: none.
  std::int64_t consumer_timeout_ms = 1'800'000;
  session::session_config session;
};

// Parses the command line (and the TOML file it names). On --help or a bad argument it
// returns the exit code to end with; otherwise nullopt and `out` is filled.
std::optional<int> parse_command_line(int argc, char** argv, config& out);

// The memory alarm's threshold in bytes, from memory_limit or the watermark.
std::uint64_t memory_limit_bytes(const config& c);

}  // namespace haremq::app
