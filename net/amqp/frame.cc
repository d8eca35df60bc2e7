#include "net/amqp/frame.h"

#include <algorithm>

namespace haremq::amqp {
namespace {

bool is_known_frame_type(std::uint8_t t) noexcept {
  return t == 1 || t == 2 || t == 3 || t == 8;
}

}  // namespace

frame_parse parse_frame(bytes_view input, std::uint32_t frame_max) noexcept {
  frame_parse r;
  if (input.size() < frame_header_size) return r;  // need_more
  byte_reader in{input};
  r.raw_type = in.u8();
  const std::uint16_t channel = in.u16();
  r.declared_size = in.u32();

  // Checked on the header alone, before waiting for a payload that may never fit.
  if (frame_max != 0 && std::uint64_t{r.declared_size} + frame_overhead > frame_max) {
    r.outcome = frame_parse::status::error;
    r.error = errc::frame_too_large;
    return r;
  }
  if (in.remaining() < std::size_t{r.declared_size} + 1) return r;  // need_more

  r.payload_seen = in.bytes(r.declared_size);
  r.found_end = in.u8();
  if (r.found_end != frame_end) {
    r.outcome = frame_parse::status::error;
    r.error = errc::bad_frame_end;
    return r;
  }
  if (!is_known_frame_type(r.raw_type)) {
    r.outcome = frame_parse::status::error;
    r.error = errc::unknown_frame_type;
    return r;
  }
  r.outcome = frame_parse::status::frame;
  r.parsed = frame{static_cast<frame_type>(r.raw_type), channel, r.payload_seen};
  r.consumed = in.position();
  return r;
}

void write_heartbeat_frame(byte_writer& out) noexcept {
  frame_writer f{out, frame_type::heartbeat, 0};
  f.end();
}

void write_body_frame(byte_writer& out, std::uint16_t channel, bytes_view body) noexcept {
  frame_writer f{out, frame_type::body, channel};
  f.payload().bytes(body);
  f.end();
}

header_check check_protocol_header(bytes_view input) noexcept {
  const std::size_t n = std::min(input.size(), protocol_header.size());
  if (!std::equal(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n), protocol_header.begin())) {
    return header_check::bad;
  }
  return n < protocol_header.size() ? header_check::need_more : header_check::ok;
}

}  // namespace haremq::amqp
