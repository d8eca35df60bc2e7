// Decodes arbitrary bytes as a method payload; a decoded method must re-encode to the same
// bytes and its tables must iterate (recursively) without reading outside the input.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/amqp/method_codec.h"

using namespace haremq::amqp;

namespace {

std::size_t walk(const field_table& t, int depth);

std::size_t walk_value(const field_value& v, int depth) {
  if (depth > 64) return 1;
  if (v.type() == field_type::table) return walk(v.as_table(), depth + 1);
  if (v.type() == field_type::array) {
    std::size_t n = 0;
    for (const auto& item : v.as_array()) n += walk_value(item, depth + 1);
    return n;
  }
  return v.as_string().size() + 1;
}

std::size_t walk(const field_table& t, int depth) {
  std::size_t n = 0;
  for (const auto& entry : t) n += entry.name.size() + walk_value(entry.value, depth);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bytes_view payload{reinterpret_cast<const std::byte*>(data), size};
  auto decoded = decode_method(payload);
  if (!decoded) return 0;
  std::visit(
      [](const auto& m) {
        std::apply(
            [](const auto&... f) {
              auto visit_one = [](const auto& field) {
                if constexpr (std::is_same_v<std::decay_t<decltype(field)>, field_table>) (void)walk(field, 0);
              };
              (visit_one(f), ...);
            },
            m.fields());
      },
      *decoded);
  // Re-encoding gives a payload of the input's size (bits the method does not define are
  // dropped, so not always the same bytes) that decodes and re-encodes to itself.
  std::vector<std::byte> out(size + 16), again(size + 16);
  byte_writer w{out};
  write_method_frame(w, 1, *decoded);
  if (!w.ok() || w.position() != size + frame_overhead) std::abort();
  auto second = decode_method(w.written().subspan(frame_header_size, size));
  if (!second) std::abort();
  byte_writer w2{again};
  write_method_frame(w2, 1, *second);
  if (w2.position() != w.position() || std::memcmp(out.data(), again.data(), w.position()) != 0) std::abort();
  return 0;
}
