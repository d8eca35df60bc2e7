#include "engine/header_routes.h"

#include "engine/arguments.h"
#include "net/amqp/byte_writer.h"

namespace haremq::engine {

std::string header_routes_error(const amqp::basic_properties& p) {
  if (!p.has(amqp::property::headers)) return {};
  for (const std::string_view name : {std::string_view("CC"), std::string_view("BCC")}) {
    const auto v = p.headers.find(name);
    if (v && v->type() != amqp::field_type::array) {
      return "{unacceptable_type_in_header,\"" + std::string(name) + "\"," + std::string(rabbit_type_name(v->type())) + "}";
    }
  }
  return {};
}

kept_properties take_out_bcc(const amqp::basic_properties& p, amqp::bytes_view encoded, std::vector<std::byte>& buffer) {
  const auto bcc = p.has(amqp::property::headers) ? p.headers.find("BCC") : std::nullopt;
  if (!bcc) return {encoded, {}};
  // The properties with a shorter headers table: the table, then the properties holding it.
  const std::size_t room = 2 * p.headers.bytes().size() + encoded.size() + 64;
  if (buffer.size() < room) buffer.resize(room);
  amqp::byte_writer w{buffer};
  amqp::table_writer headers{w};
  for (const auto& e : p.headers) {
    if (e.name != "BCC") headers.add(e.name, e.value);
  }
  amqp::basic_properties stripped = p;
  stripped.headers = amqp::field_table::trusted(headers.finish());
  const std::size_t at = w.position();
  amqp::write_properties(w, stripped);
  return {{buffer.data() + at, w.position() - at}, bcc->as_array().bytes()};
}

void routing_keys_of(const message& m, std::vector<std::string_view>& out) {
  out.clear();
  out.push_back(m.routing_key());
  if (!m.header_routes()) return;
  const amqp::basic_properties p = m.decode_properties();
  if (const auto cc = p.headers.find("CC"); cc && cc->type() == amqp::field_type::array) {
    for_each_route(cc->as_array(), [&](std::string_view key) { out.push_back(key); });
  }
  for_each_route(m.bcc(), [&](std::string_view key) { out.push_back(key); });
}

}  // namespace haremq::engine
