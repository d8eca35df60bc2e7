#include "net/io/basic_reactor.h"

#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "base/assert.h"
#include "net/io/socket_ops.h"

namespace haremq::io::detail {

basic_reactor::basic_reactor(reactor_handler& handler, reactor_options options, int wake_fd) noexcept
    : _handler(handler), _options(options), _wake_fd(wake_fd), _connections(options.recv_buffer_size) {
  // A zero tick would turn every idle wait into a busy loop.
  _options.tick = std::max(_options.tick, std::chrono::milliseconds{1});
}

basic_reactor::~basic_reactor() {
  release_all();
  ::close(_wake_fd);
}

connection* basic_reactor::find_open(conn_id id) noexcept {
  connection* c = _connections.find(id);
  return c != nullptr && c->state == conn_state::open ? c : nullptr;
}

void basic_reactor::send(conn_id id, std::span<const std::byte> bytes) {
  connection* c = find_open(id);
  if (c == nullptr) return;
  c->out.append(bytes);
  queue_flush(*c);
}

void basic_reactor::send_external(conn_id id, std::span<const std::byte> bytes, keepalive keep) {
  connection* c = find_open(id);
  if (c == nullptr) {
    if (keep.release != nullptr) keep.release(keep.owner);
    return;
  }
  c->out.append_external(bytes, keep);
  queue_flush(*c);
}

std::span<std::byte> basic_reactor::reserve(conn_id id, std::size_t n) {
  connection* c = find_open(id);
  if (c != nullptr) return c->out.reserve(n);
  // The caller encodes into the room whether or not the connection still exists; scratch
  // room spares it a check on every message.
  if (_scratch.capacity() < n) _scratch.reallocate(std::max(n, std::size_t{4096}), 0, 0);
  return {_scratch.data(), n};
}

void basic_reactor::commit(conn_id id, std::size_t used) {
  connection* c = find_open(id);
  if (c == nullptr) return;
  c->out.commit(used);
  if (used != 0) queue_flush(*c);
}

std::size_t basic_reactor::pending_output(conn_id id) const noexcept {
  const connection* c = _connections.find(id);
  return c != nullptr ? c->out.size() : 0;
}

void basic_reactor::pause_reading(conn_id id, bool paused) {
  connection* c = find_open(id);
  if (c == nullptr || c->paused == paused) return;
  c->paused = paused;
  reading_changed(*c);
  if (!paused && !c->in.empty() && !c->in_reoffer_list) {
    c->in_reoffer_list = true;
    _reoffer.push_back(c->id);
  }
}

void basic_reactor::close(conn_id id) {
  connection* c = find_open(id);
  if (c == nullptr) return;
  c->state = conn_state::closing;
  reading_changed(*c);
  queue_flush(*c);
}

void basic_reactor::abort(conn_id id) {
  connection* c = _connections.find(id);
  if (c != nullptr) end(*c, {}, false);
}

void basic_reactor::lose(connection& c, std::error_code reason) noexcept {
  if (c.state == conn_state::open || c.state == conn_state::closing) end(c, reason, false);
}

void basic_reactor::end(connection& c, std::error_code reason, bool graceful) noexcept {
  c.state = conn_state::closed;
  c.graceful = graceful;
  // Deferred, so that abort() called from on_data does not re-enter the handler, and the
  // slot (with the bytes on_data is looking at) stays until the turn's callbacks are done.
  _closed.push_back({c.id, reason});
  _releasing.push_back(c.id);
  c.out.drop_filling();
  detach(c);
  if (!busy(c)) c.out.drop_all();
}

void basic_reactor::add_connection(int fd, const sockaddr_storage& peer) {
  connection& c = _connections.acquire(fd);
  attach(c);
  // The address the client reached: RabbitMQ's loopback rule is about it, not the peer's.
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) local = {};
  _handler.on_accept(c.id, peer, local);
}

