#include "net/io/output_queue.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/assert.h"

namespace haremq::io::detail {

namespace {

// Segment and iovec arrays above this many entries are freed once their batch is sent.
constexpr std::size_t retained_segments = 1024;

void release(keepalive& keep) noexcept {
  if (keep.release != nullptr) keep.release(keep.owner);
  keep = {};
}

template <class T>
void clear_and_trim(std::vector<T>& v) noexcept {
  if (v.capacity() > retained_segments) {
    std::vector<T>().swap(v);
  } else {
    v.clear();
  }
}

}  // namespace

output_queue::~output_queue() { drop_all(); }

void output_queue::make_room(std::size_t n) {
  batch& b = _filling;
  const std::size_t needed = b.used + n;
  if (needed <= b.bytes.capacity()) return;
  // Doubling keeps a stream of small appends amortised O(1); 4 KiB avoids a run of tiny
  // reallocations on a fresh connection.
  const std::size_t capacity = std::max({needed, b.bytes.capacity() * 2, std::size_t{4096}});
  b.bytes.reallocate(capacity, 0, b.used);
}

void output_queue::append_copied(std::size_t n) {
  batch& b = _filling;
  // Consecutive copies share one segment, so a run of small sends is one iovec.
  if (!b.segments.empty() && b.segments.back().external == nullptr) {
    b.segments.back().size += n;
  } else {
    b.segments.push_back({nullptr, b.used, n, {}});
  }
  b.used += n;
  b.remaining += n;
}

void output_queue::append(std::span<const std::byte> bytes) {
  _reserved = 0;
  if (bytes.empty()) return;
  make_room(bytes.size());
  std::memcpy(_filling.bytes.data() + _filling.used, bytes.data(), bytes.size());
  append_copied(bytes.size());
}

void output_queue::append_external(std::span<const std::byte> bytes, keepalive keep) {
  _reserved = 0;
  if (bytes.empty()) {
    release(keep);
    return;
  }
  _filling.segments.push_back({bytes.data(), 0, bytes.size(), keep});
  _filling.remaining += bytes.size();
}

std::span<std::byte> output_queue::reserve(std::size_t n) {
  make_room(n);
  _reserved = n;
  return {_filling.bytes.data() + _filling.used, n};
}

void output_queue::commit(std::size_t used) {
  HAREMQ_ASSERT(used <= _reserved);
  _reserved = 0;
  if (used != 0) append_copied(used);
}

std::span<const iovec> output_queue::next(std::size_t max_iov) {
  if (_sending.remaining == 0) {
    if (_filling.remaining == 0) return {};
    drop(_sending);  // only trims storage: a sent batch holds no keepalive
    std::swap(_sending, _filling);
    _reserved = 0;  // the reserved room moved with the swap
    batch& b = _sending;
    b.iov.clear();
    b.iov.reserve(b.segments.size());
    for (const segment& s : b.segments) {
      const std::byte* base = s.external != nullptr ? s.external : b.bytes.data() + s.offset;
      // iovec is a C struct with a non-const base; the kernel only reads it for a send.
      b.iov.push_back({const_cast<std::byte*>(base), s.size});
    }
    b.next_iov = 0;
  }
  batch& b = _sending;
  const std::size_t count = std::min(max_iov, b.iov.size() - b.next_iov);
  return {b.iov.data() + b.next_iov, count};
}

void output_queue::advance(std::size_t n) noexcept {
  batch& b = _sending;
  HAREMQ_ASSERT(n <= b.remaining);
  b.remaining -= n;
  while (n != 0) {
    iovec& v = b.iov[b.next_iov];
    if (n < v.iov_len) {
      v.iov_base = static_cast<std::byte*>(v.iov_base) + n;
      v.iov_len -= n;
      break;
    }
    n -= v.iov_len;
    v.iov_len = 0;
    release(b.segments[b.next_iov].keep);
    ++b.next_iov;
  }
  if (b.remaining == 0) {
    // Zero-length iovecs cannot exist (empty appends are not queued), so a finished batch
    // has every segment released.
    drop(b);
  }
}

void output_queue::drop(batch& b) noexcept {
  for (segment& s : b.segments) release(s.keep);
  clear_and_trim(b.segments);
  clear_and_trim(b.iov);
  if (b.bytes.capacity() > retained_bytes) b.bytes.release();
  b.used = 0;
  b.next_iov = 0;
  b.remaining = 0;
}

void output_queue::drop_filling() noexcept {
  _reserved = 0;
  drop(_filling);
}

void output_queue::drop_all() noexcept {
  _reserved = 0;
  drop(_sending);
  drop(_filling);
}

}  // namespace haremq::io::detail
