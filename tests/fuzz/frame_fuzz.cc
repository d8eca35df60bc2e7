// Feeds arbitrary bytes to the frame reader as a stream, decodes every frame it yields by
// its type, and checks that whatever decodes re-encodes to the very same bytes.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bytes_view rest{reinterpret_cast<const std::byte*>(data), size};
  if (check_protocol_header(rest) == header_check::ok) rest = rest.subspan(protocol_header.size());
  std::vector<std::byte> out(size + 64);
  while (!rest.empty()) {
    const auto r = parse_frame(rest, frame_min_size * 4);
    if (r.outcome != frame_parse::status::frame) break;
    if (r.consumed == 0 || r.consumed > rest.size()) std::abort();
    const bytes_view wire = rest.first(r.consumed);
    byte_writer w{out};
    switch (r.parsed.type) {
      case frame_type::method:
        if (auto m = decode_method(r.parsed.payload)) {
          write_method_frame(w, r.parsed.channel, *m);
          check_same(w.written(), wire);
        }
        break;
      case frame_type::header:
        if (auto h = decode_content_header(r.parsed.payload)) {
          for (const auto& entry : h->properties.headers) (void)entry;
          write_content_header_frame(w, r.parsed.channel, *h);
          check_same(w.written(), wire);
        }
        break;
      default:
        break;
    }
    rest = rest.subspan(r.consumed);
  }
  return 0;
}
