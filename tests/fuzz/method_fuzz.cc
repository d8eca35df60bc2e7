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
  std::vector<std::byte> out(size + 16);
  byte_writer w{out};
  write_method_frame(w, 1, *decoded);
  // The frame is header(7) + payload + end(1): its payload must be the input itself.
  if (!w.ok() || w.position() != size + 8 || std::memcmp(out.data() + 7, data, size) != 0) std::abort();
  return 0;
}
