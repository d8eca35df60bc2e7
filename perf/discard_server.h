#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

// A sink that speaks just enough AMQP 0-9-1 to be published to: the handshake, channel.open,
// and an ok for every declaration, binding, qos, consume and confirm.select; publishes are
// counted and dropped (and acked, one multiple ack per read, in confirm mode). It never
// delivers. It measures the harness's own publishing ceiling. Listens on 127.0.0.1 only; a
// thread per connection; start() and stop() from one owning thread; counters thread-safe.
namespace haremq::perf {

class discard_server {
 public:
  // Binds 127.0.0.1:`port` (0: any free port); throws startup_error.
  explicit discard_server(std::uint16_t port);
  ~discard_server();
  discard_server(const discard_server&) = delete;
  discard_server& operator=(const discard_server&) = delete;

  std::uint16_t port() const noexcept { return _port; }
  void start();
  void stop() noexcept;
  std::uint64_t publishes() const noexcept { return _publishes.load(std::memory_order_relaxed); }

 private:
  void accept_loop() noexcept;
  void serve(int fd) noexcept;

  int _listen_fd = -1;
  std::uint16_t _port = 0;
  std::atomic<bool> _stop{false};
  std::atomic<std::uint64_t> _publishes{0};
  std::thread _acceptor;
  std::mutex _mutex;
  std::list<std::thread> _sessions;  // guarded by _mutex
};

}  // namespace haremq::perf
