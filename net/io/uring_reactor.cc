#include "net/io/uring_reactor.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

#include "net/io/errc.h"
#include "net/io/socket_ops.h"
#include "net/io/user_data.h"

namespace haremq::io::detail {

namespace {

// Submission entries: a turn needs about two per active connection; when they run out,
// get_sqe() submits what is prepared and carries on. Completions: room for every operation
// that can be in flight (two per connection) on thousands of connections, so that the
// kernel rarely has to hold back completions for want of room.
constexpr unsigned submission_entries = 256;
constexpr unsigned completion_entries = 8192;
// Completions handled per turn before on_turn gets its chance.
constexpr unsigned max_completions_per_turn = 1024;

std::error_code from_res(int res) noexcept { return {-res, std::system_category()}; }

// Tries the cheapest set-up first and drops flags older kernels refuse: COOP_TASKRUN and
// TASKRUN_FLAG (5.19) run completions when the loop enters the kernel anyway instead of
// interrupting it; SUBMIT_ALL (5.18) keeps one bad entry from holding back the rest.
int init_ring(io_uring& ring) noexcept {
  const unsigned flag_sets[] = {
      IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_CQSIZE,
      0,
  };
  int res = -EINVAL;
  for (const unsigned flags : flag_sets) {
    io_uring_params params{};
    params.flags = flags;
    params.cq_entries = completion_entries;
    res = io_uring_queue_init_params(submission_entries, &ring, &params);
    if (res != -EINVAL) break;
  }
  return res;
}

bool supports_needed_ops(io_uring& ring) noexcept {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) return false;  // before 5.6: also too old for everything else
  bool ok = true;
  for (const int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_READ, IORING_OP_ASYNC_CANCEL,
                       IORING_OP_WRITE, IORING_OP_FSYNC}) {
    ok = ok && io_uring_opcode_supported(probe, op) != 0;
  }
  io_uring_free_probe(probe);
  return ok;
}

__kernel_timespec to_timespec(std::chrono::milliseconds t) noexcept {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(t);
  return {seconds.count(), std::chrono::nanoseconds{t - seconds}.count()};
}

}  // namespace

result<std::unique_ptr<reactor>> uring_reactor::create(reactor_handler& handler, reactor_options options) {
  io_uring ring{};
  const int res = init_ring(ring);
  if (res < 0) return from_res(res);
  if (!supports_needed_ops(ring)) {
    io_uring_queue_exit(&ring);
    return errc::uring_unsupported;
  }
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const std::error_code error = last_error();
    io_uring_queue_exit(&ring);
    return error;
  }
  return std::unique_ptr<reactor>(new uring_reactor(handler, options, wake_fd, ring));
}

uring_reactor::uring_reactor(reactor_handler& handler, reactor_options options, int wake_fd,
                             const io_uring& ring) noexcept
    : basic_reactor(handler, options, wake_fd), _ring(ring) {}

uring_reactor::~uring_reactor() {
  drain_for_destruction();
  io_uring_queue_exit(&_ring);
  for (const listener& l : _listeners) ::close(l.fd);
  release_all();
}

