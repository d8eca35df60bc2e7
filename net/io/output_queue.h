#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <vector>

#include "net/io/byte_buffer.h"
#include "net/io/reactor.h"

// A connection's output: bytes copied in (send, reserve/commit) and external segments
// (send_external), in the order they were queued, turned into iovecs for one gathered send.
//
// Two batches: the one being sent, frozen (the kernel may be reading it), and the one being
// filled. A send takes the rest of the frozen batch; only when it is all sent does the filled
// batch become the frozen one. So what is queued while a send is in flight goes in the next
// send, and a partial send resumes exactly where it stopped (advance()).
//
// Allocation: copying grows the filled batch's buffer, segment and iovec arrays until they fit
// the largest burst; after that none on the steady path (the two batches swap their storage).
// Storage beyond `retained_bytes` is given back once its batch is sent.
// Not thread-safe; one per connection.
namespace haremq::io::detail {

class output_queue {
 public:
  // A frozen batch's buffer above this is freed once sent, so that one large reply does not
  // pin memory for the life of the connection.
  static constexpr std::size_t retained_bytes = 256 * 1024;

  output_queue() = default;
  output_queue(const output_queue&) = delete;
  output_queue& operator=(const output_queue&) = delete;
  // Releases every keepalive still held.
  ~output_queue();

  // Queues a copy of `bytes`. Cancels an open reserve().
  void append(std::span<const std::byte> bytes);
  // Queues `bytes` by reference; `keep` is released once they are sent or dropped (at once if
  // `bytes` is empty). Cancels an open reserve().
  void append_external(std::span<const std::byte> bytes, keepalive keep);
  // At least `n` writable bytes at the end of the copied output, valid until commit() or the
  // next call that queues; commit(used) queues the first `used` of them.
  std::span<std::byte> reserve(std::size_t n);
  void commit(std::size_t used);

  // Bytes queued or being sent, not yet taken by the kernel.
  std::size_t size() const noexcept { return _sending.remaining + _filling.remaining; }
  bool empty() const noexcept { return size() == 0; }

  // The next bytes to send, as at most `max_iov` iovecs: the rest of the frozen batch, or,
  // when it is all sent, the whole filled batch (which becomes frozen). Empty when nothing is
  // queued. The iovecs stay valid and unchanged until advance().
  std::span<const iovec> next(std::size_t max_iov);
  // `n` bytes of the last next() were sent (n <= their total); releases the keepalives of the
  // external segments now wholly sent.
  void advance(std::size_t n) noexcept;

  // Drops the filled batch (not the frozen one, which the kernel may still be reading).
  void drop_filling() noexcept;
  // Drops everything, the frozen batch included.
  void drop_all() noexcept;

 private:
  struct segment {
    const std::byte* external;  // null: `offset` into the batch's copied bytes
    std::size_t offset;
    std::size_t size;
    keepalive keep;
  };
  struct batch {
    byte_buffer bytes;
    std::size_t used = 0;            // copied bytes in `bytes`
    std::vector<segment> segments;   // in queueing order
    std::vector<iovec> iov;          // one per segment, built when the batch is frozen
    std::size_t next_iov = 0;        // first iovec not wholly sent
    std::size_t remaining = 0;       // bytes not yet sent
  };

  void make_room(std::size_t n);
  void append_copied(std::size_t n);
  static void drop(batch& b) noexcept;

  batch _sending;
  batch _filling;
  std::size_t _reserved = 0;
};

}  // namespace haremq::io::detail
