#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.h"
#include "net/io/basic_reactor.h"
#include "net/io/reactor.h"
#include "net/io/user_data.h"

// The io_uring backend. One ring per reactor; every operation carries its kind, slot and
// generation in `user_data` (user_data.h). Per connection at most one receive (single-shot
// IORING_OP_RECV into the connection's own input_buffer, re-armed after each completion while
// reading is wanted) and one gathered IORING_OP_SENDMSG in flight. Each listener has a
// multishot accept (single-shot on kernels before 5.19). wake() is an eventfd the ring reads.
// Submission entries are prepared only between callbacks, and all of a turn's are submitted
// by the wait that ends it: one io_uring_enter a turn on a busy loop.
//
// A closed connection is shut down (so that its receive completes at once) and its in-flight
// operations cancelled; its slot, buffers and keepalives are freed only when the last of its
// completions has arrived, since the kernel may write to or read from them until then.
namespace haremq::io::detail {

class uring_reactor final : public basic_reactor {
 public:
  // Fails with the kernel's error when io_uring cannot be set up (ENOSYS, EPERM), or with
  // errc::uring_unsupported when it lacks an operation used here.
  static result<std::unique_ptr<reactor>> create(reactor_handler& handler, reactor_options options);
  // Waits (bounded) for the kernel to finish with every buffer, then frees them. Submits
  // nothing: io_uring signals every task that ever submitted to a ring when the ring is torn
  // down (a stray EINTR in whatever that task does next), so only the loop's thread submits.
  // Destroy the reactor on the thread that ran it, or after that thread has exited (its
  // operations are cancelled then); from another thread while it lives, completions wait for
  // it to enter the kernel, and the wait gives up after 2 s.
  ~uring_reactor() override;

  backend kind() const noexcept override { return backend::io_uring; }
  void listen(int listen_fd) override;
  void write_file(int fd, std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t token) override;

 private:
  using clock = std::chrono::steady_clock;

  // A write_file(): a write linked to an fsync, reported once both completed.
  struct file_op {
    int fd = -1;
    std::span<const std::byte> bytes;
    std::uint64_t offset = 0;
    std::uint64_t token = 0;
    std::size_t written = 0;
    std::error_code error;
    int completions_due = 0;  // 0: free or not yet submitted
  };

  struct listener {
    int fd = -1;
    bool armed = false;
    bool multishot = true;
    clock::time_point retry_at{};  // after an error for want of resources
  };

  uring_reactor(reactor_handler& handler, reactor_options options, int wake_fd, const io_uring& ring) noexcept;

  void poll(std::chrono::milliseconds timeout) override;
  void start_send(connection& c) override;
  void attach(connection& c) override;
  void reading_changed(connection& c) override;
  void detach(connection& c) noexcept override;
  bool busy(const connection& c) const noexcept override;
  void leaving() override;

  io_uring_sqe* get_sqe() noexcept;
  void prepare();
  void handle(std::uint64_t user_data, int res, std::uint32_t flags);
  void on_accepted(listener& l, int res, std::uint32_t flags);
  void on_received(connection& c, int res);
  void on_sent(connection& c, int res);
  void want_recv(connection& c);
  void on_file_completion(std::uint32_t slot, op_kind kind, int res);
  bool files_in_flight() const noexcept;
  void drain_for_destruction() noexcept;

  io_uring _ring;
  std::vector<listener> _listeners;
  // Work for the next prepare(): receives to arm, flushes that found the submission queue
  // full, operations to cancel (by user_data).
  std::vector<conn_id> _recv_wanted;
  std::vector<conn_id> _send_backlog;
  std::vector<std::uint64_t> _cancels;
  std::vector<file_op> _file_ops;          // by slot
  std::vector<std::uint32_t> _free_file_ops;
  std::vector<std::uint32_t> _file_wanted;  // slots to submit
  std::uint64_t _wake_count = 0;  // the eventfd read's target
  bool _wake_armed = false;
};

}  // namespace haremq::io::detail
