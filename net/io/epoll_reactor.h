#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <memory>
#include <vector>

#include "base/result.h"
#include "net/io/basic_reactor.h"
#include "net/io/reactor.h"

// The epoll backend, for kernels or sandboxes without a usable io_uring. Level-triggered:
// a connection is registered for EPOLLIN while it wants input (not paused, not closing) and
// for EPOLLOUT only after a write found its socket full. One read per ready connection per
// turn (fairness; level triggering reports the rest next turn), straight into the
// connection's input_buffer. Output is written with sendmsg over the output_queue's iovecs
// in the flush phase, until the socket is full. wake() is an eventfd in the epoll set.
namespace haremq::io::detail {

class epoll_reactor final : public basic_reactor {
 public:
  static result<std::unique_ptr<reactor>> create(reactor_handler& handler, reactor_options options);
  ~epoll_reactor() override;

  backend kind() const noexcept override { return backend::epoll; }
  void listen(int listen_fd) override;
  // In place: epoll has no asynchronous file writes; the sync holds the loop for its duration.
  void write_file(int fd, std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t token) override;

 private:
  using clock = std::chrono::steady_clock;

  struct listener {
    int fd = -1;
    bool registered = false;       // in the epoll set, for EPOLLIN
    clock::time_point retry_at{};  // when registered is false: after an error
  };

  epoll_reactor(reactor_handler& handler, reactor_options options, int wake_fd, int epoll_fd) noexcept;

  void poll(std::chrono::milliseconds timeout) override;
  void start_send(connection& c) override;
  void attach(connection& c) override;
  void reading_changed(connection& c) override;
  void detach(connection& c) noexcept override;
  bool busy(const connection&) const noexcept override { return false; }

  void accept_from(listener& l);
  void read_from(connection& c);
  void update_events(connection& c);
  void register_listener(listener& l, std::uint32_t index) noexcept;

  int _epoll_fd;
  std::vector<listener> _listeners;
  std::array<epoll_event, 256> _events{};
};

}  // namespace haremq::io::detail
