#include "net/io/epoll_reactor.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "base/file_io.h"
#include "net/io/errc.h"
#include "net/io/socket_ops.h"
#include "net/io/user_data.h"

namespace haremq::io::detail {

namespace {

// Connections accepted from one listener per turn: a connection storm must not starve the
// connections already open.
constexpr int max_accepts_per_turn = 64;

}  // namespace

result<std::unique_ptr<reactor>> epoll_reactor::create(reactor_handler& handler, reactor_options options) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return last_error();
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const std::error_code error = last_error();
    ::close(epoll_fd);
    return error;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack({op_kind::wake, 0, 0});
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    const std::error_code error = last_error();
    ::close(wake_fd);
    ::close(epoll_fd);
    return error;
  }
  return std::unique_ptr<reactor>(new epoll_reactor(handler, options, wake_fd, epoll_fd));
}

epoll_reactor::epoll_reactor(reactor_handler& handler, reactor_options options, int wake_fd, int epoll_fd) noexcept
    : basic_reactor(handler, options, wake_fd), _epoll_fd(epoll_fd) {}

epoll_reactor::~epoll_reactor() {
  for (const listener& l : _listeners) ::close(l.fd);
  ::close(_epoll_fd);
  release_all();
}

void epoll_reactor::listen(int listen_fd) {
  _listeners.push_back({listen_fd, false, {}});
  register_listener(_listeners.back(), static_cast<std::uint32_t>(_listeners.size() - 1));
}

void epoll_reactor::register_listener(listener& l, std::uint32_t index) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack({op_kind::accept, index, 0});
  if (::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, l.fd, &ev) == 0) {
    l.registered = true;
  } else {
    // ENOMEM or the watch limit: try again after a tick.
    l.retry_at = clock::now() + options().tick;
  }
}

void epoll_reactor::attach(connection& c) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack({op_kind::readiness, c.id.slot, c.id.generation});
  if (::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    lose(c, last_error());
    return;
  }
  c.epoll_events = EPOLLIN;
}

void epoll_reactor::update_events(connection& c) {
  if (c.state == conn_state::closed || c.state == conn_state::free) return;
  const std::uint32_t wanted = (wants_input(c) ? std::uint32_t{EPOLLIN} : 0u) |
                               (c.write_blocked ? std::uint32_t{EPOLLOUT} : 0u);
  if (wanted == c.epoll_events) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.u64 = pack({op_kind::readiness, c.id.slot, c.id.generation});
  if (::epoll_ctl(_epoll_fd, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    lose(c, last_error());
    return;
  }
  c.epoll_events = wanted;
}

void epoll_reactor::reading_changed(connection& c) { update_events(c); }

void epoll_reactor::detach(connection& c) noexcept {
  // Out of the set now, so that its events stop; the fd itself is closed when the slot is
  // freed later this turn.
  (void)::epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
  c.epoll_events = 0;
}

void epoll_reactor::start_send(connection& c) {
  if (c.write_blocked) return;  // EPOLLOUT will tell when the socket has room
  for (;;) {
    const std::span<const iovec> iov = c.out.next(IOV_MAX);
    if (iov.empty()) break;
    std::size_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    msghdr msg{};
    // msghdr wants a mutable pointer; sendmsg only reads the iovecs.
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    // MSG_NOSIGNAL: a peer gone away must be an EPIPE, not a SIGPIPE.
    const ssize_t sent = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c.write_blocked = true;
        break;
      }
      lose(c, last_error());
      return;
    }
    c.out.advance(static_cast<std::size_t>(sent));
    if (static_cast<std::size_t>(sent) < total) {
      // The socket took less than offered: it is full, and one more call would only say so.
      c.write_blocked = true;
      break;
    }
  }
  update_events(c);
}

void epoll_reactor::read_from(connection& c) {
  const std::span<std::byte> room = c.in.room();
  const ssize_t n = ::recv(c.fd, room.data(), room.size(), 0);
  if (n > 0) {
    c.in.commit(static_cast<std::size_t>(n));
    deliver(c);
    return;
  }
  if (n == 0) {
    lose(c, errc::peer_closed);
    return;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
  lose(c, last_error());
}

void epoll_reactor::accept_from(listener& l) {
  for (int i = 0; i < max_accepts_per_turn; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      add_connection(fd, peer);
      continue;
    }
    switch (errno) {
      case EAGAIN:
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
        return;
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
        continue;
      default:
        // EMFILE, ENFILE, ENOBUFS, ENOMEM...: level triggering would report the listener
        // again at once, so it leaves the set until a tick has passed.
        (void)::epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, l.fd, nullptr);
        l.registered = false;
        l.retry_at = clock::now() + options().tick;
        return;
    }
  }
}

void epoll_reactor::poll(std::chrono::milliseconds timeout) {
  const auto now = clock::now();
  for (std::size_t i = 0; i < _listeners.size(); ++i) {
    listener& l = _listeners[i];
    if (!l.registered && now >= l.retry_at) register_listener(l, static_cast<std::uint32_t>(i));
  }

  const int wait_ms = static_cast<int>(std::min<std::chrono::milliseconds::rep>(timeout.count(), INT_MAX));
  const int n = ::epoll_wait(_epoll_fd, _events.data(), static_cast<int>(_events.size()), wait_ms);
  for (int i = 0; i < n; ++i) {
    const epoll_event ev = _events[static_cast<std::size_t>(i)];
    const op_data d = unpack(ev.data.u64);
    switch (d.kind) {
      case op_kind::wake: {
        std::uint64_t count = 0;
        const ssize_t r = ::read(wake_fd(), &count, sizeof count);  // resets the counter
        (void)r;
        break;
      }
      case op_kind::accept:
        if (d.slot < _listeners.size() && _listeners[d.slot].registered) accept_from(_listeners[d.slot]);
        break;
      case op_kind::readiness: {
        connection* c = connections().at(d.slot);
        // Events of this batch for a connection ended earlier in the batch are stale.
        if (c == nullptr || !same_generation(c->id.generation, d.generation)) break;
        if (c->state != conn_state::open && c->state != conn_state::closing) break;
        if ((ev.events & EPOLLOUT) != 0) {
          c->write_blocked = false;
          queue_flush(*c);
        }
        if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
          if (wants_input(*c)) {
            read_from(*c);
          } else if ((ev.events & (EPOLLHUP | EPOLLERR)) != 0) {
            // Not reading (paused or closing), yet the socket is dead: HUP and ERR cannot be
            // masked, so waiting would spin.
            lose(*c, socket_error(c->fd, errc::peer_closed));
          }
        }
        break;
      }
      case op_kind::recv:
      case op_kind::send:
      case op_kind::cancel:
      case op_kind::file_write:
      case op_kind::file_sync:
        break;
    }
  }
}

void epoll_reactor::write_file(int fd, std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t token) {
  const synced_write r = write_and_sync(fd, bytes, offset);
  file_written(token, r.written, r.error);
}

}  // namespace haremq::io::detail
