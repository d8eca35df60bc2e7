#include "perf/idle_connections.h"

#include <poll.h>

#include "net/amqp/method_codec.h"
#include "perf/clock.h"

namespace haremq::perf {

idle_connections::idle_connections(const client_settings& settings, std::size_t count, run_control& control)
    : _control(control) {
  client_settings small = settings;
  small.receive_buffer = 16 * 1024;
  small.send_buffer = 16 * 1024;
  small.frame_max = amqp::frame_min_size;
  _clients.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    small.name = settings.name + "-idle-" + std::to_string(i);
    _clients.push_back(std::make_unique<amqp_client>(small));
  }
}

idle_connections::~idle_connections() { join_and_close(); }

void idle_connections::start() {
  if (!_clients.empty()) _thread = std::thread([this] { run(); });
}

void idle_connections::join_and_close() noexcept {
  if (_thread.joinable()) _thread.join();
  for (auto& c : _clients) c->close(500);
  _clients.clear();
}

void idle_connections::run() noexcept {
  std::vector<pollfd> fds(_clients.size());
  for (std::size_t i = 0; i < _clients.size(); ++i) fds[i] = pollfd{_clients[i]->fd(), POLLIN, 0};
  while (!_control.stopping()) {
    const int ready = ::poll(fds.data(), fds.size(), 200);
    const std::uint64_t now = now_ns();
    for (std::size_t i = 0; i < fds.size(); ++i) {
      amqp_client& c = *_clients[i];
      if (ready > 0 && fds[i].revents != 0) {
        const auto s = c.receive(0);
        if (s == amqp_client::io_status::closed || s == amqp_client::io_status::failed) {
          _control.fail("idle connection " + std::to_string(i) + ": " + c.describe(s));
          return;
        }
        for (;;) {
          const amqp::frame_parse r = c.next_frame();
          if (r.outcome != amqp::frame_parse::status::frame) break;
          if (r.parsed.type != amqp::frame_type::method) continue;
          auto m = amqp::decode_method(r.parsed.payload);
          if (!m) continue;
          if (auto failure = c.answer_close(*m)) {
            _control.fail("idle connection " + std::to_string(i) + ": " + *failure);
            return;
          }
        }
      }
      c.heartbeat_if_due(now);
    }
  }
}

}  // namespace haremq::perf
