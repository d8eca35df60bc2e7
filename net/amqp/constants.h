#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

// Wire constants of AMQP 0-9-1 (spec §4.2) with RabbitMQ's values and reply codes.
namespace haremq::amqp {

enum class frame_type : std::uint8_t {
  method = 1,
  header = 2,
  body = 3,
  heartbeat = 8,
};

inline constexpr std::uint8_t frame_end = 0xCE;
inline constexpr std::size_t frame_header_size = 7;  // type, channel, payload size
inline constexpr std::size_t frame_overhead = 8;     // header + frame-end octet

// The smallest frame-max a peer may negotiate (spec §4.2.1), and RabbitMQ's defaults.
inline constexpr std::uint32_t frame_min_size = 4096;
inline constexpr std::uint32_t default_frame_max = 131072;
inline constexpr std::uint16_t default_channel_max = 2047;
inline constexpr std::uint16_t default_heartbeat = 60;

// "AMQP" 0 0 9 1: what a 0-9-1 client sends first and what the server answers to a
// header it does not speak before closing the socket (spec §4.2.2).
inline constexpr std::array<std::byte, 8> protocol_header{
    std::byte{'A'}, std::byte{'M'}, std::byte{'Q'}, std::byte{'P'},
    std::byte{0},   std::byte{0},   std::byte{9},   std::byte{1}};

enum class class_id : std::uint16_t {
  connection = 10,
  channel = 20,
  exchange = 40,
  queue = 50,
  basic = 60,
  confirm = 85,
  tx = 90,
};

// Reply codes (spec §1.9 constants); the names are the ones RabbitMQ puts in reply texts.
enum class reply_code : std::uint16_t {
  reply_success = 200,
  content_too_large = 311,
  no_route = 312,
  no_consumers = 313,
  connection_forced = 320,
  invalid_path = 402,
  access_refused = 403,
  not_found = 404,
  resource_locked = 405,
  precondition_failed = 406,
  frame_error = 501,
  syntax_error = 502,
  command_invalid = 503,
  channel_error = 504,
  unexpected_frame = 505,
  resource_error = 506,
  not_allowed = 530,
  not_implemented = 540,
  internal_error = 541,
};

// The upper-case name RabbitMQ prefixes reply texts with, e.g. "NOT_FOUND".
std::string_view reply_name(reply_code code) noexcept;

// Hard errors close the connection; soft errors close only the channel (spec §1.9).
bool is_connection_error(reply_code code) noexcept;

}  // namespace haremq::amqp
