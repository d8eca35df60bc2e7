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
  std::string config_file;
  io::backend io = io::backend::io_uring;
  std::string log_level = "info";
  session::session_config session;
};

// Parses the command line (and the TOML file it names). On --help or a bad argument it
// returns the exit code to end with; otherwise nullopt and `out` is filled.
std::optional<int> parse_command_line(int argc, char** argv, config& out);

}  // namespace haremq::app
