#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "net/amqp/frame.h"

namespace haremq::test {

// A frame as the feeder saw it, with copies of its bytes (the input buffers are gone).
struct owned_frame {
  amqp::frame_type type;
  std::uint16_t channel;
  std::vector<std::byte> payload;
  std::vector<std::byte> wire;  // the whole frame as it was on the wire
  friend bool operator==(const owned_frame&, const owned_frame&) = default;
};

struct feed_result {
  std::vector<owned_frame> frames;
  amqp::errc error{};       // the first parse error, if any
  std::size_t left_over = 0;  // bytes buffered but not yet a whole frame at the end
};

// Feeds `stream` to parse_frame in chunks whose sizes come from `next_chunk` (called with
// the bytes left), the way a socket delivers them: bytes accumulate in a buffer and every
// complete frame is taken off its front. Checks on the way that an incomplete frame
// consumes nothing.
feed_result feed_frames(const std::vector<std::byte>& stream, std::uint32_t frame_max,
                        const std::function<std::size_t(std::size_t)>& next_chunk);

feed_result feed_whole(const std::vector<std::byte>& stream, std::uint32_t frame_max);
feed_result feed_in_chunks_of(const std::vector<std::byte>& stream, std::uint32_t frame_max, std::size_t chunk);
feed_result feed_at_random_splits(const std::vector<std::byte>& stream, std::uint32_t frame_max, std::uint32_t seed);

}  // namespace haremq::test
