#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

#include "base/result.h"
#include "net/io/errc.h"

// The per-worker event loop: accepts connections, reads bytes into per-connection buffers,
// writes what the upper layer queued (one gathered send per connection per loop turn), and
// runs the upper layer once per turn. Nothing here knows AMQP. Two backends behind one
// interface: io_uring (preferred) and epoll (fallback when io_uring cannot be set up).
//
// Threads: a reactor and its connections belong to the thread that calls run(). Every member
// but wake() and stop() is called on that thread (from inside a handler callback) or while
// run() is not running (e.g. listen() before it). Nothing here is thread-safe unless it says so.
namespace haremq::io {

enum class backend { io_uring, epoll };
std::string_view name_of(backend b) noexcept;

// A connection of one reactor: a slot index and a generation, so an id of a closed
// connection never reaches the connection that reuses its slot. A default conn_id{} names
// no connection.
struct conn_id {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(conn_id, conn_id) = default;
};

// Keeps bytes handed to send_external() alive until the kernel has taken them; `release`
// is called exactly once, on the reactor's thread, when they are no longer needed: once
// sent, when the connection is gone (closed, aborted, or the id was stale), or when the
// reactor is destroyed. `release` must not call the reactor.
struct keepalive {
  void* owner = nullptr;
  void (*release)(void* owner) noexcept = nullptr;
};

// What the reactor calls. All calls happen on the reactor's own thread, from run(). A
// callback may call any reactor member, for its own connection or any other; those calls
// never call back into the handler before they return (on_closed, for instance, follows
// later in the same turn).
class reactor_handler {
 public:
  virtual ~reactor_handler() = default;
  // A connection was accepted (already non-blocking, TCP_NODELAY set) from `peer` on the
  // broker's address `local`.
  virtual void on_accept(conn_id id, const sockaddr_storage& peer, const sockaddr_storage& local) = 0;
  // `data` is every byte received on `id` and not yet consumed. Returns how many bytes were
  // consumed from the front; the rest stay buffered and are offered again, with whatever
  // arrives next. Bytes are offered only while reading is not paused.
  // `data` is valid during the call only. The buffer holding it grows only when unconsumed
  // bytes fill all of it (a frame larger than reactor_options::recv_buffer_size): a handler
  // that neither consumes nor pauses makes it grow without bound.
  virtual std::size_t on_data(conn_id id, std::span<const std::byte> data) = 0;
  // The peer closed, an I/O error happened, or close() completed: `id` is gone.
  // Called exactly once per accepted connection. `reason` is empty when the handler asked
  // (close() or abort()), errc::peer_closed when the peer ended the stream in order (also
  // when it only half-closed: the reactor does not keep half-open connections), and the
  // system error otherwise (ECONNRESET, EPIPE, ...). Not called by the reactor's destructor.
  virtual void on_closed(conn_id id, std::error_code reason) = 0;
  // Once per loop turn, after the completions of the turn were handled and before queued
  // output is flushed; and at least every `options::tick` while idle.
  virtual void on_turn() = 0;
  // How soon the handler wants its next on_turn even if nothing happens (a timer); the reactor
  // waits no longer than this or its tick.
  virtual std::chrono::nanoseconds due_in() const noexcept { return std::chrono::nanoseconds::max(); }
  // A write_file() ended: `written` bytes went to the file, then the sync, unless `error`
  // (or a short write, `written` below the size, with no error: the sync was not done).
  virtual void on_file_written(std::uint64_t /*token*/, std::size_t /*written*/, std::error_code /*error*/) {}
};

struct reactor_options {
  std::chrono::milliseconds tick{100};
  std::size_t recv_buffer_size = 64 * 1024;  // per connection, grows when a frame is larger
};

// Calls with an id that names no open connection (never valid, closed, or after close() or
// abort()) are ignored: send() drops the bytes, send_external() releases `keep` at once,
// reserve() gives scratch room that commit() discards, pending_output() is 0. Two
// exceptions for a connection that close() is still flushing: pending_output() reports
// what is left, and abort() cuts the flush short (a peer that does not read).
//
// Destroying the reactor (never while run() is running) closes every socket, releases every
// keepalive and calls no handler, not even the on_closed of closes still pending.
class reactor {
 public:
  // Creates a reactor of the wanted backend. For io_uring, fails (so that the caller can
  // fall back to epoll and say so) when the kernel or a seccomp policy refuses io_uring,
  // or when its io_uring lacks an operation the reactor needs (errc::uring_unsupported).
  static result<std::unique_ptr<reactor>> create(backend wanted, reactor_handler& handler,
                                                 reactor_options options = {});
  virtual ~reactor() = default;

  virtual backend kind() const noexcept = 0;

  // Accepts on `listen_fd` (bound, listening, non-blocking); the reactor owns it from now.
  // A listener that fails for want of resources (EMFILE, ENOBUFS) retries after a tick.
  virtual void listen(int listen_fd) = 0;

  // Queues bytes (copied) for `id`; flushed at the end of the loop turn.
  virtual void send(conn_id id, std::span<const std::byte> bytes) = 0;
  // Queues bytes that are not copied: they are written straight from where they are
  // (gathered with the rest) and `keep` is released once sent or the connection is gone.
  virtual void send_external(conn_id id, std::span<const std::byte> bytes, keepalive keep) = 0;
  // Room to encode into, directly in the connection's output: reserve() gives at least `n`
  // writable bytes, commit() queues the first `used` of them. Both belong in the same
  // callback, with no other call queueing output for `id` in between (that cancels the
  // reservation, and a commit() of more than is reserved is a bug that aborts).
  virtual std::span<std::byte> reserve(conn_id id, std::size_t n) = 0;
  virtual void commit(conn_id id, std::size_t used) = 0;
  // Bytes queued or being sent on `id`: the upper layer's back-pressure signal. Falls back
  // to 0 once the kernel has taken them all.
  virtual std::size_t pending_output(conn_id id) const noexcept = 0;

  // Stops or resumes offering received bytes of `id` (and reading from its socket, so that
  // the kernel's buffer fills and TCP flow control holds the peer back). On resume, bytes
  // already buffered are offered again on the next turn, even if nothing new arrives.
  virtual void pause_reading(conn_id id, bool paused) = 0;
  // Flushes what is queued for `id`, then closes it; on_closed follows. No on_data after
  // close(): bytes that arrive meanwhile are discarded.
  virtual void close(conn_id id) = 0;
  // Closes at once, dropping queued output (a misbehaving peer); on_closed follows.
  virtual void abort(conn_id id) = 0;

  // Writes `bytes` at `offset` of the regular file `fd`, then fdatasync(fd), without holding
  // the loop up: io_uring links a write and an fsync; epoll does both in place. Either way
  // on_file_written(token, ...) follows, in a later turn. `bytes` and `fd` must stay valid until
  // then; a reactor that is destroyed first waits for the kernel to finish with them.
  virtual void write_file(int fd, std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t token) = 0;

  // Runs the loop on the calling thread until stop(). May be called again after it returns.
  virtual void run() = 0;
  // Thread-safe: makes the loop run a turn soon (another thread queued work for it).
  virtual void wake() noexcept = 0;
  // Thread-safe: run() returns after the current turn.
  virtual void stop() noexcept = 0;
};

}  // namespace haremq::io
