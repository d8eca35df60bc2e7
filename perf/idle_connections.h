#pragma once

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "perf/amqp_client.h"
#include "perf/run_control.h"

// N extra connections that only stay open: one thread polls them all, drops what they
// receive, answers a close from the broker by failing the run, and sends heartbeats so the
// broker keeps them. Each has 16 KiB buffers and a 4 KiB frame-max, so a thousand cost
// little memory. Opened on the caller's thread; the poll thread owns them until join().
namespace haremq::perf {

class idle_connections {
 public:
  // Opens `count` connections; throws startup_error at the first that fails.
  idle_connections(const client_settings& settings, std::size_t count, run_control& control);
  ~idle_connections();
  idle_connections(const idle_connections&) = delete;
  idle_connections& operator=(const idle_connections&) = delete;

  std::size_t size() const noexcept { return _clients.size(); }
  void start();
  // Stops polling (the run must be stopping), then says goodbye on every connection.
  void join_and_close() noexcept;

 private:
  void run() noexcept;

  run_control& _control;
  std::vector<std::unique_ptr<amqp_client>> _clients;
  std::thread _thread;
};

}  // namespace haremq::perf
