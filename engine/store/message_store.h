#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "base/result.h"
#include "engine/message.h"
#include "engine/store/record.h"

// One worker's message log: the persistent messages of the durable queues it owns, their
// acks and delivery marks, appended to segment files. Group commit: what the worker's turns
// append is written and fdatasync'ed in one go while the next batch fills, so a thousand
// confirms wait for one sync, not a thousand. A publisher's confirm waits for the batch that
// holds its message (filling_batch() at enqueue, durable_batch() when done).
//
// A segment is deleted once every message in it is gone and every older segment of this log
// is deleted: an ack record only matters while the message it names is on disk, and it is
// never older than that message, so deleting oldest-first never brings a message back.
//
// Owned by its worker's thread; not thread-safe, except that segment numbers come from a
// counter all workers share (segment_directory).
namespace haremq::engine::store {

// A stored message's record as a (persistent) message again; nullptr when memory is exhausted.
message_ref to_message(const publish_fields& f);
// Its own TTL (the expiration property), -1 without: cheap when it has none.
std::int64_t own_ttl_ms(const publish_fields& f);
// When a stored message was published, on this process's turn clock (now if not kept).
std::int64_t published_at(const publish_fields& f);

// Where a stored message's record starts. Segment 0: not stored.
struct disk_location {
  std::uint32_t segment = 0;
  std::uint32_t offset = 0;
  explicit operator bool() const noexcept { return segment != 0; }
};

// The folder of every worker's segments: `<data dir>/messages/<number>.seg`, numbered by one
// counter so that names never clash between workers or runs.
struct segment_directory {
  std::filesystem::path path;
  std::atomic<std::uint32_t> next_segment{1};
  std::size_t segment_size = 64 << 20;  // a segment is closed once it reaches this size
  std::filesystem::path file(std::uint32_t segment) const;
};

// How the store's bytes reach the disk: write, then fdatasync. The worker does it through its
// reactor (io_uring), tests and recovery in place. One write at a time; its end comes back
// through message_store::on_written.
class disk_writer {
 public:
  virtual ~disk_writer() = default;
  virtual void write_and_sync(int fd, std::span<const std::byte> bytes, std::uint64_t offset) = 0;
};

class message_store {
 public:
  message_store(segment_directory& directory, disk_writer& writer);
  ~message_store();
  message_store(const message_store&) = delete;
  message_store& operator=(const message_store&) = delete;

  // Creates the first segment; false if it cannot (the data directory is unusable). Later
  // segments that cannot be created leave the current one growing instead.
  [[nodiscard]] bool open();

  // A durable queue that will store messages here; the ref names it in the records.
  std::uint32_t attach_queue(std::string_view vhost, std::string_view name, std::uint64_t incarnation);
  void detach_queue(std::uint32_t ref);

  // Appends a message's record for queue `ref`. Its location is readable once is_written().
  // Empty when there is no segment to append to (open() failed or was not called): the
  // message is not stored, and failing() is set.
  // `timed`: a time to live applies to it (its own or its queue's): its publish time is kept,
  // so that after a restart it expires when it would have.
  disk_location append_publish(std::uint32_t ref, std::uint64_t seq, const message& m, bool timed = false);
  disk_location append_publish(std::uint32_t ref, const publish_fields& f);
  void append_range(record_type type, std::uint32_t ref, std::uint64_t first, std::uint32_t count);
  // The message at `loc` is gone from its queue (acked, rejected, purged, queue deleted).
  void release(disk_location loc) noexcept;

  // Group commit. Batches are numbered; what is appended now belongs to filling_batch(), which
  // is durable once durable_batch() reaches it.
  std::uint64_t filling_batch() const noexcept { return _next_batch; }
  std::uint64_t durable_batch() const noexcept { return _durable_batch; }
  bool is_written(disk_location loc) const noexcept;
  // Reads a stored message back (for a queue that dropped it from memory); nullptr if the
  // read fails (logged).
  message_ref read(disk_location loc) const;
  // The body size of a stored message (for a queue's byte count, when it drops one it had
  // paged out without reading it back); 0 if the read fails (logged).
  std::uint64_t body_size(disk_location loc) const;

