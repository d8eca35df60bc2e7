#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "net/amqp/byte_reader.h"
#include "net/amqp/byte_writer.h"
#include "net/amqp/field_table.h"

// Content headers (spec §4.2.6): class id, weight, body size and the basic class's 14
// properties, each present when its flag bit is set (bit 15 first; bit 0 would announce
// another flag word, which the basic class never needs).
namespace haremq::amqp {

enum class property : std::uint16_t {
  content_type = 1U << 15,
  content_encoding = 1U << 14,
  headers = 1U << 13,
  delivery_mode = 1U << 12,
  priority = 1U << 11,
  correlation_id = 1U << 10,
  reply_to = 1U << 9,
  expiration = 1U << 8,
  message_id = 1U << 7,
  timestamp = 1U << 6,
  type = 1U << 5,
  user_id = 1U << 4,
  app_id = 1U << 3,
  cluster_id = 1U << 2,
};

// basic's properties as views into the header payload. Setting a field does not set its
// flag: use set(), or assign `flags` directly when copying another header.
struct basic_properties {
  std::uint16_t flags = 0;
  std::string_view content_type;
  std::string_view content_encoding;
  field_table headers;
  std::uint8_t delivery_mode = 0;  // 1 transient, 2 persistent
  std::uint8_t priority = 0;
  std::string_view correlation_id;
  std::string_view reply_to;
  std::string_view expiration;
  std::string_view message_id;
  std::uint64_t timestamp = 0;
  std::string_view type;
  std::string_view user_id;
  std::string_view app_id;
  std::string_view cluster_id;  // reserved, kept for exact re-encoding

  bool has(property p) const noexcept { return (flags & static_cast<std::uint16_t>(p)) != 0; }
  void set(property p) noexcept { flags = static_cast<std::uint16_t>(flags | static_cast<std::uint16_t>(p)); }
};

struct content_header {
  std::uint16_t class_id = 60;
  std::uint16_t weight = 0;  // unused, must be 0
  std::uint64_t body_size = 0;
  basic_properties properties;
};

// Decodes a content-header frame's payload; views `payload`.
result<content_header> decode_content_header(bytes_view payload) noexcept;
// Decodes the property flags and list alone (a header's payload after its first 12 bytes).
result<basic_properties> decode_properties(bytes_view flags_and_list) noexcept;
// Writes the property flags and list alone.
void write_properties(byte_writer& out, const basic_properties& properties) noexcept;

// Writes one complete content-header frame.
void write_content_header_frame(byte_writer& out, std::uint16_t channel, const content_header& header) noexcept;

// Writes a header frame and as many body frames as `frame_max` requires for `body`.
void write_content_frames(byte_writer& out, std::uint16_t channel, const basic_properties& properties,
                          bytes_view body, std::uint32_t frame_max) noexcept;

}  // namespace haremq::amqp
