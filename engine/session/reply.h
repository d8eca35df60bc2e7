#pragma once

#include <cstdint>
#include <string>

#include "net/amqp/byte_writer.h"
#include "net/amqp/constants.h"
#include "net/amqp/errc.h"
#include "net/amqp/frame.h"
#include "net/amqp/method_id.h"

// The one place where an error becomes an AMQP close: the reply code, RabbitMQ's text for
// it, and whether it closes the channel or the whole connection (spec §1.9: hard errors).
namespace haremq::session {

struct protocol_error {
  amqp::reply_code code = amqp::reply_code::internal_error;
  std::string text;          // with RabbitMQ's "NAME - " prefix
  amqp::method_id method{};  // the method that failed, {0, 0} if none
  bool connection_level = false;
};

// A channel error (soft) or a connection error (hard), by the code's class.
protocol_error make_error(amqp::reply_code code, std::string detail, amqp::method_id method = {});
// A text that already carries its "NAME - " prefix (errors built by the engine).
protocol_error from_engine(amqp::reply_code code, std::string text, amqp::method_id method, bool connection_level);

// RabbitMQ's FRAME_ERROR texts for what the frame reader rejected, e.g.
// "FRAME_ERROR - type 1, all octets = <<0,20,0,10>>: {invalid_frame_end_marker,0}".
protocol_error frame_error(const amqp::frame_parse& rejected, std::uint32_t frame_max);
// A method whose arguments do not decode: "FRAME_ERROR - cannot decode <<...>>" (501).
protocol_error undecodable(amqp::method_id method, amqp::bytes_view arguments);

// Writes the channel.close or connection.close frame for `error`.
void write_close(amqp::byte_writer& out, std::uint16_t channel, const protocol_error& error);

}  // namespace haremq::session
