#include "perf/producer.h"

#include <poll.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "net/amqp/method_codec.h"
#include "perf/clock.h"

namespace haremq::perf {
namespace {

// Bytes of publishes per write: big enough that the system call costs little per message,
// small enough that the broker starts parsing while we encode the next batch.
constexpr std::size_t batch_bytes = 64 * 1024;
constexpr std::uint64_t idle_wait_ns = 10'000'000;

client_settings with_send_buffer(client_settings s, std::size_t message_bound) {
  s.send_buffer = std::max(s.send_buffer, 2 * message_bound + batch_bytes);
  return s;
}

std::size_t message_bound_of(const topology& topo, const producer_settings& settings, std::uint32_t frame_max) {
  const queue_route& r = topo.route_of_producer(settings.index);
  const std::size_t max_payload = amqp::max_payload(frame_max == 0 ? amqp::default_frame_max : frame_max);
  const std::size_t body_frames = settings.body_size / max_payload + 1;
  return 64 + topo.exchange().size() + r.publish_key.size()  // method frame
         + 64 + r.publish_headers.size()                     // header frame
         + settings.body_size + body_frames * amqp::frame_overhead;
}

}  // namespace

producer::producer(const client_settings& client, const topology& topo, const producer_settings& settings,
                   run_control& control)
    : _client(with_send_buffer(client, message_bound_of(topo, settings, client.frame_max))),
      _control(control),
      _settings(settings),
      _exchange(topo.exchange()),
      _routing_key(topo.route_of_producer(settings.index).publish_key),
      _body(std::max<std::size_t>(settings.body_size, 12)) {
  const queue_route& route = topo.route_of_producer(settings.index);
  if (!route.publish_headers.empty()) {
    _properties.headers = route.headers_table();
    _properties.set(amqp::property::headers);
  }
  if (settings.persistent) {
    _properties.delivery_mode = 2;
    _properties.set(amqp::property::delivery_mode);
  }
  const auto index = static_cast<std::uint32_t>(settings.index);
  std::memcpy(_body.data() + 8, &index, sizeof index);

  _message_bound = message_bound_of(topo, settings, _client.frame_max());
  _batch_max = std::max<std::size_t>(1, batch_bytes / _message_bound);
  if (settings.confirm_window > 0) {
    // Sequences from the lowest unsettled to the newest must fit the ring; with acks in
    // order that span is the window, and twice the window leaves room for stragglers.
    const std::uint64_t ring = std::bit_ceil(std::max<std::uint64_t>(1024, 4ULL * settings.confirm_window));
    _sent_at.assign(ring, 0);
    _ring_mask = ring - 1;
    (void)_client.call<amqp::confirm_select_ok>(amqp::confirm_select{false});
  }
}

producer::~producer() { join(); }

void producer::start() {
  _thread = std::thread([this] { run(); });
}

void producer::join() {
  if (_thread.joinable()) _thread.join();
}

void producer::publish_counters() noexcept {
  _sent.store(_published, std::memory_order_relaxed);
  _confirmed.store(_acked, std::memory_order_relaxed);
  _nacked.store(_nacked_total, std::memory_order_relaxed);
}

void producer::run() noexcept {
  const std::uint64_t start = now_ns();
  const bool confirms = _settings.confirm_window > 0;
  const std::uint64_t limit = _settings.message_limit;
  while (!_control.stopping()) {
    const std::uint64_t now = now_ns();
    _client.heartbeat_if_due(now);
    if (limit != 0 && _published >= limit) {
      if (!confirms || _settled == _published) break;
      if (!pump(idle_wait_ns)) return;
      publish_counters();
      continue;
    }

    std::uint64_t count = _batch_max;
    if (limit != 0) count = std::min(count, limit - _published);
    std::uint64_t wait_ns = idle_wait_ns;
    if (_settings.rate > 0) {
      // Messages due by now on a steady schedule that starts with one at `start`.
      const double elapsed_s = static_cast<double>(now - start) / static_cast<double>(ns_per_second);
      const auto due = static_cast<std::uint64_t>(elapsed_s * _settings.rate) + 1;
      count = due > _published ? std::min(count, due - _published) : 0;
      if (count == 0) {
        const double next_s = static_cast<double>(_published) / _settings.rate;
        const auto next_ns = static_cast<std::uint64_t>(next_s * static_cast<double>(ns_per_second));
        wait_ns = std::min(wait_ns, start + next_ns > now ? start + next_ns - now : 0);
      }
    }
    if (confirms) {
      const std::uint64_t outstanding = _published - _settled;
      const std::uint64_t window = _settings.confirm_window;
      count = std::min(count, outstanding < window ? window - outstanding : 0);
      const std::uint64_t span = _published + 1 - _lowest_unsettled;
      count = std::min(count, _ring_mask + 1 - span);
    }
    if (count == 0) {
      if (!pump(wait_ns)) return;
      publish_counters();
      continue;
    }

    if (encode(static_cast<std::size_t>(count), now_ns()) == 0) return;
    if (!send_all()) return;
    // Confirms, and the channel.close a refused publish causes, come back on this socket.
    if (const auto s = _client.receive(0); s == amqp_client::io_status::ok) {
      if (!handle_input()) return;
    } else if (s != amqp_client::io_status::timeout) {
      _control.fail(_client.describe(s));
      return;
    }
    publish_counters();
  }
  publish_counters();
  _done.store(true, std::memory_order_release);
}

std::size_t producer::encode(std::size_t count, std::uint64_t stamp) noexcept {
  amqp::byte_writer w = _client.writer();
  const std::size_t room = _client.send_capacity() - _client.unsent();
  count = std::min(count, std::max<std::size_t>(1, room / _message_bound));
  // One stamp per batch: the batch leaves in one write, so it is every message's send time.
  std::memcpy(_body.data(), &stamp, sizeof stamp);
  const amqp::basic_publish publish{0, _exchange, _routing_key, false, false};
  const std::uint32_t frame_max = _client.frame_max();
  for (std::size_t i = 0; i < count; ++i) {
    amqp::write_method_frame(w, amqp_client::channel, publish);
    amqp::write_content_frames(w, amqp_client::channel, _properties, _body, frame_max);
  }
  if (!w.ok()) {
    _control.fail("cannot encode a publish: " + amqp::make_error_code(w.error()).message());
    return 0;
  }
  _client.commit(w.position());
  if (_settings.confirm_window > 0) {
    for (std::size_t i = 1; i <= count; ++i) _sent_at[(_published + i) & _ring_mask] = stamp;
  }
  _published += count;
  return count;
}

bool producer::send_all() noexcept {
  for (;;) {
    const auto s = _client.send_some();
    if (s == amqp_client::io_status::ok) return true;
    if (s != amqp_client::io_status::timeout) {
      _control.fail(_client.describe(s));
      return false;
    }
    // The socket is full: the broker is behind (or applying back-pressure). Keep reading
    // its confirms and closes meanwhile.
    const short events = _client.wait(POLLIN | POLLOUT, 50'000'000);
    if ((events & POLLIN) != 0 && !pump(0)) return false;
    if (_control.stopping()) return false;
  }
}

bool producer::pump(std::uint64_t wait_ns) noexcept {
  if (wait_ns > 0 && (_client.wait(POLLIN, wait_ns) & (POLLIN | POLLHUP | POLLERR)) == 0) return true;
  const auto s = _client.receive(0);
  if (s == amqp_client::io_status::timeout) return true;
  if (s != amqp_client::io_status::ok) {
    _control.fail(_client.describe(s));
    return false;
  }
  return handle_input();
}

bool producer::handle_input() noexcept {
  const std::uint64_t now = now_ns();
  for (;;) {
    const amqp::frame_parse r = _client.next_frame();
    if (r.outcome == amqp::frame_parse::status::need_more) return true;
    if (r.outcome == amqp::frame_parse::status::error) {
      _control.fail("malformed frame from the broker: " + amqp::make_error_code(r.error).message());
      return false;
    }
    if (r.parsed.type != amqp::frame_type::method) continue;  // heartbeats; returned content
    auto m = amqp::decode_method(r.parsed.payload);
    if (!m) {
      _control.fail("undecodable method from the broker: " + m.error().message());
      return false;
    }
    if (const auto* ack = std::get_if<amqp::basic_ack>(&*m)) {
      if (!on_confirm(ack->delivery_tag, ack->multiple, true, now)) return false;
    } else if (const auto* nack = std::get_if<amqp::basic_nack>(&*m)) {
      if (!on_confirm(nack->delivery_tag, nack->multiple, false, now)) return false;
    } else if (const auto* flow = std::get_if<amqp::channel_flow>(&*m)) {
      (void)_client.enqueue(amqp::channel_flow_ok{flow->active});
    } else if (auto failure = _client.answer_close(*m)) {
      _control.fail(*failure);
      return false;
    }
  }
}

bool producer::on_confirm(std::uint64_t tag, bool multiple, bool ack, std::uint64_t now) noexcept {
  if (_settings.confirm_window == 0) {
    _control.fail("basic.ack from the broker on a channel not in confirm mode");
    return false;
  }
  if (multiple && tag == 0) tag = _published;  // "everything so far" (spec, basic.ack)
  if (tag > _published) {
    _control.fail("the broker confirmed sequence " + std::to_string(tag) + " but only " +
                  std::to_string(_published) + " were published");
    return false;
  }
  if (multiple) {
    for (std::uint64_t s = _lowest_unsettled; s <= tag; ++s) settle(s, ack, now);
  } else {
    settle(tag, ack, now);
  }
  while (_lowest_unsettled <= _published && _sent_at[_lowest_unsettled & _ring_mask] == 0) ++_lowest_unsettled;
  return true;
}

void producer::settle(std::uint64_t seq, bool ack, std::uint64_t now) noexcept {
  if (seq < _lowest_unsettled) return;  // already settled, slot maybe reused
  std::uint64_t& sent_at = _sent_at[seq & _ring_mask];
  if (sent_at == 0) return;
  _confirm_latency.record(now - sent_at);
  sent_at = 0;
  ++_settled;
  if (ack) {
    ++_acked;
  } else {
    ++_nacked_total;
  }
}

}  // namespace haremq::perf