  // Starts writing what was appended, unless a write is in flight or the store is failing.
  void flush();
  // The end of the write flush() started: `written` bytes, then the sync, or an error.
  void on_written(std::size_t written, std::error_code error);
  // A write failed (ENOSPC, EIO...): nothing more is written but by retry(), and what waits
  // for durability waits; a write that succeeds ends it. The worker blocks publishers meanwhile.
  bool failing() const noexcept { return _failing; }
  void retry();
  // Whether nothing appended is waiting to reach the disk.
  bool idle() const noexcept { return _chunks.empty(); }
  // Whether a write is on its way (its end not yet reported).
  bool in_flight() const noexcept { return _in_flight; }
  // Bytes appended and not yet written.
  std::size_t pending_bytes() const noexcept;
  // Writes and syncs everything appended, in place (recovery, and shutdown when the reactor has
  // stopped). False if a write failed.
  bool flush_blocking();

  // How much is on disk here (for the logs and the tests).
  std::size_t segment_count() const noexcept { return _segments.size(); }
  std::uint64_t live_messages() const noexcept;

 private:
  struct segment {
    int fd = -1;
    std::uint32_t live = 0;  // stored messages not yet released
    std::uint64_t end = 0;   // bytes appended (written or not)
    bool sealed = false;     // no more appends
  };
  // Bytes appended for one segment, written by one write.
  struct chunk {
    std::uint32_t segment = 0;
    std::uint64_t offset = 0;  // in the segment file
    std::vector<std::byte> bytes;
    std::size_t written = 0;  // by earlier writes that stopped short
    std::uint64_t batch = 0;
  };
  struct queue_info {
    std::string vhost;
    std::string name;
    std::uint64_t incarnation = 0;
    std::uint32_t declared_in = 0;  // the segment whose records already name it
  };

  // A record read back: small ones fit in `head`, larger ones go to `large`.
  struct record_buffer {
    std::array<std::byte, 4096> head;
    std::vector<std::byte> large;
  };
  // The publish record at `loc`, decoded into `f` (views into `buffer`); false if unreadable (logged).
  bool read_publish(disk_location loc, record_buffer& buffer, publish_fields& f) const;
  // The chunk to append `bytes` more to, after rolling to a new segment if they do not fit;
  // nullptr if a new segment cannot be opened.
  chunk* room_for(std::size_t bytes, std::uint32_t ref);
  bool open_segment();
  static std::size_t queue_record_size(const queue_info& q) noexcept {
    return record_size(queue_fields{0, q.incarnation, q.vhost, q.name});
  }
  // The front chunk goes to the disk: its batch closes, and it is in flight until finish_write.
  chunk& begin_write();
  void start_write();
  // The end of the front chunk's write; false if it failed (failing() is set).
  bool finish_write(std::size_t written, std::error_code error);
  // Appends one record to `c`, a chunk of segment `s`, and counts its bytes in the segment.
  template <class... Fields>
  static void append_to(segment& s, chunk& c, const Fields&... fields) {
    const std::size_t before = c.bytes.size();
    append_record(c.bytes, fields...);
    s.end += c.bytes.size() - before;
  }
  void collect_garbage() noexcept;
  void complete_front();

  segment_directory& _directory;
  disk_writer& _writer;
  std::map<std::uint32_t, segment> _segments;  // by number, oldest first
  std::uint32_t _current = 0;                  // the segment appends go to
  std::deque<chunk> _chunks;                   // appended, not yet durable; the front may be in flight
  std::vector<std::vector<std::byte>> _spare;  // chunk buffers to reuse
  std::vector<queue_info> _queues;             // by ref - 1
  std::uint64_t _next_batch = 1;
  std::uint64_t _durable_batch = 0;
  bool _in_flight = false;
  bool _failing = false;
  std::uint32_t _written_segment = 0;  // everything before (segment, offset) is in the files
  std::uint64_t _written_end = 0;
};

}  // namespace haremq::engine::store