void uring_reactor::drain_for_destruction() noexcept {
  connection_table& table = connections();
  // Shutting a socket down completes its receive and send at once; a write to the eventfd
  // completes its read.
  for (std::uint32_t slot = 0; slot < table.slots(); ++slot) {
    const connection& c = *table.at(slot);
    if (c.state != conn_state::free && c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
  }
  if (_wake_armed) wake();

  auto in_flight = [&] {
    if (_wake_armed || files_in_flight()) return true;
    for (std::uint32_t slot = 0; slot < table.slots(); ++slot) {
      if (busy(*table.at(slot))) return true;
    }
    return false;
  };
  // Bounded: a completion that never comes must not hang shutdown.
  const auto deadline = clock::now() + std::chrono::seconds{2};
  while (in_flight() && clock::now() < deadline) {
    __kernel_timespec ts = to_timespec(std::chrono::milliseconds{50});
    io_uring_cqe* cqe = nullptr;
    (void)io_uring_wait_cqe_timeout(&_ring, &cqe, &ts);
    std::array<io_uring_cqe*, 64> batch;
    unsigned n = 0;
    while ((n = io_uring_peek_batch_cqe(&_ring, batch.data(), batch.size())) != 0) {
      for (unsigned i = 0; i < n; ++i) {
        const op_data d = unpack(io_uring_cqe_get_data64(batch[i]));
        const int res = batch[i]->res;
        connection* c = d.kind == op_kind::recv || d.kind == op_kind::send ? table.at(d.slot) : nullptr;
        if (d.kind == op_kind::recv && c != nullptr) c->recv_in_flight = false;
        if (d.kind == op_kind::send && c != nullptr) c->send_in_flight = false;
        if (d.kind == op_kind::wake) _wake_armed = false;
        if ((d.kind == op_kind::file_write || d.kind == op_kind::file_sync) && d.slot < _file_ops.size()) {
          --_file_ops[d.slot].completions_due;
        }
        if (d.kind == op_kind::accept && res >= 0) ::close(res);  // accepted meanwhile
      }
      io_uring_cq_advance(&_ring, n);
    }
  }
}

void uring_reactor::leaving() {
  // Sends prepared by the last turn's flush; submitted here, by the loop's thread, so that
  // the destructor has nothing to submit.
  (void)io_uring_submit(&_ring);
}

void uring_reactor::listen(int listen_fd) {
  _listeners.push_back({listen_fd, false, true, {}});
}

io_uring_sqe* uring_reactor::get_sqe() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel and take a fresh entry. Still
    // none only when the kernel refuses more for now; the caller keeps the work for later.
    (void)io_uring_submit(&_ring);
    sqe = io_uring_get_sqe(&_ring);
  }
  return sqe;
}

void uring_reactor::want_recv(connection& c) {
  if (c.in_recv_list || c.recv_in_flight || !wants_input(c)) return;
  c.in_recv_list = true;
  _recv_wanted.push_back(c.id);
}

void uring_reactor::attach(connection& c) { want_recv(c); }

void uring_reactor::reading_changed(connection& c) {
  // Pausing needs nothing: a receive in flight completes into the buffer, and is not
  // re-armed, so the kernel's buffer fills from then on.
  want_recv(c);
}

void uring_reactor::detach(connection& c) noexcept {
  ::shutdown(c.fd, SHUT_RDWR);
  if (c.recv_in_flight) _cancels.push_back(pack({op_kind::recv, c.id.slot, c.id.generation}));
  if (c.send_in_flight) _cancels.push_back(pack({op_kind::send, c.id.slot, c.id.generation}));
}

bool uring_reactor::busy(const connection& c) const noexcept { return c.recv_in_flight || c.send_in_flight; }

void uring_reactor::start_send(connection& c) {
  if (c.send_in_flight) return;  // its completion queues the next send
  const std::span<const iovec> iov = c.out.next(IOV_MAX);
  if (iov.empty()) return;
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) {
    _send_backlog.push_back(c.id);
    return;
  }
  c.send_msg = {};
  // msghdr wants a mutable pointer; a send only reads the iovecs.
  c.send_msg.msg_iov = const_cast<iovec*>(iov.data());
  c.send_msg.msg_iovlen = iov.size();
  // MSG_NOSIGNAL: a peer gone away must be an EPIPE completion, not a SIGPIPE.
  io_uring_prep_sendmsg(sqe, c.fd, &c.send_msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, pack({op_kind::send, c.id.slot, c.id.generation}));
  c.send_in_flight = true;
}

