#include "app/config.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <unistd.h>

#include <iostream>
#include <thread>

namespace haremq::app {
namespace {

bool parse_backend(const std::string& text, io::backend& out) {
  if (text == "uring" || text == "io_uring") {
    out = io::backend::io_uring;
    return true;
  }
  if (text == "epoll") {
    out = io::backend::epoll;
    return true;
  }
  return false;
}

// Applies the keys of a TOML file; the same names as the flags.
std::optional<std::string> apply_file(const std::string& path, config& c, std::string& io_name) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return std::string("cannot read config file ") + path + ": " + std::string(e.description());
  }
  if (auto v = t["bind"].value<std::string>()) c.bind = *v;
  if (auto v = t["port"].value<std::int64_t>()) c.port = static_cast<std::uint16_t>(*v);
  if (auto v = t["workers"].value<std::int64_t>()) c.workers = static_cast<unsigned>(*v);
  if (auto v = t["data-dir"].value<std::string>()) c.data_dir = *v;
  if (auto v = t["definitions"].value<std::string>()) c.definitions = *v;
  if (auto v = t["segment-size"].value<std::int64_t>()) c.segment_size = static_cast<std::uint64_t>(*v);
  if (auto v = t["io"].value<std::string>()) io_name = *v;
  if (auto v = t["log-level"].value<std::string>()) c.log_level = *v;
  if (auto v = t["http-port"].value<std::int64_t>()) c.http_port = static_cast<int>(*v);
  if (auto v = t["prometheus-port"].value<std::int64_t>()) c.prometheus_port = static_cast<int>(*v);
  if (auto v = t["heartbeat"].value<std::int64_t>()) c.session.heartbeat = static_cast<std::uint16_t>(*v);
  if (auto v = t["frame-max"].value<std::int64_t>()) c.session.frame_max = static_cast<std::uint32_t>(*v);
  if (auto v = t["channel-max"].value<std::int64_t>()) c.session.channel_max = static_cast<std::uint16_t>(*v);
  if (auto v = t["memory-high-watermark"].value<double>()) c.memory_high_watermark = *v;
  if (auto v = t["memory-limit"].value<std::int64_t>()) c.memory_limit = static_cast<std::uint64_t>(*v);
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, config& out) {
  CLI::App cli{"haremq: an AMQP 0-9-1 message broker compatible with RabbitMQ"};
  std::string io_name = "uring";
  std::string config_file;
  // A first pass finds --config, so that flags given on the command line win over the file.
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == "--config") config_file = argv[i + 1];
  }
  if (!config_file.empty()) {
    if (auto error = apply_file(config_file, out, io_name)) {
      std::cerr << "haremq: " << *error << "\n";
      return 2;
    }
  }
  cli.add_option("--bind", out.bind, "Address to listen on")->capture_default_str();
  cli.add_option("--port", out.port, "AMQP port")->capture_default_str();
  cli.add_option("--workers", out.workers, "Worker threads (0: one per core)")->capture_default_str();
  cli.add_option("--data-dir", out.data_dir, "Directory for durable data")->capture_default_str();
  cli.add_option("--definitions", out.definitions,
                 "RabbitMQ definitions JSON to import at start (exchanges, queues, bindings, vhosts)");
  cli.add_option("--export-definitions", out.export_definitions,
                 "Write the data directory's definitions (RabbitMQ's JSON format) to this file and exit");
  cli.add_option("--segment-size", out.segment_size, "Size at which a message log segment file is closed, bytes")
      ->capture_default_str();
  cli.add_option("--config", out.config_file, "TOML file with the same keys as these flags");
  cli.add_option("--io", io_name, "I/O backend: uring or epoll (uring falls back to epoll)")->capture_default_str();
  cli.add_option("--log-level", out.log_level, "trace, debug, info, warn, error")->capture_default_str();
  cli.add_option("--http-port", out.http_port, "Management HTTP API, metrics and console port (-1: off, 0: any)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  cli.add_option("--prometheus-port", out.prometheus_port, "Port serving only /metrics (-1: off)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  cli.add_option("--heartbeat", out.session.heartbeat, "Heartbeat interval offered to clients, seconds")
      ->capture_default_str();
  cli.add_option("--frame-max", out.session.frame_max, "Largest frame offered to clients, bytes")
      ->capture_default_str();
  cli.add_option("--channel-max", out.session.channel_max, "Most channels per connection")->capture_default_str();
  cli.add_option("--memory-high-watermark", out.memory_high_watermark,
                 "Block publishers when messages hold this fraction of the machine's memory")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cli.add_option("--memory-limit", out.memory_limit, "The same limit in bytes (0: use the watermark)")
      ->capture_default_str();
  cli.add_option("--consumer-timeout", out.consumer_timeout_ms,
                 "Cancel a consumer holding an unacked delivery this long, ms (0: never; x-consumer-timeout per queue)")
      ->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  if (!parse_backend(io_name, out.io)) {
    std::cerr << "haremq: --io must be uring or epoll, not '" << io_name << "'\n";
    return 2;
  }
  if (out.session.frame_max < amqp::frame_min_size) {
    std::cerr << "haremq: --frame-max must be at least " << amqp::frame_min_size << "\n";
    return 2;
  }
  // Offsets within a segment are 32 bits: 1 GiB plus the largest message stays well inside.
  if (out.segment_size < 4096 || out.segment_size > (std::uint64_t{1} << 30)) {
    std::cerr << "haremq: --segment-size must be between 4096 and 1073741824\n";
    return 2;
  }
  if (out.workers == 0) out.workers = std::max(1u, std::thread::hardware_concurrency());
  return std::nullopt;
}

std::uint64_t memory_limit_bytes(const config& c) {
  if (c.memory_limit != 0) return c.memory_limit;
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return UINT64_MAX;
  return static_cast<std::uint64_t>(c.memory_high_watermark * static_cast<double>(pages) * static_cast<double>(page_size));
}

}  // namespace haremq::app
