#include "engine/session/reply.h"

#include "net/amqp/method_codec.h"

namespace haremq::session {
namespace {

std::string octets(amqp::bytes_view bytes) {
  std::string out = "<<";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(std::to_integer<unsigned>(bytes[i]));
  }
  return out + ">>";
}

}  // namespace

protocol_error make_error(amqp::reply_code code, std::string detail, amqp::method_id method) {
  return protocol_error{code, std::string(amqp::reply_name(code)) + " - " + detail, method,
                        amqp::is_connection_error(code)};
}

protocol_error from_engine(amqp::reply_code code, std::string text, amqp::method_id method, bool connection_level) {
  return protocol_error{code, std::move(text), method, connection_level || amqp::is_connection_error(code)};
}

protocol_error frame_error(const amqp::frame_parse& rejected, std::uint32_t frame_max) {
  std::string what;
  switch (rejected.error) {
    case amqp::errc::bad_frame_end:
      what = "{invalid_frame_end_marker," + std::to_string(rejected.found_end) + "}";
      break;
    case amqp::errc::unknown_frame_type:
      what = "unknown_frame";
      break;
    case amqp::errc::frame_too_large:
      what = "{frame_too_large," + std::to_string(rejected.declared_size) + "," +
             std::to_string(amqp::max_payload(frame_max)) + "}";
      break;
    default:
      what = std::error_code(rejected.error).message();
      break;
  }
  // RabbitMQ shows the payload octets only when it read them (not for an oversized frame).
  return make_error(amqp::reply_code::frame_error,
                    "type " + std::to_string(rejected.raw_type) + ", all octets = " + octets(rejected.payload_seen) +
                        ": " + what);
}

protocol_error undecodable(amqp::method_id method, amqp::bytes_view arguments) {
  return make_error(amqp::reply_code::frame_error, "cannot decode " + octets(arguments), method);
}

void write_close(amqp::byte_writer& out, std::uint16_t channel, const protocol_error& error) {
  // Reply texts are shortstrs: RabbitMQ cuts longer ones too.
  const std::string_view text = std::string_view(error.text).substr(0, 255);
  if (error.connection_level) {
    amqp::write_method_frame(out, 0,
                             amqp::connection_close{static_cast<std::uint16_t>(error.code), text,
                                                    error.method.class_id, error.method.method});
  } else {
    amqp::write_method_frame(out, channel,
                             amqp::channel_close{static_cast<std::uint16_t>(error.code), text, error.method.class_id,
                                                 error.method.method});
  }
}

}  // namespace haremq::session
