#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "mgmt/broker_link.h"

namespace httplib {
class Server;
}

// The management port: RabbitMQ's HTTP API under /api, Prometheus metrics at /metrics, and the
// web console at /. It runs on threads of its own (cpp-httplib's pool); a request reaches a
// worker only as a task in its ring, so HTTP traffic never stalls message traffic.
namespace haremq::mgmt {

class http_server {
 public:
  // `metrics_only`: serves /metrics alone (a Prometheus port apart from the management one).
  explicit http_server(broker_link& broker, bool metrics_only = false);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds host:port (0: any free port) and serves on a thread; false with `error` if it cannot bind.
  bool start(const std::string& host, std::uint16_t port, std::string& error);
  std::uint16_t port() const noexcept { return _port; }
  void stop();

 private:
  struct state;
  std::unique_ptr<state> _state;
  std::unique_ptr<httplib::Server> _server;
  std::thread _thread;
  std::uint16_t _port = 0;
  bool _metrics_only;
};

}  // namespace haremq::mgmt