void basic_reactor::deliver(connection& c) {
  if (!wants_input(c)) return;
  const std::span<const std::byte> data = c.in.unconsumed();
  if (data.empty()) return;
  const std::size_t used = _handler.on_data(c.id, data);
  HAREMQ_ASSERT(used <= data.size());
  c.in.consume(used);
}

void basic_reactor::queue_flush(connection& c) {
  if (c.in_flush_list) return;
  c.in_flush_list = true;
  _flush.push_back(c.id);
}

void basic_reactor::reoffer() {
  // Only the connections listed when the pass starts: a handler that pauses and resumes
  // inside on_data must not keep this loop going.
  const std::size_t listed = _reoffer.size();
  for (std::size_t i = 0; i < listed; ++i) {
    connection* c = _connections.at(_reoffer[i]);
    if (c == nullptr) continue;
    c->in_reoffer_list = false;
    deliver(*c);
  }
  _reoffer.erase(_reoffer.begin(), _reoffer.begin() + static_cast<std::ptrdiff_t>(listed));
}

void basic_reactor::reap() {
  // By index: on_closed may end other connections, whose events join the list.
  for (std::size_t i = 0; i < _closed.size(); ++i) {
    const closed_event e = _closed[i];
    _handler.on_closed(e.id, e.reason);
  }
  _closed.clear();
  std::erase_if(_releasing, [this](conn_id id) {
    connection* c = _connections.at(id);
    if (c == nullptr) return true;
    if (busy(*c)) return false;
    free_slot(*c);
    return true;
  });
}

void basic_reactor::free_slot(connection& c) noexcept {
  if (c.fd >= 0) {
    if (c.graceful) {
      drain_and_close(c.fd);
    } else {
      ::close(c.fd);
    }
  }
  _connections.release(c);
}

void basic_reactor::flush() {
  // start_send never queues a flush, so this list does not grow while it is walked.
  for (const conn_id id : _flush) {
    connection* c = _connections.find(id);
    if (c == nullptr) continue;
    c->in_flush_list = false;
    if (!c->out.empty()) start_send(*c);
    if (c->state == conn_state::closing && c->out.empty()) end(*c, {}, true);
  }
  _flush.clear();
}

void basic_reactor::file_written(std::uint64_t token, std::size_t written, std::error_code error) {
  _files_written.push_back(file_event{token, written, error});
}

void basic_reactor::run() {
  for (;;) {
    const bool pending = !_reoffer.empty() || !_closed.empty() || !_flush.empty() || !_files_written.empty();
    std::chrono::milliseconds wait = _options.tick;
    if (const auto due = _handler.due_in(); due < wait) {
      // Rounded up: waking a little after the deadline, never spinning just before it.
      wait = std::chrono::ceil<std::chrono::milliseconds>(due);
    }
    poll(pending ? std::chrono::milliseconds{0} : wait);
    reoffer();
    reap();
    for (std::size_t i = 0; i < _files_written.size(); ++i) {
      const file_event e = _files_written[i];
      _handler.on_file_written(e.token, e.written, e.error);
    }
    _files_written.clear();
    _handler.on_turn();
    flush();
    if (_stop.exchange(false, std::memory_order_acq_rel)) break;
  }
  leaving();
}

void basic_reactor::wake() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wake-up is already due.
  const ssize_t written = ::write(_wake_fd, &one, sizeof one);
  (void)written;
}

void basic_reactor::stop() noexcept {
  _stop.store(true, std::memory_order_release);
  wake();
}

void basic_reactor::release_all() noexcept {
  for (std::uint32_t slot = 0; slot < _connections.slots(); ++slot) {
    connection* c = _connections.at(slot);
    if (c->state == conn_state::free) continue;
    if (c->fd >= 0) ::close(c->fd);
    _connections.release(*c);
  }
  _flush.clear();
  _reoffer.clear();
  _closed.clear();
  _releasing.clear();
}

}  // namespace haremq::io::detail
