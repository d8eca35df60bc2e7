#include "engine/store/record.h"

// Inlined: the checksum runs on every record, and the header is all it needs.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "net/amqp/byte_writer.h"
#include "net/amqp/endian.h"

namespace haremq::engine::store {
namespace {

constexpr std::size_t short_string_size(std::string_view s) noexcept { return 1 + s.size(); }

// The optional parts of a publish record (see publish_fields).
enum class publish_part : std::uint8_t { bcc = 1, published_ms = 2 };
constexpr std::size_t part_header_size = 1 + 4;

std::size_t parts_size(const publish_fields& f) noexcept {
  return (f.bcc.empty() ? 0 : part_header_size + f.bcc.size()) + (f.published_ms == 0 ? 0 : part_header_size + 8);
}

std::uint32_t checksum(const std::byte* length_and_payload, std::size_t n) noexcept {
  return static_cast<std::uint32_t>(XXH3_64bits(length_and_payload, n));
}

// Grows `out` by a record of `payload` bytes, lets `fill` write the payload, then frames it.
template <class Fill>
void append_framed(std::vector<std::byte>& out, std::size_t payload, Fill&& fill) {
  const std::size_t at = out.size();
  out.resize(at + record_header_size + payload);
  amqp::byte_writer w(std::span<std::byte>(out.data() + at + record_header_size, payload));
  fill(w);
  amqp::detail::store_be(out.data() + at + 4, static_cast<std::uint32_t>(payload));
  amqp::detail::store_be(out.data() + at, checksum(out.data() + at + 4, payload + 4));
}

}  // namespace

std::size_t record_size(const queue_fields& f) noexcept {
  return record_header_size + 1 + 4 + 8 + short_string_size(f.vhost) + short_string_size(f.name);
}

void append_record(std::vector<std::byte>& out, const queue_fields& f) {
  append_framed(out, record_size(f) - record_header_size, [&](amqp::byte_writer& w) {
    w.u8(static_cast<std::uint8_t>(record_type::queue));
    w.u32(f.ref);
    w.u64(f.incarnation);
    w.short_string(f.vhost);
    w.short_string(f.name);
  });
}

std::size_t record_size(const publish_fields& f) noexcept {
  return record_header_size + 1 + 4 + 8 + short_string_size(f.exchange) + short_string_size(f.routing_key) + 4 +
         f.properties.size() + 8 + f.body.size() + parts_size(f);
}

void append_record(std::vector<std::byte>& out, const publish_fields& f) {
  append_framed(out, record_size(f) - record_header_size, [&](amqp::byte_writer& w) {
    w.u8(static_cast<std::uint8_t>(record_type::publish));
    w.u32(f.ref);
    w.u64(f.seq);
    w.short_string(f.exchange);
    w.short_string(f.routing_key);
    w.u32(static_cast<std::uint32_t>(f.properties.size()));
    w.bytes(f.properties);
    w.u64(f.body.size());
    w.bytes(f.body);
    if (!f.bcc.empty()) {
      w.u8(static_cast<std::uint8_t>(publish_part::bcc));
      w.u32(static_cast<std::uint32_t>(f.bcc.size()));
      w.bytes(f.bcc);
    }
    if (f.published_ms != 0) {
      w.u8(static_cast<std::uint8_t>(publish_part::published_ms));
      w.u32(8);
      w.u64(static_cast<std::uint64_t>(f.published_ms));
    }
  });
}

void append_record(std::vector<std::byte>& out, record_type type, const range_fields& f) {
  append_framed(out, 1 + 4 + 8 + 4, [&](amqp::byte_writer& w) {
    w.u8(static_cast<std::uint8_t>(type));
    w.u32(f.ref);
    w.u64(f.first);
    w.u32(f.count);
  });
}

std::size_t framed_size(amqp::bytes_view header) noexcept {
  if (header.size() < record_header_size) return 0;
  amqp::byte_reader r(header.subspan(4, 4));
  return record_header_size + r.u32();
}

scan_status read_record(amqp::bytes_view data, record_view& out) noexcept {
  if (data.empty()) return scan_status::end;
  if (data.size() < record_header_size) return scan_status::torn;
  amqp::byte_reader r(data);
  const std::uint32_t sum = r.u32();
  const std::uint32_t payload = r.u32();
  if (payload == 0) {
    // A zero length never frames a record: preallocated or zeroed space after a crash.
    return scan_status::corrupt;
  }
  if (payload > data.size() - record_header_size) return scan_status::torn;
  if (checksum(data.data() + 4, std::size_t{payload} + 4) != sum) return scan_status::corrupt;
  const amqp::bytes_view body = data.subspan(record_header_size, payload);
  out.type = static_cast<record_type>(std::to_integer<std::uint8_t>(body[0]));
  out.fields = body.subspan(1);
  out.size = record_header_size + payload;
  return scan_status::record;
}

bool decode(amqp::bytes_view fields, queue_fields& out) noexcept {
  amqp::byte_reader r(fields);
  out.ref = r.u32();
  out.incarnation = r.u64();
  out.vhost = r.short_string();
  out.name = r.short_string();
  return r.ok() && r.remaining() == 0;
}

bool decode(amqp::bytes_view fields, publish_fields& out) noexcept {
  amqp::byte_reader r(fields);
  out.bcc = {};
  out.published_ms = 0;
  out.ref = r.u32();
  out.seq = r.u64();
  out.exchange = r.short_string();
  out.routing_key = r.short_string();
  out.properties = r.bytes(r.u32());
  const std::uint64_t body = r.u64();
  if (body > r.remaining()) return false;
  out.body = r.bytes(static_cast<std::size_t>(body));
  while (r.ok() && r.remaining() > 0) {
    const auto tag = static_cast<publish_part>(r.u8());
    const std::uint32_t size = r.u32();
    if (size > r.remaining()) return false;
    const amqp::bytes_view part = r.bytes(size);
    if (tag == publish_part::bcc) {
      out.bcc = part;
    } else if (tag == publish_part::published_ms) {
      if (size != 8) return false;
      amqp::byte_reader t(part);
      out.published_ms = static_cast<std::int64_t>(t.u64());
    }
  }
  return r.ok();
}

bool decode(amqp::bytes_view fields, range_fields& out) noexcept {
  amqp::byte_reader r(fields);
  out.ref = r.u32();
  out.first = r.u64();
  out.count = r.u32();
  return r.ok() && r.remaining() == 0;
}

}  // namespace haremq::engine::store
