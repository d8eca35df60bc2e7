#include "net/amqp/method_codec.h"

#include <array>
#include <utility>

namespace haremq::amqp {
namespace {

// Class ids are sparse (10 .. 90) and method ids below 128: a 7 x 128 table of decoder
// pointers finds any method with two array reads instead of a search over 64 types.
constexpr int class_slot(std::uint16_t class_id) noexcept {
  switch (class_id) {
    case 10: return 0;
    case 20: return 1;
    case 40: return 2;
    case 50: return 3;
    case 60: return 4;
    case 85: return 5;
    case 90: return 6;
    default: return -1;
  }
}
constexpr std::size_t class_slots = 7;
constexpr std::size_t method_slots = 128;

using decode_fn = void (*)(byte_reader&, method&) noexcept;

template <class M>
void decode_as(byte_reader& in, method& out) noexcept {
  M& m = out.emplace<M>();
  detail::read_arguments(in, m);
}

struct method_entry {
  decode_fn decode = nullptr;
  std::string_view name;
};

template <std::size_t... I>
constexpr auto build_table(std::index_sequence<I...>) {
  std::array<method_entry, class_slots * method_slots> table{};
  auto add = [&table]<class M>(std::type_identity<M>) {
    static_assert(M::id.method < method_slots && class_slot(M::id.class_id) >= 0);
    table[static_cast<std::size_t>(class_slot(M::id.class_id)) * method_slots + M::id.method] =
        method_entry{&decode_as<M>, M::name};
  };
  (add(std::type_identity<std::variant_alternative_t<I, method>>{}), ...);
  return table;
}

constexpr auto method_table = build_table(std::make_index_sequence<method_count>{});

const method_entry* find_entry(method_id id) noexcept {
  const int slot = class_slot(id.class_id);
  if (slot < 0 || id.method >= method_slots) return nullptr;
  const auto& entry = method_table[static_cast<std::size_t>(slot) * method_slots + id.method];
  return entry.decode != nullptr ? &entry : nullptr;
}

}  // namespace

method_id peek_method_id(bytes_view payload) noexcept {
  if (payload.size() < 4) return {};
  byte_reader in{payload};
  const std::uint16_t c = in.u16();
  return {c, in.u16()};
}

result<method> decode_method(bytes_view payload) noexcept {
  byte_reader in{payload};
  const std::uint16_t class_id = in.u16();
  const std::uint16_t method_index = in.u16();
  if (!in.ok()) return errc::truncated;
  const method_entry* entry = find_entry({class_id, method_index});
  if (entry == nullptr) return class_slot(class_id) < 0 ? errc::unknown_class : errc::unknown_method;
  amqp::method decoded;
  entry->decode(in, decoded);
  if (!in.ok()) return in.error();
  if (in.remaining() != 0) return errc::trailing_bytes;
  return decoded;
}

void write_method_frame(byte_writer& out, std::uint16_t channel, const method& m) noexcept {
  std::visit([&](const auto& typed) { write_method_frame(out, channel, typed); }, m);
}

method_id id_of(const method& m) noexcept {
  return std::visit([](const auto& typed) { return std::decay_t<decltype(typed)>::id; }, m);
}

std::string_view name_of(const method& m) noexcept {
  return std::visit([](const auto& typed) { return std::decay_t<decltype(typed)>::name; }, m);
}

bool has_content(const method& m) noexcept {
  return std::visit([](const auto& typed) { return std::decay_t<decltype(typed)>::has_content; }, m);
}

std::string_view name_of(method_id id) noexcept {
  const method_entry* entry = find_entry(id);
  return entry != nullptr ? entry->name : std::string_view{};
}

}  // namespace haremq::amqp
