// haremq: the server. Parses its configuration, opens one listening socket per worker
// (SO_REUSEPORT: the kernel spreads connections), starts the workers, and stops them on
// SIGTERM or SIGINT after every connection was closed with 320 CONNECTION_FORCED.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "app/config.h"
#include "app/data_directory.h"
#include "app/management_link.h"
#include "app/restore.h"
#include "app/worker.h"
#include "engine/store/definitions.h"
#include "engine/turn_clock.h"
#include "engine/store/definitions_file.h"
#include "mgmt/http_server.h"

namespace {

using haremq::app::config;

// bind:port as a socket address; false when `bind` is not an IP address.
bool socket_address(const config& c, std::uint16_t port, sockaddr_storage& addr, socklen_t& length) {
  addr = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, c.bind.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, c.bind.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// Whether another process already listens on bind:port. Our own sockets share the port
// through SO_REUSEPORT, which would also let a second broker share it silently and take half
// the connections; a socket without the option cannot bind next to a listener.
bool port_taken(const sockaddr_storage& addr, socklen_t length) {
  const int probe = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const int on = 1;
  ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const bool taken = ::bind(probe, reinterpret_cast<const sockaddr*>(&addr), length) != 0 && errno == EADDRINUSE;
  ::close(probe);
  return taken;
}

// A listening socket on bind:port; `port` 0 takes any free port (the first socket's, for the
// others). The first socket checks that no other process has the port.
int open_listener(const config& c, std::uint16_t port, bool first, std::string& error) {
  sockaddr_storage addr{};
  socklen_t length = 0;
  if (!socket_address(c, port, addr, length)) {
    error = "not an IP address: " + c.bind;
    return -1;
  }
  if (first && port != 0 && port_taken(addr, length)) {
    error = std::strerror(EADDRINUSE);
    return -1;
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0 || ::listen(fd, 4096) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// --export-definitions: the stored definitions, as RabbitMQ's JSON, without starting (the file
// in the data directory is replaced atomically, so a running broker's is read whole).
int export_definitions(const config& c) {
  haremq::engine::topology_store topology;
  const haremq::engine::store::definitions_file file(haremq::app::data_directory::definitions_in(c.data_dir));
  if (std::filesystem::exists(haremq::app::data_directory::definitions_in(c.data_dir))) topology.clear_access();
  const auto loaded = file.load(topology, [] { return haremq::engine::worker_id{0}; });
  if (!loaded.ok()) {
    spdlog::error("{}", loaded.error);  // it names the file
    return 1;
  }
  std::ofstream out(c.export_definitions, std::ios::binary | std::ios::trunc);
  out << haremq::engine::store::export_definitions(topology);
  if (!out.flush()) {
    spdlog::error("cannot write {}", c.export_definitions);
    return 1;
  }
  spdlog::info("definitions written to {}", c.export_definitions);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  config c;
  if (auto exit_code = haremq::app::parse_command_line(argc, argv, c)) return *exit_code;
  // Logs go to stderr, as a service manager's journal and the test harness expect.
  spdlog::set_default_logger(spdlog::stderr_color_mt("haremq"));
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
  if (!c.export_definitions.empty()) return export_definitions(c);

  std::string why;
  auto data = haremq::app::data_directory::open(c.data_dir, why);
  if (!data) {
    spdlog::error("cannot use the data directory {}: {}", c.data_dir, why);
    return 1;
  }

  // Signals are taken by the main thread with sigwait; every worker thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  haremq::app::broker_state broker(c, c.workers);
  broker.memory_limit = haremq::app::memory_limit_bytes(c);
  broker.messages.path = data->messages();
  broker.messages.segment_size = c.segment_size;
  std::vector<std::unique_ptr<haremq::app::worker>> workers;
  haremq::io::backend backend = c.io;
  std::uint16_t port = c.port;
  for (unsigned i = 0; i < c.workers; ++i) {
    std::string error;
    int fd = open_listener(c, port, i == 0, error);
    // A broker that just stopped on this port (a restart) may hold it a moment longer: the
    // kernel tears an io_uring down after the process is gone, listening socket included.
    for (int retry = 0; fd < 0 && i == 0 && error == std::strerror(EADDRINUSE) && retry < 60; ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
      fd = open_listener(c, port, true, error);
    }
    if (fd < 0) {
      spdlog::error("cannot listen on {}:{}: {}", c.bind, port, error);
      return 1;
    }
    port = bound_port(fd);
    broker.amqp_port = port;

    const haremq::engine::worker_id id{static_cast<std::uint16_t>(i)};
    auto w = haremq::app::worker::create(id, broker, backend);
    if (!w && backend == haremq::io::backend::io_uring) {
      spdlog::warn("io_uring unavailable ({}): falling back to epoll", w.error().message());
      backend = haremq::io::backend::epoll;
      w = haremq::app::worker::create(id, broker, backend);
    }
    if (!w) {
      spdlog::error("cannot set up the {} reactor: {}", haremq::io::name_of(backend), w.error().message());
      return 1;
    }
    (*w)->reactor().listen(fd);
    workers.push_back(std::move(*w));
  }
  // Recovered messages are stamped as published now: the time they spent stored is not latency.
  haremq::engine::turn_clock::set(std::chrono::steady_clock::now());
  if (!haremq::app::restore(broker, workers, *data, c, why)) {
    spdlog::error("cannot start on the data directory {}: {}", c.data_dir, why);
    return 1;
  }
  haremq::app::management_link link(broker, workers, backend);
  std::vector<std::unique_ptr<haremq::mgmt::http_server>> http;
  for (const auto& [port_setting, metrics_only] : {std::pair{c.http_port, false}, std::pair{c.prometheus_port, true}}) {
    if (port_setting < 0) continue;
    auto server = std::make_unique<haremq::mgmt::http_server>(link, metrics_only);
    std::string error;
    if (!server->start(c.bind, static_cast<std::uint16_t>(port_setting), error)) {
      spdlog::error("cannot serve the {} on {}:{}: {}", metrics_only ? "Prometheus metrics" : "management API", c.bind,
                    port_setting, error);
      return 1;
    }
    if (!metrics_only) link.set_http_port(server->port());
    spdlog::info("{} listening on {}:{}", metrics_only ? "Prometheus metrics" : "management API", c.bind, server->port());
    http.push_back(std::move(server));
  }
  spdlog::info("haremq {} listening on {}:{}, {} worker{}, io {}, memory limit {} MiB", c.session.version, c.bind, port,
               c.workers, c.workers == 1 ? "" : "s", haremq::io::name_of(backend), broker.memory_limit >> 20);

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("{} received: closing connections and stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& server : http) server->stop();  // before the workers stop answering its tasks
  broker.shutting_down.store(true);
  for (auto& w : workers) w->reactor().wake();
  for (auto& t : threads) t.join();
  haremq::app::finish_clean_stop(workers, *data);
  spdlog::info("stopped");
  return 0;
}
