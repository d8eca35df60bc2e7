#include "engine/store/message_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "base/assert.h"
#include "base/file_io.h"

namespace haremq::engine::store {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

// What a stored message's properties say (priority, TTL, header routes).
message_traits traits_of(const publish_fields& f) {
  // Recovery is not the message path: the properties are decoded again for priority and TTL.
  message_traits traits;
  if (auto p = amqp::decode_properties(f.properties)) traits = message_traits::of(*p);
  traits.persistent = true;
  return traits;
}

}  // namespace

std::int64_t own_ttl_ms(const publish_fields& f) {
  // The flags alone say whether there is an expiration: most records are not decoded at all.
  amqp::byte_reader in{f.properties};
  amqp::basic_properties flags_only;
  flags_only.flags = in.u16();
  if (!in.ok() || !flags_only.has(amqp::property::expiration)) return -1;
  return traits_of(f).ttl_ms;
}

std::int64_t published_at(const publish_fields& f) {
  // Not kept (no TTL applied when it was stored): from now on.
  return f.published_ms != 0 ? turn_clock::from_unix_ms(f.published_ms) : turn_clock::now();
}

message_ref to_message(const publish_fields& f) {
  message_ref m(message::create(f.exchange, f.routing_key, f.properties, f.body.size(), traits_of(f), f.bcc));
  if (!m) return m;
  m->append_body(f.body);
  m->set_published_at(published_at(f));
  return m;
}

std::filesystem::path segment_directory::file(std::uint32_t segment) const {
  std::array<char, 32> name{};
  std::snprintf(name.data(), name.size(), "%010" PRIu32 ".seg", segment);
  return path / name.data();
}

message_store::message_store(segment_directory& directory, disk_writer& writer)
    : _directory(directory), _writer(writer) {}

message_store::~message_store() {
  for (auto& [_, s] : _segments) ::close(s.fd);
}

std::uint32_t message_store::attach_queue(std::string_view vhost, std::string_view name, std::uint64_t incarnation) {
  _queues.push_back(queue_info{std::string(vhost), std::string(name), incarnation, 0});
  return static_cast<std::uint32_t>(_queues.size());
}

void message_store::detach_queue(std::uint32_t ref) {
  queue_info& q = _queues[ref - 1];
  q.vhost.clear();
  q.name.clear();
}

bool message_store::open() { return _current != 0 || open_segment(); }

bool message_store::open_segment() {
  const std::uint32_t number = _directory.next_segment.fetch_add(1, std::memory_order_relaxed);
  const auto path = _directory.file(number);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    spdlog::error("message store: cannot create {}: {}", path.string(), last_error().message());
    if (_current == 0) _failing = true;
    return false;
  }
  if (_current != 0) _segments[_current].sealed = true;
  _segments.emplace(number, segment{fd, 0, 0, false});
  _current = number;
  collect_garbage();  // the segment just sealed may be empty already
  return true;
}

message_store::chunk* message_store::room_for(std::size_t bytes, std::uint32_t ref) {
  queue_info& q = _queues[ref - 1];
  // A segment names every queue it refers to, so that it can be read without the others.
  const bool named = q.declared_in == _current && _current != 0;
  const std::size_t needed = bytes + (named ? 0 : queue_record_size(q));
  // A segment that has records closes when these would take it past its size; a record larger
  // than a segment goes alone into a new one.
  const bool full = _current != 0 && _segments[_current].end > 0 && _segments[_current].end + needed > _directory.segment_size;
  if (_current == 0 && !open_segment()) return nullptr;
  // A new segment that cannot be created (out of file descriptors, say): the current one grows
  // past its size rather than lose the message; the next roll tries again.
  if (full) (void)open_segment();
  segment& s = _segments[_current];
  if (_chunks.empty() || _chunks.back().batch != _next_batch || _chunks.back().segment != _current) {
    chunk c;
    c.segment = _current;
    c.offset = s.end;
    c.batch = _next_batch;
    if (!_spare.empty()) {
      c.bytes = std::move(_spare.back());
      _spare.pop_back();
    }
    _chunks.push_back(std::move(c));
  }
  chunk& c = _chunks.back();
  if (q.declared_in != _current) {
    q.declared_in = _current;
    append_to(s, c, queue_fields{ref, q.incarnation, q.vhost, q.name});
  }
  return &c;
}

disk_location message_store::append_publish(std::uint32_t ref, std::uint64_t seq, const message& m, bool timed) {
  return append_publish(ref, publish_fields{ref, seq, m.exchange(), m.routing_key(), m.properties(), m.body(),
                                            m.bcc().bytes(), timed ? turn_clock::to_unix_ms(m.published_at()) : 0});
}

disk_location message_store::append_publish(std::uint32_t ref, const publish_fields& f) {
  chunk* c = room_for(record_size(f), ref);
  if (c == nullptr) return {};
  segment& s = _segments[_current];
  const disk_location at{_current, static_cast<std::uint32_t>(s.end)};
  publish_fields fields = f;
  fields.ref = ref;
  append_to(s, *c, fields);
  ++s.live;
  return at;
}

void message_store::append_range(record_type type, std::uint32_t ref, std::uint64_t first, std::uint32_t count) {
  if (count == 0) return;
  chunk* c = room_for(32, ref);
  if (c == nullptr) return;  // an ack lost to a failing disk: the message may come back once
  append_to(_segments[_current], *c, type, range_fields{ref, first, count});
}

void message_store::release(disk_location loc) noexcept {
  const auto it = _segments.find(loc.segment);
  HAREMQ_ASSERT(it != _segments.end() && it->second.live > 0);
  if (--it->second.live == 0 && it->second.sealed) collect_garbage();
}

