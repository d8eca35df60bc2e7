#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "net/amqp/byte_writer.h"
#include "net/amqp/frame.h"
#include "net/amqp/method_codec.h"
#include "net/amqp/methods.h"
#include "perf/uri.h"

// A blocking AMQP 0-9-1 client connection on one channel, every byte through the codec in
// net/amqp. Start-up (connect, handshake, declarations) throws startup_error; the data path
// (receive, next_frame, writer/commit, send) is noexcept and reports through io_status.
// Owned and used by one thread at a time; not thread-safe. Its two buffers are allocated
// once, uninitialised, and never grow: the data path allocates nothing.
namespace haremq::perf {

// A failure while connecting, in the handshake or in a declaration, worded for the user.
class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct client_settings {
  amqp_uri target;
  bool allow_remote = false;        // else only loopback addresses are connected to
  std::uint16_t heartbeat = 60;     // seconds asked for in tune-ok; 0 turns heartbeats off
  std::uint32_t frame_max = amqp::default_frame_max;  // the largest frame we accept
  std::string name = "haremq-perf";                   // the connection_name client property
  std::size_t receive_buffer = std::size_t{1} << 20;  // must hold a frame of frame_max
  std::size_t send_buffer = std::size_t{256} << 10;
  int timeout_ms = 10'000;  // for each start-up step
};

// "403 ACCESS_REFUSED - Login was refused" (RabbitMQ's texts already start with the name).
std::string describe_close(std::uint16_t code, std::string_view text);

class amqp_client {
 public:
  static constexpr std::uint16_t channel = 1;
  enum class io_status { ok, timeout, closed, failed };

  // Connects, completes the handshake (start, tune, open) and opens channel 1.
  explicit amqp_client(const client_settings& settings);
  ~amqp_client();
  amqp_client(const amqp_client&) = delete;
  amqp_client& operator=(const amqp_client&) = delete;

  // Start-up request: sends `request` on channel 1 and waits for a `Reply`; a close from
  // the broker, a timeout or another method throws. The reply views the receive buffer:
  // copy what is needed before the next read.
  template <class Reply, class Request>
  Reply call(const Request& request) {
    send_method(request);
    return std::get<Reply>(await_method(Reply::id));
  }
  // Start-up: writes one method frame and sends it whole; throws on a socket error.
  template <class Request>
  void send_method(const Request& request, std::uint16_t on_channel = channel) {
    amqp::byte_writer w = writer();
    amqp::write_method_frame(w, on_channel, request);
    commit_or_throw(w);
  }

  // Data path: writes one method frame into the send buffer (sent by the next send_some
  // or flush); false if it does not fit.
  template <class M>
  bool enqueue(const M& m, std::uint16_t on_channel = channel) noexcept {
    amqp::byte_writer w = writer();
    amqp::write_method_frame(w, on_channel, m);
    if (!w.ok()) return false;
    commit(w.position());
    return true;
  }

  int fd() const noexcept { return _fd; }
  std::uint32_t frame_max() const noexcept { return _frame_max; }
  std::uint64_t heartbeat_ns() const noexcept { return _heartbeat_ns; }

  // Reads what the socket holds after the unparsed bytes, waiting at most `timeout_ms`
  // (0: not at all). Frames from next_frame() are invalid after it.
  io_status receive(int timeout_ms) noexcept;
  // The next complete frame of the receive buffer, or need_more, or a framing error.
  amqp::frame_parse next_frame() noexcept;

  // The free end of the send buffer; commit() what was written into it.
  amqp::byte_writer writer() noexcept;
  void commit(std::size_t bytes) noexcept { _out_end += bytes; }
  std::size_t unsent() const noexcept { return _out_end - _out_begin; }
  std::size_t send_capacity() const noexcept { return _out_cap; }
  // Sends what the socket takes without waiting: ok once nothing is left, timeout if the
  // socket is full.
  io_status send_some() noexcept;
  // Sends everything, waiting at most `timeout_ms`; while it waits it reads (without
  // parsing) into the receive buffer, so a broker that waits for us to read never stalls us.
  io_status flush(int timeout_ms) noexcept;
  // poll() for `events`; the revents, 0 on timeout.
  short wait(short events, std::uint64_t timeout_ns) noexcept;
  // Queues a heartbeat frame when nothing was sent for half the interval (spec §4.2.7).
  void heartbeat_if_due(std::uint64_t now) noexcept;

  // If `m` is a connection.close or channel.close, answers it with close-ok and returns
  // the failure text; else nullopt.
  std::optional<std::string> answer_close(const amqp::method& m) noexcept;
  // What an io_status other than ok means, for the user.
  std::string describe(io_status status) const;

  // Says goodbye (connection.close 200, close-ok awaited at most `timeout_ms`) and closes
  // the socket. Never throws; safe to call twice.
  void close(int timeout_ms) noexcept;

 private:
  void connect_socket(const client_settings& settings);
  void handshake(const client_settings& settings);
  amqp::method await_method(amqp::method_id expected);
  void commit_or_throw(const amqp::byte_writer& w);
  void compact_input() noexcept;

  int _fd = -1;
  std::string _where;  // "127.0.0.1:5672", for messages
  std::string _stage = "during the handshake";  // for messages: where start-up failed
  int _timeout_ms = 10'000;
  std::uint32_t _frame_max = 0;  // 0 until tune: no limit on what we parse
  std::uint64_t _heartbeat_ns = 0;
  std::uint64_t _last_sent_ns = 0;
  int _errno = 0;

  std::unique_ptr<std::byte[]> _in;
  std::size_t _in_cap = 0;
  std::size_t _in_begin = 0;  // unparsed bytes are [_in_begin, _in_end)
  std::size_t _in_end = 0;
  std::unique_ptr<std::byte[]> _out;
  std::size_t _out_cap = 0;
  std::size_t _out_begin = 0;  // unsent bytes are [_out_begin, _out_end)
  std::size_t _out_end = 0;
};

}  // namespace haremq::perf