void uring_reactor::prepare() {
  const auto now = clock::now();
  for (std::size_t i = 0; i < _listeners.size(); ++i) {
    listener& l = _listeners[i];
    if (l.armed || now < l.retry_at) continue;
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    if (l.multishot) {
      io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    io_uring_sqe_set_data64(sqe, pack({op_kind::accept, static_cast<std::uint32_t>(i), 0}));
    l.armed = true;
  }

  if (!_wake_armed) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_read(sqe, wake_fd(), &_wake_count, sizeof _wake_count, 0);
    io_uring_sqe_set_data64(sqe, pack({op_kind::wake, 0, 0}));
    _wake_armed = true;
  }

  std::size_t done = 0;
  for (; done < _cancels.size(); ++done) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) break;
    io_uring_prep_cancel64(sqe, _cancels[done], 0);
    io_uring_sqe_set_data64(sqe, pack({op_kind::cancel, 0, 0}));
  }
  _cancels.erase(_cancels.begin(), _cancels.begin() + static_cast<std::ptrdiff_t>(done));

  done = 0;
  for (; done < _recv_wanted.size(); ++done) {
    connection* c = connections().at(_recv_wanted[done]);
    if (c == nullptr) continue;
    if (c->recv_in_flight || !wants_input(*c)) {
      c->in_recv_list = false;
      continue;
    }
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) break;
    c->in_recv_list = false;
    const std::span<std::byte> room = c->in.room();
    // The length field is 32 bits; a buffer that large is read in parts.
    io_uring_prep_recv(sqe, c->fd, room.data(), std::min(room.size(), std::size_t{1} << 30), 0);
    io_uring_sqe_set_data64(sqe, pack({op_kind::recv, c->id.slot, c->id.generation}));
    c->recv_in_flight = true;
  }
  _recv_wanted.erase(_recv_wanted.begin(), _recv_wanted.begin() + static_cast<std::ptrdiff_t>(done));

  // A write and its fsync go in one submission, so that the link between them holds.
  done = 0;
  for (; done < _file_wanted.size(); ++done) {
    if (io_uring_sq_space_left(&_ring) < 2) (void)io_uring_submit(&_ring);
    if (io_uring_sq_space_left(&_ring) < 2) break;
    const std::uint32_t slot = _file_wanted[done];
    file_op& op = _file_ops[slot];
    io_uring_sqe* write = io_uring_get_sqe(&_ring);
    io_uring_prep_write(write, op.fd, op.bytes.data(), static_cast<unsigned>(op.bytes.size()), op.offset);
    io_uring_sqe_set_data64(write, pack({op_kind::file_write, slot, 0}));
    write->flags |= IOSQE_IO_LINK;
    io_uring_sqe* sync = io_uring_get_sqe(&_ring);
    io_uring_prep_fsync(sync, op.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sync, pack({op_kind::file_sync, slot, 0}));
    op.completions_due = 2;
  }
  _file_wanted.erase(_file_wanted.begin(), _file_wanted.begin() + static_cast<std::ptrdiff_t>(done));

  if (!_send_backlog.empty()) {
    std::vector<conn_id> backlog;
    backlog.swap(_send_backlog);
    for (const conn_id id : backlog) {
      if (connection* c = connections().find(id); c != nullptr) start_send(*c);
    }
  }
}

void uring_reactor::poll(std::chrono::milliseconds timeout) {
  prepare();
  if (timeout.count() == 0) {
    (void)io_uring_submit_and_get_events(&_ring);
  } else {
    __kernel_timespec ts = to_timespec(timeout);
    io_uring_cqe* cqe = nullptr;
    // -ETIME (the idle tick) and -EINTR end the wait like a completion does; any other
    // failure leaves entries unsubmitted, and the next turn tries again.
    (void)io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
  }

  std::array<io_uring_cqe*, 64> batch;
  unsigned handled = 0;
  while (handled < max_completions_per_turn) {
    const unsigned n = io_uring_peek_batch_cqe(&_ring, batch.data(), batch.size());
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      // Copied out before the handler runs: handling never submits, so the entry stays
      // put, but the copy keeps that reasoning local.
      const std::uint64_t user_data = io_uring_cqe_get_data64(batch[i]);
      const int res = batch[i]->res;
      const std::uint32_t flags = batch[i]->flags;
      handle(user_data, res, flags);
    }
    io_uring_cq_advance(&_ring, n);
    handled += n;
  }
}

