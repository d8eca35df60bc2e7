#include "perf/consumer.h"

#include <algorithm>
#include <cstring>

#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"
#include "perf/clock.h"

namespace haremq::perf {
namespace {

// Larger than a stamp can be off by: bodies not written by a producer of ours (or of another
// boot) carry no send time, and are counted without a latency.
constexpr std::uint64_t plausible_latency_ns = 3600 * ns_per_second;

}  // namespace

consumer::consumer(const client_settings& client, const topology& topo, const consumer_settings& settings,
                   run_control& control)
    : _client(client),
      _control(control),
      _settings(settings),
      _queue(topo.route_of_consumer(settings.index).queue),
      _tag("haremq-perf-" + std::to_string(settings.index)) {
  if (settings.prefetch > 0) (void)_client.call<amqp::basic_qos_ok>(amqp::basic_qos{0, settings.prefetch, false});
}

consumer::~consumer() { join(); }

void consumer::start() {
  (void)_client.call<amqp::basic_consume_ok>(
      amqp::basic_consume{0, _queue, _tag, false, _settings.auto_ack, false, false, {}});
  // Deliveries that arrived with the consume-ok stay in the receive buffer for run().
  _thread = std::thread([this] { run(); });
}

void consumer::join() {
  if (_thread.joinable()) _thread.join();
}

void consumer::take_latencies(histogram& into) noexcept {
  const std::lock_guard lock{_latency_mutex};
  into.add(_latencies);
  _latencies.reset();
}

void consumer::run() noexcept {
  bool parse_first = true;  // the consume-ok may have brought deliveries along
  while (!_control.stopping()) {
    auto s = parse_first ? amqp_client::io_status::ok : _client.receive(100);
    parse_first = false;
    if (s == amqp_client::io_status::closed || s == amqp_client::io_status::failed) {
      _control.fail(_client.describe(s));
      return;
    }
    const std::uint64_t now = now_ns();
    if (s == amqp_client::io_status::ok) {
      const std::lock_guard lock{_latency_mutex};
      if (!handle_input(now)) return;
    }
    _client.heartbeat_if_due(now);
    while (_client.unsent() > 0 && !_control.stopping()) {
      s = _client.flush(100);
      if (s == amqp_client::io_status::closed || s == amqp_client::io_status::failed) {
        _control.fail(_client.describe(s));
        return;
      }
    }
    _received_count.store(_received, std::memory_order_relaxed);
  }
  _received_count.store(_received, std::memory_order_relaxed);
}

bool consumer::handle_input(std::uint64_t now) noexcept {
  for (;;) {
    const amqp::frame_parse r = _client.next_frame();
    if (r.outcome == amqp::frame_parse::status::need_more) return true;
    if (r.outcome == amqp::frame_parse::status::error) {
      _control.fail("malformed frame from the broker: " + amqp::make_error_code(r.error).message());
      return false;
    }
    const amqp::bytes_view payload = r.parsed.payload;
    switch (r.parsed.type) {
      case amqp::frame_type::method: {
        auto m = amqp::decode_method(payload);
        if (!m) {
          _control.fail("undecodable method from the broker: " + m.error().message());
          return false;
        }
        if (const auto* d = std::get_if<amqp::basic_deliver>(&*m)) {
          _delivery_tag = d->delivery_tag;
          _expect = content::header;
        } else if (const auto* cancel = std::get_if<amqp::basic_cancel>(&*m)) {
          _control.fail("the broker cancelled consumer '" + std::string(cancel->consumer_tag) + "' on queue '" +
                        _queue + "' (queue deleted?)");
          return false;
        } else if (const auto* flow = std::get_if<amqp::channel_flow>(&*m)) {
          (void)_client.enqueue(amqp::channel_flow_ok{flow->active});
        } else if (auto failure = _client.answer_close(*m)) {
          _control.fail(*failure);
          return false;
        }
        break;
      }
      case amqp::frame_type::header: {
        if (_expect != content::header) break;
        auto h = amqp::decode_content_header(payload);
        if (!h) {
          _control.fail("undecodable content header from the broker: " + h.error().message());
          return false;
        }
        _body_left = h->body_size;
        _first_body = true;
        _expect = content::body;
        if (_body_left == 0 && !message_done()) return false;
        break;
      }
      case amqp::frame_type::body: {
        if (_expect != content::body) break;
        if (_first_body && payload.size() >= sizeof(std::uint64_t)) {
          std::uint64_t stamp = 0;
          std::memcpy(&stamp, payload.data(), sizeof stamp);
          if (stamp <= now && now - stamp < plausible_latency_ns) _latencies.record(now - stamp);
        }
        _first_body = false;
        _body_left -= std::min<std::uint64_t>(_body_left, payload.size());
        if (_body_left == 0 && !message_done()) return false;
        break;
      }
      case amqp::frame_type::heartbeat:
        break;
    }
  }
}

bool consumer::message_done() noexcept {
  _expect = content::none;
  ++_received;
  if (_settings.auto_ack) return true;
  if (_settings.multi_ack_every == 0) return ack(_delivery_tag, false);
  if (++_unacked < _settings.multi_ack_every) return true;
  _unacked = 0;
  return ack(_delivery_tag, true);
}

bool consumer::ack(std::uint64_t tag, bool multiple) noexcept {
  if (_client.enqueue(amqp::basic_ack{tag, multiple})) return true;
  // The send buffer is full of acks: send them now and retry.
  const auto s = _client.flush(1000);
  if (s != amqp_client::io_status::ok || !_client.enqueue(amqp::basic_ack{tag, multiple})) {
    _control.fail(_client.describe(s));
    return false;
  }
  return true;
}

}  // namespace haremq::perf
