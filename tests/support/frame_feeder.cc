#include "tests/support/frame_feeder.h"

#include <algorithm>
#include <random>

#include "base/assert.h"

namespace haremq::test {

feed_result feed_frames(const std::vector<std::byte>& stream, std::uint32_t frame_max,
                        const std::function<std::size_t(std::size_t)>& next_chunk) {
  feed_result out;
  std::vector<std::byte> buffered;
  std::size_t sent = 0;
  while (sent < stream.size() && out.error == amqp::errc{}) {
    const std::size_t n = std::clamp<std::size_t>(next_chunk(stream.size() - sent), 1, stream.size() - sent);
    buffered.insert(buffered.end(), stream.begin() + static_cast<std::ptrdiff_t>(sent),
                    stream.begin() + static_cast<std::ptrdiff_t>(sent + n));
    sent += n;
    for (;;) {
      const auto r = amqp::parse_frame(buffered, frame_max);
      if (r.outcome == amqp::frame_parse::status::need_more) {
        HAREMQ_ASSERT(r.consumed == 0);
        break;
      }
      if (r.outcome == amqp::frame_parse::status::error) {
        out.error = r.error;
        break;
      }
      out.frames.push_back(owned_frame{r.parsed.type, r.parsed.channel,
                                       {r.parsed.payload.begin(), r.parsed.payload.end()},
                                       {buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(r.consumed)}});
      buffered.erase(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    }
  }
  out.left_over = buffered.size();
  return out;
}

feed_result feed_whole(const std::vector<std::byte>& stream, std::uint32_t frame_max) {
  return feed_frames(stream, frame_max, [](std::size_t left) { return left; });
}

feed_result feed_in_chunks_of(const std::vector<std::byte>& stream, std::uint32_t frame_max, std::size_t chunk) {
  return feed_frames(stream, frame_max, [chunk](std::size_t) { return chunk; });
}

feed_result feed_at_random_splits(const std::vector<std::byte>& stream, std::uint32_t frame_max, std::uint32_t seed) {
  std::mt19937 rng(seed);
  return feed_frames(stream, frame_max, [&rng](std::size_t left) {
    return std::uniform_int_distribution<std::size_t>(1, std::min<std::size_t>(left, 64))(rng);
  });
}

}  // namespace haremq::test
