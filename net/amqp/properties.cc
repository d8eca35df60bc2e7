#include "net/amqp/properties.h"

#include <algorithm>

#include "net/amqp/frame.h"
#include "net/amqp/method_fields.h"

namespace haremq::amqp {
namespace {

// Bits 1 and 0 are unused by basic (bit 0 is the continuation flag).
constexpr std::uint16_t defined_flags = 0xFFFC;

// Applies `f(flag, field)` to each property in wire order.
template <class Properties, class F>
void for_each_property(Properties& p, F&& f) {
  f(property::content_type, p.content_type);
  f(property::content_encoding, p.content_encoding);
  f(property::headers, p.headers);
  f(property::delivery_mode, p.delivery_mode);
  f(property::priority, p.priority);
  f(property::correlation_id, p.correlation_id);
  f(property::reply_to, p.reply_to);
  f(property::expiration, p.expiration);
  f(property::message_id, p.message_id);
  f(property::timestamp, p.timestamp);
  f(property::type, p.type);
  f(property::user_id, p.user_id);
  f(property::app_id, p.app_id);
  f(property::cluster_id, p.cluster_id);
}

}  // namespace

result<basic_properties> decode_properties(bytes_view flags_and_list) noexcept {
  byte_reader in{flags_and_list};
  basic_properties p;
  p.flags = in.u16();
  if (!in.ok()) return in.error();
  if ((p.flags & ~defined_flags) != 0) return errc::bad_property_flags;
  for_each_property(p, [&](property flag, auto& field) {
    if (p.has(flag)) detail::read_field(in, field);
  });
  if (!in.ok()) return in.error();
  if (in.remaining() != 0) return errc::trailing_bytes;
  return p;
}

result<content_header> decode_content_header(bytes_view payload) noexcept {
  byte_reader in{payload};
  content_header h;
  h.class_id = in.u16();
  h.weight = in.u16();
  h.body_size = in.u64();
  if (!in.ok()) return in.error();
  auto p = decode_properties(payload.subspan(in.position()));
  if (!p) return p.error();
  h.properties = *p;
  return h;
}

void write_properties(byte_writer& out, const basic_properties& properties) noexcept {
  out.u16(properties.flags);
  for_each_property(properties, [&](property p, const auto& field) {
    if (properties.has(p)) detail::write_field(out, field);
  });
}

void write_content_header_frame(byte_writer& out, std::uint16_t channel, const content_header& header) noexcept {
  frame_writer f{out, frame_type::header, channel};
  out.u16(header.class_id);
  out.u16(header.weight);
  out.u64(header.body_size);
  write_properties(out, header.properties);
  f.end();
}

void write_content_frames(byte_writer& out, std::uint16_t channel, const basic_properties& properties,
                          bytes_view body, std::uint32_t frame_max) noexcept {
  write_content_header_frame(out, channel, content_header{60, 0, body.size(), properties});
  const std::size_t chunk = max_payload(frame_max);
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    write_body_frame(out, channel, body.subspan(at, std::min(chunk, body.size() - at)));
  }
}

}  // namespace haremq::amqp
