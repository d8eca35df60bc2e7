#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "net/io/input_buffer.h"
#include "net/io/output_queue.h"
#include "net/io/reactor.h"

// The state a reactor keeps for one accepted socket. Owned by the connection_table, which
// never moves it, so a reference stays valid across callbacks; reached only from the
// reactor's thread.
namespace haremq::io::detail {

enum class conn_state : std::uint8_t {
  free,     // the slot holds no connection
  open,     // reading and writing
  closing,  // close() was called: flushing output, no longer offering input
  closed,   // on_closed is due or delivered; the slot waits for the kernel to let go of it
};

struct connection {
  explicit connection(std::size_t recv_buffer_size) noexcept : in(recv_buffer_size) {}

  conn_id id;
  int fd = -1;
  conn_state state = conn_state::free;
  bool paused = false;
  // Closed by close() rather than abort() or an error: unread input is drained before
  // close(2), as Linux answers close(2) with unread input by a RST that can destroy the
  // output still on its way to the peer.
  bool graceful = false;
  // Membership of the reactor's work lists, so that a connection is listed once per turn.
  bool in_flush_list = false;
  bool in_reoffer_list = false;

  // io_uring only: operations in flight (their buffers must outlive them) and the message
  // header of the send in flight, which the kernel may read until it completes.
  bool recv_in_flight = false;
  bool send_in_flight = false;
  bool in_recv_list = false;
  msghdr send_msg{};

  // epoll only: the events the fd is registered for, and whether a write hit a full socket
  // (EPOLLOUT is awaited before writing again).
  std::uint32_t epoll_events = 0;
  bool write_blocked = false;

  input_buffer in;
  output_queue out;
};

}  // namespace haremq::io::detail
