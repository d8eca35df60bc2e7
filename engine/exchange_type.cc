#include "engine/exchange_type.h"

namespace haremq::engine {

std::optional<exchange_type> parse_exchange_type(std::string_view name) noexcept {
  if (name == "direct") return exchange_type::direct;
  if (name == "fanout") return exchange_type::fanout;
  if (name == "topic") return exchange_type::topic;
  if (name == "headers") return exchange_type::headers;
  return std::nullopt;
}

std::string_view name_of(exchange_type type) noexcept {
  switch (type) {
    case exchange_type::direct: return "direct";
    case exchange_type::fanout: return "fanout";
    case exchange_type::topic: return "topic";
    case exchange_type::headers: return "headers";
  }
  return "direct";  // unreachable: every enumerator is handled above
}

}  // namespace haremq::engine
