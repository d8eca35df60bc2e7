#include "tests/engine/session/session_harness.h"

#include <algorithm>
#include <array>
#include <string>

namespace haremq::test {

void fake_host::run_until_idle(const std::vector<session::connection*>& connections) {
  while (!hold) {
    if (_pending.empty()) _shard.flush_receipts();
    if (_pending.empty()) return;
    engine::command c = std::move(_pending.front());
    _pending.pop_front();
    if (const auto to = engine::addressee(c)) {
      const auto s =
          std::find_if(connections.begin(), connections.end(), [&](auto* x) { return x->key() == to->connection; });
      if (s != connections.end()) {
        (*s)->on_command(std::move(c));
      } else {
        engine::give_back(std::move(c), *this);
      }
      continue;
    }
    _shard.handle_command(std::move(c));
  }
}

std::vector<std::byte> client_handshake(std::string_view password, bool auth_close, bool blocked_capability) {
  std::vector<std::byte> out(amqp::protocol_header.begin(), amqp::protocol_header.end());
  std::array<std::byte, 256> props_buf{};
  amqp::byte_writer pw{props_buf};
  amqp::table_writer props{pw};
  {
    auto caps = props.nested("capabilities", amqp::table_writer::kind::table);
    caps.add("authentication_failure_close", amqp::field_value::boolean(auth_close));
    if (blocked_capability) caps.add("connection.blocked", amqp::field_value::boolean(true));
    caps.finish();
  }
  const auto client_properties = amqp::field_table::trusted(props.finish());
  std::vector<std::byte> buf(4096);
  amqp::byte_writer w{buf};
  const std::string response = std::string("\0guest\0", 7) + std::string(password);
  amqp::write_method_frame(w, 0, amqp::connection_start_ok{client_properties, "PLAIN", {response}, "en_US"});
  amqp::write_method_frame(w, 0, amqp::connection_tune_ok{2047, 131072, 0});
  amqp::write_method_frame(w, 0, amqp::connection_open{"/", "", false});
  out.insert(out.end(), w.written().begin(), w.written().end());
  return out;
}

std::string method_name(const owned_frame& f) {
  const auto m = amqp::decode_method(f.payload);
  return m ? std::string(amqp::name_of(*m)) : "undecodable";
}

std::vector<std::string> method_names(const std::vector<owned_frame>& frames) {
  std::vector<std::string> names;
  for (const auto& f : frames) {
    if (f.type == amqp::frame_type::method) names.push_back(method_name(f));
  }
  return names;
}

std::vector<std::byte> publish_bytes(std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                                     std::string_view body) {
  std::vector<std::byte> buf(4096 + body.size());
  amqp::byte_writer w{buf};
  amqp::write_method_frame(w, channel, amqp::basic_publish{0, exchange, routing_key, false, false});
  {
    amqp::frame_writer f{w, amqp::frame_type::header, channel};
    w.u16(60);
    w.u16(0);
    w.u64(body.size());
    w.u16(0);  // no properties
    f.end();
  }
  amqp::write_body_frame(w, channel, amqp::as_bytes(body));
  return {w.written().begin(), w.written().end()};
}

scripted_client::scripted_client(fake_host& host, bool loopback) : _host(host) {
  _session = std::make_unique<session::connection>(host, _transport,
                                                   engine::connection_key{engine::worker_id{0}, next_local++}, loopback);
}

void scripted_client::pump() {
  for (int rounds = 0; rounds < 100000; ++rounds) {
    std::size_t used = 0;
    if (!_transport.paused && !_unconsumed.empty()) {
      used = _session->on_data(_unconsumed);
      _unconsumed.erase(_unconsumed.begin(), _unconsumed.begin() + static_cast<std::ptrdiff_t>(used));
    }
    _host.run_until_idle({_session.get()});  // a reply may resume reading
    if (_transport.closed || _transport.aborted || _unconsumed.empty() || _transport.paused) return;
    if (used == 0) return;  // the rest is an incomplete frame
  }
}

void scripted_client::send(std::span<const std::byte> bytes) {
  _unconsumed.insert(_unconsumed.end(), bytes.begin(), bytes.end());
  pump();
}

std::vector<owned_frame> scripted_client::take_frames() {
  std::vector<std::byte> fresh(_transport.written.begin() + static_cast<std::ptrdiff_t>(_read), _transport.written.end());
  _read = _transport.written.size();
  if (fresh.size() >= 8 && fresh[0] == std::byte{'A'}) fresh.erase(fresh.begin(), fresh.begin() + 8);
  return feed_whole(fresh, 0).frames;
}

engine::queue* find_queue(fake_host& host, scripted_client& client, std::string_view name) {
  const auto found = host.topology().find_queue("/", name, client.session().key());
  return host.shard().find(std::get<engine::queue_record>(found).id);
}

}  // namespace haremq::test
