#include "engine/queue.h"

#include <algorithm>

namespace haremq::engine {

void queue::enqueue(message_ref msg) {
  _ready.push_back(ready_entry{std::move(msg), _next_seq++, false});
}

std::optional<reply_error> queue::add_consumer(const consume_cmd& c) {
  const bool exclusive_taken = std::any_of(_consumers.begin(), _consumers.end(), [](const consumer& k) { return k.exclusive; });
  if (exclusive_taken || (c.exclusive && !_consumers.empty())) {
    return reply_error{amqp::reply_code::access_refused,
                       "ACCESS_REFUSED - queue '" + _settings.name + "' in vhost '" + _settings.vhost + "' in exclusive use"};
  }
  consumer k;
  k.address = c.consumer;
  k.tag = c.tag;
  k.prefetch = c.prefetch;
  k.channel_credit = c.channel_credit;
  k.no_ack = c.no_ack;
  k.exclusive = c.exclusive;
  _consumers.push_back(std::move(k));
  _ever_consumed = true;
  return std::nullopt;
}

queue::consumer* queue::find_consumer(consumer_address a) noexcept {
  for (auto& c : _consumers) {
    if (c.address == a) return &c;
  }
  return nullptr;
}

void queue::set_channel_credit(consumer_address address, std::uint32_t credit) {
  if (consumer* c = find_consumer(address)) c->channel_credit = credit;
}

void queue::reopen_window(consumer_address address, std::uint32_t written, std::uint64_t bytes) {
  consumer* c = find_consumer(address);
  if (c == nullptr) return;
  c->window = std::min(delivery_window, c->window + written);
  c->window_bytes = std::min(static_cast<std::int64_t>(delivery_window_bytes),
                             c->window_bytes + static_cast<std::int64_t>(bytes));
}

void queue::remove_consumer(consumer_address address) {
  const auto it = std::find_if(_consumers.begin(), _consumers.end(), [&](const consumer& c) { return c.address == address; });
  if (it == _consumers.end()) return;
  const auto index = static_cast<std::size_t>(it - _consumers.begin());
  _consumers.erase(it);
  if (_cursor > index) --_cursor;
  if (_cursor >= _consumers.size()) _cursor = 0;
}

queue::unacked_entry* queue::find_unacked(std::uint64_t dseq) noexcept {
  if (dseq < _unacked_base || dseq - _unacked_base >= _unacked.size()) return nullptr;
  auto& e = _unacked[static_cast<std::size_t>(dseq - _unacked_base)];
  return e.msg ? &e : nullptr;
}

void queue::requeue(ready_entry&& e) {
  // Back to its place in publish order: usually the front, as it is older than every ready
  // one (callers requeue newest first, so a batch is a run of pushes to the front).
  if (_ready.empty() || e.seq < _ready.front().seq) {
    _ready.push_front(std::move(e));
    return;
  }
  const auto at = std::lower_bound(_ready.begin(), _ready.end(), e.seq,
                                   [](const ready_entry& r, std::uint64_t seq) { return r.seq < seq; });
  _ready.insert(at, std::move(e));
}

void queue::take_back(unacked_entry& e, bool requeue_it) {
  if (consumer* c = find_consumer(e.consumer); c != nullptr && c->unacked > 0) --c->unacked;
  --_unacked_live;
  if (requeue_it) {
    requeue(ready_entry{std::move(e.msg), e.seq, true});
  } else {
    e.msg.reset();
  }
}

void queue::trim_settled() noexcept {
  while (!_unacked.empty() && !_unacked.front().msg) {
    _unacked.pop_front();
    ++_unacked_base;
  }
}

void queue::settle(settle_action action, const delivery_ranges& dseqs) {
  // Newest first: requeued messages then each go to the front of the ready ones.
  dseqs.for_each_newest_first([&](std::uint64_t dseq) {
    unacked_entry* e = find_unacked(dseq);
    if (e == nullptr) return;  // already settled (e.g. the channel went first)
    take_back(*e, action == settle_action::requeue);
  });
  trim_settled();
}

void queue::channel_gone(connection_key connection, std::uint16_t channel) {
  auto gone = [&](consumer_address a) { return a.connection == connection && (channel == 0 || a.channel == channel); };
  for (auto it = _unacked.rbegin(); it != _unacked.rend(); ++it) {  // newest first, as in settle()
    if (it->msg && gone(it->consumer)) take_back(*it, true);
  }
  trim_settled();
  for (std::size_t i = _consumers.size(); i-- > 0;) {
    if (gone(_consumers[i].address)) remove_consumer(_consumers[i].address);
  }
}

get_result queue::get(reply_to to, bool no_ack) {
  get_result r;
  r.queue = _id;
  if (_ready.empty()) return r;
  ready_entry e = std::move(_ready.front());
  _ready.pop_front();
  r.redelivered = e.redelivered;
  r.remaining = static_cast<std::uint32_t>(_ready.size());
  if (no_ack) {
    r.msg = std::move(e.msg);
    return r;
  }
  r.msg = e.msg.share();
  r.dseq = _unacked_base + _unacked.size();
  _unacked.push_back(unacked_entry{std::move(e.msg), e.seq, consumer_address{to.connection, to.channel, 0}});
  ++_unacked_live;
  return r;
}

std::uint32_t queue::purge() {
  const auto n = static_cast<std::uint32_t>(_ready.size());
  _ready.clear();
  return n;
}

void queue::dispatch(delivery_sink& sink) {
  while (!_ready.empty() && !_consumers.empty()) {
    // Round-robin: the first consumer with credit from the cursor on.
    consumer* chosen = nullptr;
    const std::size_t n = _consumers.size();
    for (std::size_t i = 0; i < n; ++i) {
      consumer& c = _consumers[(_cursor + i) % n];
      if (c.has_credit()) {
        chosen = &c;
        _cursor = (_cursor + i + 1) % n;
        break;
      }
    }
    if (chosen == nullptr) return;

    ready_entry e = std::move(_ready.front());
    _ready.pop_front();
    --chosen->window;
    chosen->window_bytes -= static_cast<std::int64_t>(e.msg->body_size());
    deliver_cmd d;
    d.consumer = chosen->address;
    d.queue = _id;
    d.redelivered = e.redelivered;
    if (chosen->no_ack) {
      d.msg = std::move(e.msg);
    } else {
      d.dseq = _unacked_base + _unacked.size();
      d.msg = e.msg.share();
      _unacked.push_back(unacked_entry{std::move(e.msg), e.seq, chosen->address});
      ++_unacked_live;
      ++chosen->unacked;
      if (chosen->channel_credit != UINT32_MAX) --chosen->channel_credit;
    }
    sink.deliver(std::move(d));
  }
}

}  // namespace haremq::engine
