#pragma once

#include <cstddef>
#include <cstdint>

#include "net/amqp/byte_reader.h"
#include "net/amqp/byte_writer.h"
#include "net/amqp/constants.h"
#include "net/amqp/errc.h"

// Frames (spec §4.2.3): a 7-byte header (type, channel, payload size), the payload, and
// the frame-end octet 0xCE. Parsing is sans-IO: bytes in, one frame or "need more" out.
namespace haremq::amqp {

struct frame {
  frame_type type = frame_type::heartbeat;
  std::uint16_t channel = 0;
  bytes_view payload;  // a view into the parser's input
};

// What parse_frame found at the front of its input.
struct frame_parse {
  enum class status { frame, need_more, error };
  status outcome = status::need_more;
  frame parsed;               // when outcome == frame
  std::size_t consumed = 0;   // bytes of input the frame took; 0 unless outcome == frame
  errc error{};               // when outcome == error
  // What RabbitMQ's FRAME_ERROR text reports: the raw type octet, the declared payload
  // size, the payload octets when they were read, and the octet found instead of 0xCE.
  std::uint8_t raw_type = 0;
  std::uint32_t declared_size = 0;
  bytes_view payload_seen;
  std::uint8_t found_end = 0;
};

// Splits the first frame off `input`. `frame_max` is the negotiated frame-max (payload + 8
// may not exceed it); 0 means no limit (spec §4.2.3 and connection.tune). A frame that is
// not complete yet is `need_more` with nothing consumed. Allocates nothing; thread-safe
// (pure function).
frame_parse parse_frame(bytes_view input, std::uint32_t frame_max) noexcept;

// Largest payload that fits a frame-max (0 = unlimited).
constexpr std::size_t max_payload(std::uint32_t frame_max) noexcept {
  return frame_max == 0 ? 0xFFFFFFFFu : frame_max - frame_overhead;
}

// Writes a frame around a payload the caller fills: begin() writes the header with a
// placeholder size; end() patches the size and adds the frame-end octet.
class frame_writer {
 public:
  frame_writer(byte_writer& out, frame_type type, std::uint16_t channel) noexcept : _out(out) {
    _out.u8(static_cast<std::uint8_t>(type));
    _out.u16(channel);
    _size_at = _out.position();
    _out.u32(0);
  }
  byte_writer& payload() noexcept { return _out; }
  // Returns the payload size written.
  std::size_t end() noexcept {
    const std::size_t size = _out.position() - _size_at - 4;
    _out.patch_u32(_size_at, static_cast<std::uint32_t>(size));
    _out.u8(frame_end);
    return size;
  }

 private:
  byte_writer& _out;
  std::size_t _size_at = 0;
};

void write_heartbeat_frame(byte_writer& out) noexcept;
void write_body_frame(byte_writer& out, std::uint16_t channel, bytes_view body) noexcept;

// The 8-byte protocol header a client opens with (spec §4.2.2).
enum class header_check { ok, need_more, bad };
header_check check_protocol_header(bytes_view input) noexcept;

}  // namespace haremq::amqp