void uring_reactor::handle(std::uint64_t user_data, int res, std::uint32_t flags) {
  const op_data d = unpack(user_data);
  switch (d.kind) {
    case op_kind::accept:
      if (d.slot < _listeners.size()) on_accepted(_listeners[d.slot], res, flags);
      return;
    case op_kind::recv:
    case op_kind::send: {
      connection* c = connections().at(d.slot);
      // A slot is not freed while an operation on it is in flight, so a mismatch is a
      // completion this reactor did not ask for; ignoring it is all that can be done.
      if (c == nullptr || c->state == conn_state::free || !same_generation(c->id.generation, d.generation)) return;
      if (d.kind == op_kind::recv) {
        on_received(*c, res);
      } else {
        on_sent(*c, res);
      }
      return;
    }
    case op_kind::wake:
      _wake_armed = false;  // the counter was read (and so reset); re-armed next turn
      return;
    case op_kind::file_write:
    case op_kind::file_sync:
      on_file_completion(d.slot, d.kind, res);
      return;
    case op_kind::cancel:
    case op_kind::readiness:
      return;
  }
}

void uring_reactor::write_file(int fd, std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t token) {
  std::uint32_t slot = 0;
  if (_free_file_ops.empty()) {
    slot = static_cast<std::uint32_t>(_file_ops.size());
    _file_ops.emplace_back();
  } else {
    slot = _free_file_ops.back();
    _free_file_ops.pop_back();
  }
  // One write is at most 2 GiB - 4 KiB (Linux); the rest is reported as short.
  constexpr std::size_t most = 0x7ffff000;
  _file_ops[slot] = file_op{fd, bytes.first(std::min(bytes.size(), most)), offset, token, 0, {}, 0};
  _file_wanted.push_back(slot);
}

void uring_reactor::on_file_completion(std::uint32_t slot, op_kind kind, int res) {
  if (slot >= _file_ops.size()) return;
  file_op& op = _file_ops[slot];
  if (kind == op_kind::file_write) {
    if (res >= 0) {
      op.written = static_cast<std::size_t>(res);
    } else {
      op.error = from_res(res);
    }
  } else if (res < 0 && !op.error && (res != -ECANCELED || op.written == op.bytes.size())) {
    // ECANCELED after a failed or short write: that write said so. After a whole one, the sync
    // did not happen: an error.
    op.error = from_res(res);
  }
  if (--op.completions_due > 0) return;
  file_written(op.token, op.written, op.error);
  op = file_op{};
  _free_file_ops.push_back(slot);
}

bool uring_reactor::files_in_flight() const noexcept {
  return std::any_of(_file_ops.begin(), _file_ops.end(), [](const file_op& op) { return op.completions_due > 0; });
}

void uring_reactor::on_accepted(listener& l, int res, std::uint32_t flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) l.armed = false;
  if (res >= 0) {
    set_nodelay(res);
    add_connection(res, peer_address(res));
    return;
  }
  switch (-res) {
    case EINVAL:
      // Kernels before 5.19 do not know multishot accept; fall back to one accept per
      // completion. A second EINVAL means a broken listener: retried at the tick.
      if (l.multishot) {
        l.multishot = false;
        return;
      }
      break;
    case ECONNABORTED:
    case EINTR:
    case EAGAIN:
    case ECANCELED:
      return;  // transient: re-armed next turn
    default:
      break;
  }
  // EMFILE, ENFILE, ENOBUFS, ENOMEM...: retrying at once would spin.
  l.retry_at = clock::now() + options().tick;
}

void uring_reactor::on_received(connection& c, int res) {
  c.recv_in_flight = false;
  // A closing connection's input is dropped; a closed one is freed by the next reap.
  if (c.state != conn_state::open) return;
  if (res > 0) {
    c.in.commit(static_cast<std::size_t>(res));
    deliver(c);
    want_recv(c);
    return;
  }
  if (res == 0) {
    lose(c, errc::peer_closed);
    return;
  }
  if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
    want_recv(c);
    return;
  }
  lose(c, from_res(res));
}

void uring_reactor::on_sent(connection& c, int res) {
  c.send_in_flight = false;
  if (c.state == conn_state::closed) return;  // its keepalives go when the slot is freed
  if (res >= 0) {
    c.out.advance(static_cast<std::size_t>(res));
    // More to send (a partial send, or what was queued meanwhile), or a close() waiting
    // for the output to be gone.
    if (!c.out.empty() || c.state == conn_state::closing) queue_flush(c);
    return;
  }
  if (res == -EAGAIN || res == -EINTR) {
    queue_flush(c);
    return;
  }
  lose(c, from_res(res));
}

}  // namespace haremq::io::detail
