#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "net/amqp/byte_reader.h"

// The records of the message log, as they lie in a segment file. Each is framed as
//   checksum (u32) | payload length (u32) | payload
// where the payload starts with the record type and the checksum is the low half of XXH3-64
// over the length and the payload: a torn write (power loss in the middle of a record) or a
// flipped byte shows as a record that does not check, and the scan stops there.
// Integers are big-endian, strings are AMQP short strings, as everywhere else in HareMQ.
namespace haremq::engine::store {

enum class record_type : std::uint8_t {
  queue = 1,      // ref -> (vhost, queue name, incarnation), once per segment that uses the ref
  publish = 2,    // a persistent message of a durable queue
  ack = 3,        // a run of a queue's messages is gone (acked, rejected, purged)
  delivered = 4,  // a run of a queue's messages was delivered: redelivered=true after a crash
};

inline constexpr std::size_t record_header_size = 8;

// A queue's name in the segments that refer to it by `ref`. A queue deleted and declared
// again is another incarnation, so the old one's messages never come back in the new one.
struct queue_fields {
  std::uint32_t ref = 0;
  std::uint64_t incarnation = 0;
  std::string_view vhost;
  std::string_view name;
};

// After the body, optional tagged parts (tag u8, length u32, bytes), each written only when
// it has something to say; a reader skips tags it does not know, and records without them
// (written before they existed) read as before.
struct publish_fields {
  std::uint32_t ref = 0;
  std::uint64_t seq = 0;  // the queue's publish order
  std::string_view exchange;
  std::string_view routing_key;
  amqp::bytes_view properties;  // the content header's flags and list, as on the wire
  amqp::bytes_view body;
  amqp::bytes_view bcc;            // tag 1: the BCC header's array content (header_routes.h)
  std::int64_t published_ms = 0;   // tag 2: when it was published, Unix ms (its TTL counts from then); 0: not kept
};

// ack and delivered: `count` messages of the queue from seq `first` on.
struct range_fields {
  std::uint32_t ref = 0;
  std::uint64_t first = 0;
  std::uint32_t count = 0;
};

// Appending: each adds one framed record at the end of `out` (which grows as needed).
void append_record(std::vector<std::byte>& out, const queue_fields& f);
void append_record(std::vector<std::byte>& out, const publish_fields& f);
void append_record(std::vector<std::byte>& out, record_type type, const range_fields& f);
// The size append_record(out, f) adds.
std::size_t record_size(const publish_fields& f) noexcept;
std::size_t record_size(const queue_fields& f) noexcept;

// Reading: one framed record at the front of `data`.
enum class scan_status {
  record,     // `out` holds it
  end,        // no bytes left: a clean end
  torn,       // the record runs past the end of `data` (a write cut short)
  corrupt,    // the checksum or the content does not check
};
struct record_view {
  record_type type{};
  amqp::bytes_view fields;  // the payload after the type
  std::size_t size = 0;     // header and payload
};
scan_status read_record(amqp::bytes_view data, record_view& out) noexcept;
// The size of the record that starts with `header` (record_header_size bytes), or 0.
std::size_t framed_size(amqp::bytes_view header) noexcept;

// Field decoding; false when the fields do not parse (a record that checked but is not what
// its type says: treated as corrupt).
bool decode(amqp::bytes_view fields, queue_fields& out) noexcept;
bool decode(amqp::bytes_view fields, publish_fields& out) noexcept;
bool decode(amqp::bytes_view fields, range_fields& out) noexcept;

}  // namespace haremq::engine::store
