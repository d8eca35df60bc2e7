#include "engine/message.h"

#include <mimalloc.h>

#include <cstring>
#include <new>

#include "engine/memory_meter.h"

namespace haremq::engine {

expiration_parse parse_expiration(std::string_view text) noexcept {
  expiration_parse r;
  std::size_t at = 0;
  const bool minus = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) at = 1;
  const std::size_t digits_from = at;
  std::int64_t v = 0;
  bool too_large = false;
  for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
    if (v > 100'000'000'000'000'000) too_large = true;
    else v = v * 10 + (text[at] - '0');
  }
  if (at == digits_from) {
    r.error = "no_integer";
    return r;
  }
  if (at < text.size()) {
    r.error = "{leftover_string,\"" + std::string(text.substr(at)) + "\"}";
    return r;
  }
  constexpr std::int64_t max_ttl_ms = 315'360'000'000;  // rabbit_misc:check_expiry
  if (minus && v != 0) {
    r.error = "{value_negative,-" + std::to_string(v) + "}";
    return r;
  }
  if (too_large || v > max_ttl_ms) {
    r.error = "{value_too_large," + std::string(text.substr(digits_from)) + "}";
    return r;
  }
  r.ttl_ms = v;
  return r;
}

std::int64_t message_traits::ttl_of(std::string_view expiration) noexcept { return parse_expiration(expiration).ttl_ms; }

bool message_traits::has_header_routes(const amqp::field_table& headers) noexcept {
  for (const auto& e : headers) {
    if (e.name == "CC" || e.name == "BCC") return true;
  }
  return false;
}

message* message::create(std::string_view exchange, std::string_view routing_key, amqp::bytes_view properties,
                         std::uint64_t body_size, message_traits traits, amqp::bytes_view bcc) noexcept {
  // Exchange names and routing keys are shortstrs: at most 255 bytes each.
  if (exchange.size() > 255 || routing_key.size() > 255) return nullptr;
  const std::size_t data_size = exchange.size() + routing_key.size() + properties.size() + body_size + bcc.size();
  void* raw = mi_malloc(sizeof(message) + data_size);
  if (raw == nullptr) return nullptr;
  memory_meter::add(static_cast<std::int64_t>(sizeof(message) + data_size));
  auto* m = new (raw) message();
  m->_exchange_size = static_cast<std::uint8_t>(exchange.size());
  m->_routing_key_size = static_cast<std::uint8_t>(routing_key.size());
  m->_properties_size = static_cast<std::uint32_t>(properties.size());
  m->_bcc_size = static_cast<std::uint32_t>(bcc.size());
  m->_body_size = body_size;
  std::byte* at = m->bytes();
  std::memcpy(at, exchange.data(), exchange.size());
  at += exchange.size();
  std::memcpy(at, routing_key.data(), routing_key.size());
  at += routing_key.size();
  if (!properties.empty()) std::memcpy(at, properties.data(), properties.size());
  if (!bcc.empty()) std::memcpy(at + properties.size() + body_size, bcc.data(), bcc.size());
  m->_flags = static_cast<std::uint8_t>((traits.persistent ? persistent_flag : 0) |
                                        (traits.header_routes || !bcc.empty() ? header_routes_flag : 0));
  m->_priority = traits.priority;
  m->_ttl_ms = traits.ttl_ms;
  return m;
}

bool message::append_body(amqp::bytes_view part) noexcept {
  if (part.size() > _body_size - _body_filled) return false;
  if (!part.empty()) std::memcpy(const_cast<std::byte*>(body_start()) + _body_filled, part.data(), part.size());
  _body_filled += part.size();
  return true;
}

amqp::basic_properties message::decode_properties() const noexcept {
  // Validated when the header arrived, so decoding cannot fail here.
  auto p = amqp::decode_properties(properties());
  return p ? *p : amqp::basic_properties{};
}

void message::destroy() noexcept {
  memory_meter::add(-static_cast<std::int64_t>(memory_size()));
  this->~message();
  mi_free(this);
}

}  // namespace haremq::engine
