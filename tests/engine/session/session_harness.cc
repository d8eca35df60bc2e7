#include "tests/engine/session/session_harness.h"

#include <algorithm>

namespace haremq::test {

void fake_host::run_until_idle(const std::vector<session::connection*>& connections) {
  for (;;) {
    if (_pending.empty()) _shard.flush_receipts();
    if (_pending.empty()) return;
    engine::command c = std::move(_pending.front());
    _pending.pop_front();
    if (const engine::connection_key* to = engine::addressed_connection(c)) {
      const auto s = std::find_if(connections.begin(), connections.end(), [&](auto* x) { return x->key() == *to; });
      if (s != connections.end()) {
        (*s)->on_command(std::move(c));
      } else {
        engine::give_back(std::move(c), *this);
      }
      continue;
    }
    std::visit(
        [&](auto&& cmd) {
          if constexpr (requires { _shard.handle(std::move(cmd)); }) _shard.handle(std::move(cmd));
        },
        std::move(c));
  }
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

}  // namespace haremq::test
