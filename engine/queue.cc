#include "engine/queue.h"

#include <algorithm>

namespace haremq::engine {

bool queue::enqueue(message_ref msg) {
  const std::uint64_t seq = _next_seq++;
  _stats.on_publish();
  store::disk_location stored;
  if (_store != nullptr && msg->persistent()) stored = _store->append_publish(_store_ref, seq, *msg);
  _ready.push_back(ready_entry{std::move(msg), seq, stored, false});
  return static_cast<bool>(stored);
}

void queue::attach_store(store::message_store& s) {
  _store = &s;
  _store_ref = s.attach_queue(_settings.vhost, _settings.name, _settings.incarnation);
}

void queue::restore(const store::publish_fields& f, bool delivered) {
  const store::disk_location stored = _store->append_publish(_store_ref, f);
  message_ref msg;
  if (_ready.size() < resident_messages) msg = store::to_message(f);
  _ready.push_back(ready_entry{std::move(msg), f.seq, stored, delivered});
  _next_seq = std::max(_next_seq, f.seq + 1);
  _paged_through = std::max(_paged_through, f.seq);
}

void queue::release_stored() noexcept {
  if (_store == nullptr) return;
  for (const auto& e : _ready) {
    if (e.stored) _store->release(e.stored);
  }
  for (const auto& e : _unacked) {
    if (e.msg && e.stored) _store->release(e.stored);
  }
  _store->detach_queue(_store_ref);
  _store = nullptr;
}

bool queue::page_out() {
  if (_store == nullptr) return false;
  std::uint64_t newest_written = 0;
  bool unwritten = false;
  for (std::size_t i = _ready.size(); i-- > resident_messages;) {
    ready_entry& e = _ready[i];
    if (e.seq() <= _paged_through) break;
    // Transient ones stay; the newest stored ones may still be on their way to the file:
    // they are looked at next time.
    if (!e.stored) continue;
    if (!_store->is_written(e.stored)) {
      unwritten = true;
      continue;
    }
    if (newest_written == 0) newest_written = e.seq();
    e.msg.reset();
  }
  if (newest_written != 0) _paged_through = newest_written;
  return unwritten;
}

void queue::seq_run::add(queue& q, std::uint64_t seq) {
  if (_count > 0 && seq == _first + _count) {
    ++_count;
  } else if (_count > 0 && seq + 1 == _first) {
    --_first;
    ++_count;
  } else {
    flush(q);
    _first = seq;
    _count = 1;
  }
}

void queue::seq_run::flush(queue& q) {
  if (_count == 0) return;
  q._store->append_range(_type, q._store_ref, _first, _count);
  _count = 0;
}

void queue::forget_stored(std::uint64_t seq, store::disk_location loc, seq_run& acks) {
  acks.add(*this, seq);
  _store->release(loc);
}

void queue::forget_stored(std::uint64_t seq, store::disk_location loc) {
  seq_run acks(store::record_type::ack);
  forget_stored(seq, loc, acks);
  acks.flush(*this);
}

bool queue::load(ready_entry& e) {
  if (e.msg) return true;
  e.msg = _store->read(e.stored);
  if (e.msg) return true;
  // Unreadable (logged by the store): dropped for good rather than retried forever.
  forget_stored(e.seq(), e.stored);
  return false;
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
  if (_ready.empty() || e.seq() < _ready.front().seq()) {
    _ready.push_front(std::move(e));
    return;
  }
  const auto at = std::lower_bound(_ready.begin(), _ready.end(), e.seq(),
                                   [](const ready_entry& r, std::uint64_t seq) { return r.seq() < seq; });
  _ready.insert(at, std::move(e));
}

void queue::take_back(unacked_entry& e, bool requeue_it, seq_run& acks) {
  if (consumer* c = find_consumer(e.consumer); c != nullptr && c->unacked > 0) --c->unacked;
  --_unacked_live;
  if (requeue_it) {
    requeue(ready_entry{std::move(e.msg), e.seq, e.stored, true});
  } else {
    if (e.stored) forget_stored(e.seq, e.stored, acks);
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
  seq_run acks(store::record_type::ack);
  dseqs.for_each_newest_first([&](std::uint64_t dseq) {
    unacked_entry* e = find_unacked(dseq);
    if (e == nullptr) return;  // already settled (e.g. the channel went first)
    if (action == settle_action::ack && e->msg) _stats.on_ack(*e->msg);
    take_back(*e, action == settle_action::requeue, acks);
  });
  if (_store != nullptr) acks.flush(*this);
  trim_settled();
}

void queue::channel_gone(connection_key connection, std::uint16_t channel) {
  auto gone = [&](consumer_address a) { return a.connection == connection && (channel == 0 || a.channel == channel); };
  seq_run unused(store::record_type::ack);  // requeued: nothing is acked
  for (auto it = _unacked.rbegin(); it != _unacked.rend(); ++it) {  // newest first, as in settle()
    if (it->msg && gone(it->consumer)) take_back(*it, true, unused);
  }
  trim_settled();
  for (std::size_t i = _consumers.size(); i-- > 0;) {
    if (gone(_consumers[i].address)) remove_consumer(_consumers[i].address);
  }
}

bool queue::front_ready() {
  if (_ready.empty()) return false;
  if (_ready.front().msg) [[likely]] return true;  // in memory: the usual case
  while (!_ready.empty() && !load(_ready.front())) _ready.pop_front();
  return !_ready.empty();
}

get_result queue::get(reply_to to, bool no_ack) {
  get_result r;
  r.queue = _id;
  if (!front_ready()) return r;
  ready_entry e = std::move(_ready.front());
  _ready.pop_front();
  r.redelivered = e.redelivered();
  r.remaining = static_cast<std::uint32_t>(_ready.size());
  if (e.msg) _stats.on_delivery(*e.msg, r.redelivered, no_ack, true);
  if (no_ack) {
    if (e.stored) forget_stored(e.seq(), e.stored);
    r.msg = std::move(e.msg);
    return r;
  }
  r.msg = e.msg.share();
  r.dseq = _unacked_base + _unacked.size();
  _unacked.push_back(unacked_entry{std::move(e.msg), e.seq(), e.stored, consumer_address{to.connection, to.channel, 0}});
  ++_unacked_live;
  return r;
}

std::uint32_t queue::purge() {
  const auto n = static_cast<std::uint32_t>(_ready.size());
  if (_store != nullptr) {
    seq_run acks(store::record_type::ack);
    for (const auto& e : _ready) {
      if (e.stored) forget_stored(e.seq(), e.stored, acks);
    }
    acks.flush(*this);
  }
  _ready.clear();
  return n;
}

void queue::dispatch(delivery_sink& sink) {
  seq_run acks(store::record_type::ack);
  while (!_consumers.empty() && front_ready()) {
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
    if (chosen == nullptr) break;

    ready_entry e = std::move(_ready.front());
    _ready.pop_front();
    --chosen->window;
    chosen->window_bytes -= static_cast<std::int64_t>(e.msg->body_size());
    deliver_cmd d;
    d.consumer = chosen->address;
    d.queue = _id;
    d.redelivered = e.redelivered();
    if (chosen->no_ack) {
      if (e.stored) forget_stored(e.seq(), e.stored, acks);
      d.msg = std::move(e.msg);
    } else {
      d.dseq = _unacked_base + _unacked.size();
      d.msg = e.msg.share();
      _unacked.push_back(unacked_entry{std::move(e.msg), e.seq(), e.stored, chosen->address});
      ++_unacked_live;
      ++chosen->unacked;
      if (chosen->channel_credit != UINT32_MAX) --chosen->channel_credit;
    }
    _stats.on_delivery(*d.msg, d.redelivered, chosen->no_ack, false);
    sink.deliver(std::move(d));
  }
  if (_store != nullptr) acks.flush(*this);
}

void queue::log_deliveries() {
  if (_store == nullptr) return;
  seq_run delivered(store::record_type::delivered);
  for (const auto& e : _ready) {
    if (e.stored && e.redelivered()) delivered.add(*this, e.seq());
  }
  for (const auto& e : _unacked) {
    if (e.msg && e.stored) delivered.add(*this, e.seq);
  }
  delivered.flush(*this);
}

}  // namespace haremq::engine
