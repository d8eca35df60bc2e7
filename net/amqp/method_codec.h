#pragma once

#include <cstdint>

#include "base/result.h"
#include "net/amqp/byte_writer.h"
#include "net/amqp/frame.h"
#include "net/amqp/method_fields.h"
#include "net/amqp/methods.h"

// Method frames: decoding a payload into a typed method, encoding a method into a frame.
namespace haremq::amqp {

// The class and method ids at the front of a method payload; {0, 0} if it is too short.
method_id peek_method_id(bytes_view payload) noexcept;

// Decodes a method frame's payload: unknown_class / unknown_method for ids the protocol does
// not define, truncated / length_past_end / bad_field_type / trailing_bytes for arguments
// that do not parse exactly. The result views `payload`. Allocates nothing for any frame a
// real client sends; thread-safe (pure function).
result<method> decode_method(bytes_view payload) noexcept;

// Writes one complete method frame (header, class and method ids, arguments, frame end).
template <class M>
void write_method_frame(byte_writer& out, std::uint16_t channel, const M& m) noexcept {
  frame_writer f{out, frame_type::method, channel};
  out.u16(M::id.class_id);
  out.u16(M::id.method);
  detail::write_arguments(out, m);
  f.end();
}
void write_method_frame(byte_writer& out, std::uint16_t channel, const method& m) noexcept;

}  // namespace haremq::amqp
