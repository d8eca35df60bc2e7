// Feeds arbitrary bytes to the frame reader as a stream, decodes every frame it yields by
// its type, and checks that whatever decodes re-encodes to a frame of the same size that
// decodes again to the same encoding. (Same size, not always the same bytes: a bits octet
// may carry bits the method does not define, which RabbitMQ ignores too.)
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"

using namespace haremq::amqp;

namespace {

void check_same(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() != b.size() || std::memcmp(a.data(), b.data(), a.size()) != 0) std::abort();
}

template <class Decode, class Encode>
void check_stable(bytes_view wire, Decode decode, Encode encode) {
  auto first = decode(wire);
  if (!first) return;
  std::vector<std::byte> once(wire.size() + 64), twice(wire.size() + 64);
  byte_writer a{once};
  encode(a, *first);
  if (!a.ok() || a.position() != wire.size()) std::abort();
  auto second = decode(a.written());
  if (!second) std::abort();
  byte_writer b{twice};
  encode(b, *second);
  check_same(a.written(), b.written());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bytes_view rest{reinterpret_cast<const std::byte*>(data), size};
  if (check_protocol_header(rest) == header_check::ok) rest = rest.subspan(protocol_header.size());
  while (!rest.empty()) {
    const auto r = parse_frame(rest, frame_min_size * 4);
    if (r.outcome != frame_parse::status::frame) break;
    if (r.consumed == 0 || r.consumed > rest.size()) std::abort();
    const bytes_view wire = rest.first(r.consumed);
    const std::uint16_t channel = r.parsed.channel;
    auto payload_of = [](bytes_view frame) { return frame.subspan(frame_header_size, frame.size() - frame_overhead); };
    switch (r.parsed.type) {
      case frame_type::method:
        check_stable(
            wire, [&](bytes_view f) { return decode_method(payload_of(f)); },
            [&](byte_writer& w, const method& m) { write_method_frame(w, channel, m); });
        break;
      case frame_type::header:
        check_stable(
            wire, [&](bytes_view f) { return decode_content_header(payload_of(f)); },
            [&](byte_writer& w, const content_header& h) { write_content_header_frame(w, channel, h); });
        break;
      default:
        break;
    }
    rest = rest.subspan(r.consumed);
  }
  return 0;
}
