#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "net/io/byte_buffer.h"
#include "net/io/connection.h"
#include "net/io/connection_table.h"
#include "net/io/reactor.h"

// What both backends share: the connection table, the order of a loop turn, when on_data,
// on_closed and on_turn are called, the life of a connection from accept to its slot being
// freed, and the public calls that only touch buffers. A backend supplies the I/O: waiting
// for events, reading, writing, and telling when the kernel has let go of a connection's
// buffers. Owned and run by one thread, as `reactor` says.
//
// A turn: wait for events (not at all if work is pending) and handle them (accepts, bytes
// read, sends completed) -> offer buffered bytes of resumed connections -> deliver on_closed
// and free the slots the kernel has let go of -> on_turn -> flush every connection that has
// output, finishing close() where the output is gone -> return if stop() was called.
namespace haremq::io::detail {

class basic_reactor : public reactor {
 public:
  ~basic_reactor() override;

  void send(conn_id id, std::span<const std::byte> bytes) final;
  void send_external(conn_id id, std::span<const std::byte> bytes, keepalive keep) final;
  std::span<std::byte> reserve(conn_id id, std::size_t n) final;
  void commit(conn_id id, std::size_t used) final;
  std::size_t pending_output(conn_id id) const noexcept final;
  void pause_reading(conn_id id, bool paused) final;
  void close(conn_id id) final;
  void abort(conn_id id) final;
  void run() final;
  void wake() noexcept final;
  void stop() noexcept final;

 protected:
  // Takes ownership of `wake_fd`, an eventfd the backend watches so that wake() ends a wait.
  basic_reactor(reactor_handler& handler, reactor_options options, int wake_fd) noexcept;

  // Waits at most `timeout` (zero: only collects what is ready) and handles what happened
  // through the helpers below.
  virtual void poll(std::chrono::milliseconds timeout) = 0;
  // `c` (open or closing) has output: start writing it, unless a write already waits.
  virtual void start_send(connection& c) = 0;
  // `c` was just accepted and is open: start watching it.
  virtual void attach(connection& c) = 0;
  // Whether `c` should be read changed (paused, resumed, closing).
  virtual void reading_changed(connection& c) = 0;
  // `c` has just become closed: stop its I/O (in-flight operations must end soon).
  virtual void detach(connection& c) noexcept = 0;
  // Whether the kernel may still use `c`'s buffers.
  virtual bool busy(const connection& c) const noexcept = 0;
  // run() is returning: work prepared in its last turn must not wait for a next one.
  virtual void leaving() {}

  // Whether `c` wants bytes read now.
  static bool wants_input(const connection& c) noexcept { return c.state == conn_state::open && !c.paused; }

  // A write_file() is over: on_file_written is called before this turn's on_turn.
  void file_written(std::uint64_t token, std::size_t written, std::error_code error);

  // An accepted socket (already non-blocking): takes a slot, attaches it, calls on_accept.
  void add_connection(int fd, const sockaddr_storage& peer);
  // Offers `c`'s unconsumed bytes to on_data if it wants input.
  void deliver(connection& c);
  // The peer or the kernel ended `c` (a no-op unless open or closing).
  void lose(connection& c, std::error_code reason) noexcept;
  // `c` has output to write this turn.
  void queue_flush(connection& c);
  // Closes every socket and releases every keepalive, without callbacks; for destructors,
  // once the kernel has let go of every buffer.
  void release_all() noexcept;

  int wake_fd() const noexcept { return _wake_fd; }
  const reactor_options& options() const noexcept { return _options; }
  connection_table& connections() noexcept { return _connections; }

 private:
  struct closed_event {
    conn_id id;
    std::error_code reason;
  };
  struct file_event {
    std::uint64_t token;
    std::size_t written;
    std::error_code error;
  };

  connection* find_open(conn_id id) noexcept;
  void end(connection& c, std::error_code reason, bool graceful) noexcept;
  void reoffer();
  void reap();
  void flush();
  void free_slot(connection& c) noexcept;

  reactor_handler& _handler;
  reactor_options _options;
  int _wake_fd;
  std::atomic<bool> _stop{false};
  connection_table _connections;
  // Work lists, kept across turns so that their storage is reused.
  std::vector<conn_id> _flush;
  std::vector<conn_id> _reoffer;
  std::vector<closed_event> _closed;
  std::vector<file_event> _files_written;
  std::vector<conn_id> _releasing;  // closed, waiting for the kernel to let go
  byte_buffer _scratch;             // reserve() for a stale id
};

}  // namespace haremq::io::detail
