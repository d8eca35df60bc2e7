#include "net/io/connection_table.h"

#include <utility>

#include "base/assert.h"

namespace haremq::io::detail {

connection& connection_table::acquire(int fd) {
  connection* c = nullptr;
  if (!_free.empty()) {
    // Most recently freed first: its buffers are the likeliest to be in cache.
    c = _slots[_free.back()].get();
    _free.pop_back();
  } else {
    HAREMQ_ASSERT(_slots.size() < UINT32_MAX);
    _slots.push_back(std::make_unique<connection>(_recv_buffer_size));
    c = _slots.back().get();
    // Generation 0 is never used, so a default conn_id{} names nothing.
    c->id = {static_cast<std::uint32_t>(_slots.size() - 1), 1};
  }
  HAREMQ_ASSERT(c->state == conn_state::free);
  c->fd = fd;
  c->state = conn_state::open;
  return *c;
}

void connection_table::release(connection& c) noexcept {
  HAREMQ_ASSERT(c.state != conn_state::free);
  c.fd = -1;
  c.state = conn_state::free;
  c.paused = false;
  c.graceful = false;
  c.in_flush_list = false;
  c.in_reoffer_list = false;
  c.recv_in_flight = false;
  c.send_in_flight = false;
  c.in_recv_list = false;
  c.send_msg = {};
  c.epoll_events = 0;
  c.write_blocked = false;
  c.in.reset();
  c.out.drop_all();
  ++c.id.generation;
  if (c.id.generation == 0) c.id.generation = 1;
  _free.push_back(c.id.slot);
}

const connection* connection_table::find(conn_id id) const noexcept {
  const connection* c = at(id);
  return c != nullptr && (c->state == conn_state::open || c->state == conn_state::closing) ? c : nullptr;
}

connection* connection_table::find(conn_id id) noexcept {
  return const_cast<connection*>(std::as_const(*this).find(id));
}

const connection* connection_table::at(conn_id id) const noexcept {
  const connection* c = at(id.slot);
  return c != nullptr && c->id.generation == id.generation && c->state != conn_state::free ? c : nullptr;
}

connection* connection_table::at(conn_id id) noexcept {
  return const_cast<connection*>(std::as_const(*this).at(id));
}

}  // namespace haremq::io::detail
