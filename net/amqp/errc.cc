#include "net/amqp/errc.h"

#include <string>

namespace haremq::amqp {
namespace {

class codec_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "amqp.codec"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::bad_protocol_header: return "bad protocol header";
      case errc::bad_frame_end: return "invalid frame end marker";
      case errc::unknown_frame_type: return "unknown frame type";
      case errc::frame_too_large: return "frame too large";
      case errc::truncated: return "frame payload truncated";
      case errc::length_past_end: return "length runs past the end of its container";
      case errc::bad_field_type: return "unknown field value type";
      case errc::trailing_bytes: return "unexpected bytes after the last field";
      case errc::bad_property_flags: return "undefined content-header property flags";
      case errc::unknown_class: return "unknown class id";
      case errc::unknown_method: return "unknown method id";
      case errc::buffer_too_small: return "output buffer too small";
      case errc::value_too_long: return "value too long for its field";
    }
    return "unknown codec error";
  }
};

}  // namespace

const std::error_category& codec_category() noexcept {
  static const codec_category_impl category;
  return category;
}

reply_code reply_code_of(errc e) noexcept {
  switch (e) {
    case errc::unknown_class:
    case errc::unknown_method:
      return reply_code::command_invalid;
    case errc::buffer_too_small:
    case errc::value_too_long:
      return reply_code::internal_error;
    default:
      return reply_code::frame_error;
  }
}

}  // namespace haremq::amqp
