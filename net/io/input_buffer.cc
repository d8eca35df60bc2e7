#include "net/io/input_buffer.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"

namespace haremq::io::detail {

namespace {
// Below this a read buffer costs more in syscalls than it saves in memory.
constexpr std::size_t min_buffer_size = 512;
}  // namespace

input_buffer::input_buffer(std::size_t initial_size) noexcept
    : _initial_size(std::max(initial_size, min_buffer_size)) {}

void input_buffer::consume(std::size_t n) noexcept {
  HAREMQ_ASSERT(n <= _end - _begin);
  _begin += n;
  // Rewinding when everything was consumed is free and keeps the common case (whole frames
  // consumed every time) from ever compacting.
  if (_begin == _end) _begin = _end = 0;
}

std::span<std::byte> input_buffer::room() {
  std::size_t capacity = _buffer.capacity();
  if (capacity == 0) {
    _buffer.reallocate(_initial_size, 0, 0);
    return {_buffer.data(), _initial_size};
  }
  const std::size_t size = _end - _begin;
  if (_begin != 0 && capacity - _end < capacity / 2) {
    // Compacting costs a copy of a partial frame; doing it only when less than half the buffer
    // is left to read into bounds that copy by the bytes read since the previous one.
    std::memmove(_buffer.data(), _buffer.data() + _begin, size);
    _begin = 0;
    _end = size;
  }
  if (_end == capacity) {
    // One unconsumed chunk fills the whole buffer: the upper layer waits for a frame larger
    // than the buffer, so the buffer must grow for the frame to fit.
    capacity *= 2;
    _buffer.reallocate(capacity, _begin, size);
    _begin = 0;
    _end = size;
  }
  return {_buffer.data() + _end, capacity - _end};
}

void input_buffer::commit(std::size_t n) noexcept {
  HAREMQ_ASSERT(n <= _buffer.capacity() - _end);
  _end += n;
}

void input_buffer::reset() noexcept {
  _begin = _end = 0;
  if (_buffer.capacity() > _initial_size) _buffer.release();
}

}  // namespace haremq::io::detail
