#pragma once

#include <string_view>
#include <system_error>

#include "net/amqp/constants.h"

// The codec's error codes, registered as their own std::error_category.
namespace haremq::amqp {

enum class errc {
  bad_protocol_header = 1,  // the first 8 bytes are not "AMQP" 0 0 9 1
  bad_frame_end,            // the octet after the payload is not 0xCE
  unknown_frame_type,       // a frame type other than 1, 2, 3 or 8
  frame_too_large,          // payload + 8 exceeds the negotiated frame-max
  truncated,                // a field runs past the end of the frame payload
  length_past_end,          // a string, table or array length runs past its container
  bad_field_type,           // a field-table value with an unknown type tag
  trailing_bytes,           // bytes left in a payload after its last field
  bad_property_flags,       // content-header flags with bits the class does not define
  unknown_class,            // a method of a class this codec does not know
  unknown_method,           // a method id its class does not define
  buffer_too_small,         // encoding: the caller's buffer cannot hold the frame
  value_too_long,           // encoding: a short string over 255 bytes or a frame over frame-max
};

const std::error_category& codec_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), codec_category()};
}

// The reply code RabbitMQ answers each decoding error with: everything that breaks the
// framing or the syntax of a method is 501 FRAME_ERROR ("cannot decode ..."), a method the
// protocol does not define is 503 COMMAND_INVALID.
reply_code reply_code_of(errc e) noexcept;

}  // namespace haremq::amqp

template <>
struct std::is_error_code_enum<haremq::amqp::errc> : std::true_type {};
