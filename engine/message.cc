#include "engine/message.h"

#include <mimalloc.h>

#include <cstring>
#include <new>

#include "engine/memory_meter.h"

namespace haremq::engine {

message* message::create(std::string_view exchange, std::string_view routing_key, amqp::bytes_view properties,
                         std::uint64_t body_size, bool persistent) noexcept {
  // Exchange names and routing keys are shortstrs: at most 255 bytes each.
  if (exchange.size() > 255 || routing_key.size() > 255) return nullptr;
  const std::size_t data_size = exchange.size() + routing_key.size() + properties.size() + body_size;
  void* raw = mi_malloc(sizeof(message) + data_size);
  if (raw == nullptr) return nullptr;
  memory_meter::add(static_cast<std::int64_t>(sizeof(message) + data_size));
  auto* m = new (raw) message();
  m->_exchange_size = static_cast<std::uint8_t>(exchange.size());
  m->_routing_key_size = static_cast<std::uint8_t>(routing_key.size());
  m->_properties_size = static_cast<std::uint32_t>(properties.size());
  m->_body_size = body_size;
  m->_data_size = data_size;
  std::byte* at = m->bytes();
  std::memcpy(at, exchange.data(), exchange.size());
  at += exchange.size();
  std::memcpy(at, routing_key.data(), routing_key.size());
  at += routing_key.size();
  if (!properties.empty()) std::memcpy(at, properties.data(), properties.size());
  m->_persistent = persistent;
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
