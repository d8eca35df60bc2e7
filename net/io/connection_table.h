#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/connection.h"
#include "net/io/reactor.h"

// The connections of one reactor, by slot. A slot's generation grows each time it is freed,
// so a conn_id held past its connection's end matches nothing, even after the slot is reused.
// Freed connections keep their (trimmed) buffers for the next one, so accepting allocates only
// when the table grows. Not thread-safe; owned by one reactor.
namespace haremq::io::detail {

class connection_table {
 public:
  explicit connection_table(std::size_t recv_buffer_size) noexcept : _recv_buffer_size(recv_buffer_size) {}

  // A free slot, now open on `fd`.
  connection& acquire(int fd);
  // Makes `c`'s slot free and its id stale; resets its per-connection state.
  void release(connection& c) noexcept;

  // The open or closing connection `id` names, or null (stale or never valid).
  connection* find(conn_id id) noexcept;
  const connection* find(conn_id id) const noexcept;
  // Whatever occupies `slot` (any state), or null when out of range.
  connection* at(std::uint32_t slot) noexcept { return slot < _slots.size() ? _slots[slot].get() : nullptr; }
  const connection* at(std::uint32_t slot) const noexcept {
    return slot < _slots.size() ? _slots[slot].get() : nullptr;
  }
  // The connection `id` names in any state but free, or null.
  connection* at(conn_id id) noexcept;
  const connection* at(conn_id id) const noexcept;

  std::size_t slots() const noexcept { return _slots.size(); }

 private:
  std::size_t _recv_buffer_size;
  std::vector<std::unique_ptr<connection>> _slots;
  std::vector<std::uint32_t> _free;
};

}  // namespace haremq::io::detail