void message_store::collect_garbage() noexcept {
  while (!_segments.empty()) {
    auto it = _segments.begin();
    segment& s = it->second;
    if (!s.sealed || s.live > 0) return;
    for (const chunk& c : _chunks) {
      if (c.segment == it->first) return;  // still being written: deleted once it is
    }
    const auto path = _directory.file(it->first);
    if (::unlink(path.c_str()) != 0) {
      spdlog::warn("message store: cannot delete {}: {}", path.string(), last_error().message());
    }
    ::close(s.fd);
    _segments.erase(it);
  }
}

std::size_t message_store::pending_bytes() const noexcept {
  std::size_t n = 0;
  for (const chunk& c : _chunks) n += c.bytes.size() - c.written;
  return n;
}

std::uint64_t message_store::live_messages() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [_, s] : _segments) n += s.live;
  return n;
}

bool message_store::is_written(disk_location loc) const noexcept {
  return loc.segment < _written_segment || (loc.segment == _written_segment && loc.offset < _written_end);
}

bool message_store::read_publish(disk_location loc, record_buffer& buffer, publish_fields& f) const {
  const auto it = _segments.find(loc.segment);
  HAREMQ_ASSERT(it != _segments.end());
  // Most records are small: one read gets the whole of them.
  const ssize_t got = ::pread(it->second.fd, buffer.head.data(), buffer.head.size(), loc.offset);
  const std::size_t size = got >= static_cast<ssize_t>(record_header_size)
                               ? framed_size(amqp::bytes_view(buffer.head.data(), static_cast<std::size_t>(got)))
                               : 0;
  amqp::bytes_view bytes(buffer.head.data(), static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
  if (size > buffer.head.size()) {
    buffer.large.resize(size);
    if (::pread(it->second.fd, buffer.large.data(), size, loc.offset) != static_cast<ssize_t>(size)) bytes = {};
    else bytes = buffer.large;
  }
  record_view record;
  if (size == 0 || bytes.size() < size || read_record(bytes.first(size), record) != scan_status::record ||
      record.type != record_type::publish || !decode(record.fields, f)) {
    spdlog::error("message store: cannot read back the message at segment {} offset {}", loc.segment, loc.offset);
    return false;
  }
  return true;
}

message_ref message_store::read(disk_location loc) const {
  record_buffer buffer;
  publish_fields f;
  return read_publish(loc, buffer, f) ? to_message(f) : message_ref{};
}

std::uint64_t message_store::body_size(disk_location loc) const {
  record_buffer buffer;
  publish_fields f;
  return read_publish(loc, buffer, f) ? f.body.size() : 0;
}

void message_store::flush() {
  if (_in_flight || _failing || _chunks.empty()) return;
  start_write();
}

message_store::chunk& message_store::begin_write() {
  chunk& c = _chunks.front();
  if (c.batch == _next_batch) ++_next_batch;  // closes the filling batch: appends start the next
  _in_flight = true;
  return c;
}

void message_store::start_write() {
  chunk& c = begin_write();
  _writer.write_and_sync(_segments[c.segment].fd, std::span<const std::byte>(c.bytes).subspan(c.written),
                         c.offset + c.written);
}

void message_store::on_written(std::size_t written, std::error_code error) {
  if (!finish_write(written, error)) return;
  // The rest of a batch that spans two segments goes at once; a new batch waits for the turn's end.
  if (!_chunks.empty() && _chunks.front().batch < _next_batch) flush();
}

bool message_store::finish_write(std::size_t written, std::error_code error) {
  HAREMQ_ASSERT(_in_flight && !_chunks.empty());
  _in_flight = false;
  chunk& c = _chunks.front();
  // After an error nothing of the chunk is trusted: a failed sync may leave pages marked clean
  // that never reached the disk, so the retry writes all of it again before its sync.
  c.written = error ? 0 : c.written + written;
  if (error || c.written < c.bytes.size()) {
    if (!_failing) {
      spdlog::error("message store: writing segment {} failed: {}; publishers are blocked until it succeeds",
                    c.segment, error ? error.message() : std::string("short write"));
    }
    _failing = true;
    return false;
  }
  _failing = false;
  complete_front();
  return true;
}

void message_store::complete_front() {
  chunk c = std::move(_chunks.front());
  _chunks.pop_front();
  _written_segment = c.segment;
  _written_end = c.offset + c.bytes.size();
  if (_chunks.empty() || _chunks.front().batch != c.batch) _durable_batch = c.batch;
  c.bytes.clear();
  // Buffers are reused, but one that a burst (or a recovery) made large is let go.
  // At most 2 x 16 MiB kept per worker.
  constexpr std::size_t largest_kept = 16 << 20;
  if (_spare.size() < 2 && c.bytes.capacity() <= largest_kept) _spare.push_back(std::move(c.bytes));
  collect_garbage();
}

void message_store::retry() {
  if (_in_flight) return;
  if (_chunks.empty()) {
    _failing = false;  // it was a segment that could not be created: the next append tries again
    return;
  }
  start_write();
}

bool message_store::flush_blocking() {
  HAREMQ_ASSERT(!_in_flight);
  while (!_chunks.empty()) {
    chunk& c = begin_write();
    const synced_write r = write_and_sync(_segments[c.segment].fd,
                                          std::span<const std::byte>(c.bytes).subspan(c.written), c.offset + c.written);
    if (!finish_write(r.written, r.error)) return false;
  }
  return true;
}

}  // namespace haremq::engine::store
