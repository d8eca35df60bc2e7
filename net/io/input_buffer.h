#pragma once

#include <cstddef>
#include <span>

#include "net/io/byte_buffer.h"

// A connection's received bytes: [unconsumed bytes][room for the next read]. The upper layer
// consumes from the front; the next read lands in the room at the back. Making room moves the
// unconsumed bytes to the front (compaction) and grows the buffer only when they fill all of
// it, so the buffer ends as large as the largest unconsumed chunk (a frame) the connection
// ever held, and no larger. Not thread-safe; one per connection.
namespace haremq::io::detail {

class input_buffer {
 public:
  // `initial_size` is allocated on the first room(), not here, so that idle table slots
  // cost nothing.
  explicit input_buffer(std::size_t initial_size) noexcept;

  std::span<const std::byte> unconsumed() const noexcept { return {_buffer.data() + _begin, _end - _begin}; }
  bool empty() const noexcept { return _begin == _end; }
  std::size_t capacity() const noexcept { return _buffer.capacity(); }

  // Drops the first `n` unconsumed bytes (n <= unconsumed().size()).
  void consume(std::size_t n) noexcept;

  // Room to read into, never empty. May move the unconsumed bytes (compaction) or allocate
  // (growth), so it must not be called while a read into the previous room is in flight.
  std::span<std::byte> room();
  // `n` bytes were written at the start of the last room().
  void commit(std::size_t n) noexcept;

  // Forgets every byte; gives back memory beyond the initial size (the slot is reused by
  // another connection, which should not inherit a large buffer).
  void reset() noexcept;

 private:
  byte_buffer _buffer;
  std::size_t _initial_size;
  std::size_t _begin = 0;
  std::size_t _end = 0;
};

}  // namespace haremq::io::detail
