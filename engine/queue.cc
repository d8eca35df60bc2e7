#include "engine/queue.h"

#include <algorithm>

namespace haremq::engine {

queue::queue(queue_id id, queue_settings settings) : _id(id), _settings(std::move(settings)) {
  _lanes.resize(std::size_t{_settings.limits.max_priority} + 1);
  _ttl_epochs.emplace_back(1, _settings.limits.message_ttl_ms.value_or(-1));
  _last_used = turn_clock::now();
  update_timed();
}

std::string_view queue::death_reason_name(death_reason r) noexcept {
  switch (r) {
    case death_reason::rejected: return "rejected";
    case death_reason::expired: return "expired";
    case death_reason::maxlen: return "maxlen";
    case death_reason::delivery_limit: return "delivery_limit";
  }
  return "rejected";
}

void queue::update_timed() noexcept {
  const auto& l = _settings.limits;
  _timed = had_queue_ttl() || l.expires_ms || l.consumer_timeout_ms || !_expiries.empty();
  _plain = !l.message_ttl_ms && !l.bounded() && l.max_priority == 0;
}

void queue::set_limits(queue_limits limits, std::string policy, delivery_sink& sink) {
  // The priority lanes are fixed at declaration (x-max-priority is not a policy key).
  limits.max_priority = _settings.limits.max_priority;
  limits.single_active_consumer = _settings.limits.single_active_consumer;
  if (const std::int64_t ttl = limits.message_ttl_ms.value_or(-1); ttl != _ttl_epochs.back().second) {
    if (_ttl_epochs.back().first == _next_seq) {
      _ttl_epochs.back().second = ttl;
    } else {
      _ttl_epochs.emplace_back(_next_seq, ttl);
    }
  }
  _settings.limits = std::move(limits);
  _settings.policy = std::move(policy);
  update_timed();
  if (_settings.limits.overflow == overflow_mode::drop_head) drop_over_limit(sink);
  expire(turn_clock::now(), sink);
}

std::int64_t queue::deadline_of(const message& m, std::uint64_t seq) const noexcept {
  return deadline_of(m.ttl_ms(), m.published_at(), seq);
}

std::int64_t queue::deadline_of(std::int64_t own_ttl_ms, std::int64_t published_at, std::uint64_t seq) const noexcept {
  std::int64_t ttl = own_ttl_ms;
  auto epoch = _ttl_epochs.rbegin();
  while (epoch + 1 != _ttl_epochs.rend() && epoch->first > seq) ++epoch;
  if (const std::int64_t q = epoch->second; q >= 0 && (ttl < 0 || q < ttl)) ttl = q;
  if (ttl < 0) return INT64_MAX;
  return published_at + ttl * 1'000'000;
}

bool queue::over_limit(std::uint64_t more_messages, std::uint64_t more_bytes) const noexcept {
  const auto& l = _settings.limits;
  return (l.max_length && _ready_count + more_messages > *l.max_length) ||
         (l.max_length_bytes && _ready_bytes + more_bytes > *l.max_length_bytes);
}

bool queue::full() const noexcept {
  const auto& l = _settings.limits;
  return (l.max_length && _ready_count >= *l.max_length) || (l.max_length_bytes && _ready_bytes >= *l.max_length_bytes);
}

store::disk_location queue::store_publish(std::uint64_t seq, const message& msg) {
  return _store->append_publish(_store_ref, seq, msg, msg.ttl_ms() >= 0 || _ttl_epochs.back().second >= 0);
}

queue::enqueue_result queue::enqueue(message_ref msg, delivery_sink& sink) {
  // No limits, priorities or TTL (the usual queue): numbered, logged, delivered.
  if (!_plain || msg->ttl_ms() >= 0) [[unlikely]] return enqueue_with_limits(std::move(msg), sink);
  enqueue_result r;
  store::disk_location where;
  const std::uint64_t seq = admit(*msg, where, r);
  // Nothing waiting (the usual queue with consumers keeping up): straight to a consumer.
  if (_ready_count == 0 && !_consumers.empty()) {
    if (consumer* c = next_consumer()) {
      seq_run acks(store::record_type::ack);
      hand_over(*c, std::move(msg), position{seq, false}, where, sink, acks);
      acks.flush(*this);
      return r;
    }
  }
  const std::uint64_t size = msg->body_size();
  push_ready(ready_entry{std::move(msg), position{seq, false}, where}, size, 0);
  dispatch(sink);
  return r;
}

queue::enqueue_result queue::enqueue_with_limits(message_ref msg, delivery_sink& sink) {
  enqueue_result r;
  const auto& limits = _settings.limits;
  if (limits.bounded() &&
      (limits.overflow == overflow_mode::reject_publish || limits.overflow == overflow_mode::reject_publish_dlx) &&
      over_limit(1, msg->body_size())) {
    // RabbitMQ refuses what would go over, even when a consumer could take it at once.
    r.set_rejected();
    if (limits.overflow == overflow_mode::reject_publish_dlx) dead_letter(std::move(msg), death_reason::maxlen, sink);
    return r;
  }
  store::disk_location where;
  const std::uint64_t seq = admit(*msg, where, r);
  const std::uint8_t l = lane_of(*msg);
  if (msg->ttl_ms() >= 0 || (_ttl_epochs.size() > 1 && _ttl_epochs.back().second >= 0)) {
    if (_expiries.size() > 2 * _ready_count + 4096) prune_expiries();
    schedule_expiry(deadline_of(*msg, seq), seq, l);
  }
  const std::uint64_t size = msg->body_size();
  // Its publisher's clock may be a turn ahead of this worker's: TTL 0 must still mean "now".
  const std::int64_t now = std::max(turn_clock::now(), msg->published_at());
  push_ready(ready_entry{std::move(msg), position{seq, false}, where}, size, l);
  dispatch(sink);
  if (_timed) expire(now, sink);  // TTL 0: what no consumer took goes now
  if (limits.bounded()) {
    if (limits.overflow == overflow_mode::drop_head) drop_over_limit(sink);
    r.set_full(limits.overflow == overflow_mode::block_publishers && full());
  }
  return r;
}

void queue::schedule_expiry(std::int64_t deadline, std::uint64_t seq, std::uint8_t l) {
  _expiries.push_back(expiry{deadline, seq, l});
  std::push_heap(_expiries.begin(), _expiries.end(), std::greater<>{});
  _timed = true;
}

void queue::attach_store(store::message_store& s) {
  _store = &s;
  _store_ref = s.attach_queue(_settings.vhost, _settings.name, _settings.incarnation);
}

void queue::restore(const store::publish_fields& f, bool delivered) {
  const store::disk_location stored = _store->append_publish(_store_ref, f);
  message_ref msg;
  // A priority queue needs the message to know its lane; page_out() lets lane 0 go later.
  if (_lanes[0].size() < resident_messages || _lanes.size() > 1) msg = store::to_message(f);
  const std::uint8_t l = msg ? lane_of(*msg) : 0;
  // Its own TTL counts from when it was first published, in memory or not.
  if (const std::int64_t ttl = msg ? msg->ttl_ms() : store::own_ttl_ms(f); ttl >= 0) {
    const std::int64_t published_at = msg ? msg->published_at() : store::published_at(f);
    schedule_expiry(deadline_of(ttl, published_at, f.seq), f.seq, l);
  }
  push_ready(ready_entry{std::move(msg), position{f.seq, delivered}, stored}, f.body.size(), l);
  _next_seq = std::max(_next_seq, f.seq + 1);
  _paged_through = std::max(_paged_through, f.seq);
}

void queue::release_stored() noexcept {
  if (_store == nullptr) return;
  for (const auto& l : _lanes) {
    for (const auto& e : l) {
      if (e.stored) _store->release(e.stored);
    }
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
  lane& ready = _lanes[0];  // the lowest priority: served last
  for (std::size_t i = ready.size(); i-- > resident_messages;) {
    ready_entry& e = ready[i];
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
  if (q._store == nullptr) return;
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

void queue::seq_run::log(queue& q) {
  if (q._store == nullptr) return;
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
  e.stored = {};
  return false;
}

std::optional<reply_error> queue::add_consumer(const consume_cmd& c) {
  const bool exclusive_taken = std::any_of(_consumers.begin(), _consumers.end(), [](const consumer& k) { return k.exclusive; });
  // RabbitMQ refuses an exclusive consumer on a single-active-consumer queue, even an idle one.
  if (exclusive_taken || (c.exclusive && (!_consumers.empty() || _settings.limits.single_active_consumer))) {
    return reply_error{amqp::reply_code::access_refused,
                       "ACCESS_REFUSED - queue '" + _settings.name + "' in vhost '" + _settings.vhost + "' in exclusive use"};
  }
  consumer k;
  k.address = c.consumer;
  k.tag = c.tag;
  k.priority = c.priority;
  k.prefetch = c.prefetch;
  k.channel_credit = c.channel_credit;
  k.no_ack = c.no_ack;
  k.exclusive = c.exclusive;
  // After those of the same or a higher priority: arrival order within a priority.
  const auto at = std::find_if(_consumers.begin(), _consumers.end(), [&](const consumer& o) { return o.priority < c.priority; });
  const auto index = static_cast<std::size_t>(at - _consumers.begin());
  _consumers.insert(at, std::move(k));
  if (index < _cursor) ++_cursor;
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
  if (_consumers.empty()) touch();  // x-expires counts from when the last consumer left
}

void queue::touch() noexcept { _last_used = turn_clock::now(); }

bool queue::departed_unacked() const noexcept {
  // basic.get's deliveries do not hold the queue back.
  std::uint64_t held = _got_live;
  for (const auto& c : _consumers) held += c.unacked;
  return held < _unacked_live;
}

queue::unacked_entry* queue::find_unacked(std::uint64_t dseq) noexcept {
  if (dseq < _unacked_base || dseq - _unacked_base >= _unacked.size()) return nullptr;
  auto& e = _unacked[static_cast<std::size_t>(dseq - _unacked_base)];
  return e.msg ? &e : nullptr;
}

void queue::requeue(ready_entry&& e) {
  // Requeued from the unacked ones: always in memory.
  const std::uint8_t l = lane_of(*e.msg);
  ++_ready_count;
  _ready_bytes += e.msg->body_size();
  lane& ready = _lanes[l];
  // Back to its place in publish order: usually the front, as it is older than every ready
  // one (callers requeue newest first, so a batch is a run of pushes to the front).
  if (ready.empty() || e.seq() < ready.front().seq()) {
    ready.push_front(std::move(e));
    return;
  }
  ready.insert(seek(ready, e.seq()), std::move(e));
}

void queue::take_back(unacked_entry& e, bool requeue_it, seq_run& acks, delivery_sink& sink) {
  if (e.consumer.consumer == 0) {
    --_got_live;
  } else if (consumer* c = find_consumer(e.consumer); c != nullptr && c->unacked > 0) {
    --c->unacked;
  }
  --_unacked_live;
  if (!requeue_it) {
    if (e.stored) forget_stored(e.seq(), e.stored, acks);
    e.msg.reset();
    return;
  }
  const position back = e.at.returned();
  if (const auto& limit = _settings.limits.delivery_limit; limit && back.returns() > *limit) {
    // Poison-message protection: it came back once too often.
    if (e.stored) forget_stored(e.seq(), e.stored, acks);
    dead_letter(std::move(e.msg), death_reason::delivery_limit, sink);
    return;
  }
  // Its expiry may have passed while it was out: the heap takes it again.
  if (e.msg->ttl_ms() >= 0) schedule_expiry(deadline_of(*e.msg, e.seq()), e.seq(), lane_of(*e.msg));
  requeue(ready_entry{std::move(e.msg), back, e.stored});
}

void queue::trim_settled() noexcept {
  while (!_unacked.empty() && !_unacked.front().msg) {
    _unacked.pop_front();
    ++_unacked_base;
  }
}

void queue::settle(settle_action action, const delivery_ranges& dseqs, delivery_sink& sink) {
  // Newest first: requeued messages then each go to the front of the ready ones.
  seq_run acks(store::record_type::ack);
  const bool dead_letters = action == settle_action::drop && _settings.limits.dead_letter_exchange;
  dseqs.for_each_newest_first([&](std::uint64_t dseq) {
    unacked_entry* e = find_unacked(dseq);
    if (e == nullptr) return;  // already settled (e.g. the channel went first)
    if (action == settle_action::ack && e->msg) _stats.on_ack(*e->msg);
    if (dead_letters) {
      // Rejected without requeue: to the dead-letter exchange (oldest first, as RabbitMQ sends them).
      message_ref m = e->msg.share();
      take_back(*e, false, acks, sink);
      _dead_letter_scratch.push_back(std::move(m));
      return;
    }
    take_back(*e, action == settle_action::requeue, acks, sink);
  });
  acks.flush(*this);
  trim_settled();
  for (auto it = _dead_letter_scratch.rbegin(); it != _dead_letter_scratch.rend(); ++it) {
    dead_letter(std::move(*it), death_reason::rejected, sink);
  }
  _dead_letter_scratch.clear();
  if (action == settle_action::requeue) after_requeue(sink);
}

void queue::channel_gone(connection_key connection, std::uint16_t channel, delivery_sink& sink) {
  auto gone = [&](consumer_address a) { return a.connection == connection && (channel == 0 || a.channel == channel); };
  requeue_unacked(gone, sink);
  for (std::size_t i = _consumers.size(); i-- > 0;) {
    if (gone(_consumers[i].address)) remove_consumer(_consumers[i].address);
  }
  after_requeue(sink);
}

template <class Match>
void queue::requeue_unacked(Match&& match, delivery_sink& sink) {
  seq_run acks(store::record_type::ack);  // only what reached its delivery limit is acked
  for (auto it = _unacked.rbegin(); it != _unacked.rend(); ++it) {  // newest first, as in settle()
    if (it->msg && match(it->consumer)) take_back(*it, true, acks, sink);
  }
  acks.flush(*this);
  trim_settled();
}

void queue::after_requeue(delivery_sink& sink) {
  if (_timed) expire(turn_clock::now(), sink);  // requeued ones whose time is up
  // A requeue onto a full drop-head queue pushes the head out, as RabbitMQ does.
  if (_settings.limits.bounded() && _settings.limits.overflow == overflow_mode::drop_head) drop_over_limit(sink);
}

queue::lane* queue::next_lane_slow() {
  for (std::size_t i = _lanes.size(); i-- > 0;) {
    if (front_in_memory(_lanes[i])) return &_lanes[i];
  }
  return nullptr;
}

bool queue::front_in_memory(lane& l) {
  while (!l.empty()) {
    ready_entry& front = l.front();
    if (front.msg) [[likely]] return true;
    if (front.tombstone()) {
      --_tombstones;
      l.pop_front();
      continue;
    }
    if (load(front)) return true;
    count_out(0);  // unreadable: dropped, its size unknown (the count is right again once empty)
    if (_ready_count == 0) _ready_bytes = 0;
    l.pop_front();
  }
  return false;
}

void queue::dead_letter(message_ref msg, death_reason reason, delivery_sink& sink) {
  if (!msg || !_settings.limits.dead_letter_exchange) return;
  sink.dead_letter(*this, std::move(msg), reason);
}

void queue::discard(ready_entry&& e, death_reason reason, delivery_sink& sink, seq_run& acks) {
  if (e.stored) {
    // A paged-out message is read back only if it has somewhere to go.
    if (!e.msg && _settings.limits.dead_letter_exchange) e.msg = _store->read(e.stored);
    forget_stored(e.seq(), e.stored, acks);
  }
  dead_letter(std::move(e.msg), reason, sink);
}

void queue::drop_over_limit(delivery_sink& sink) {
  seq_run acks(store::record_type::ack);
  while (over_limit(0, 0)) {
    lane* l = next_lane();
    if (l == nullptr) break;
    discard(pop_ready(*l), death_reason::maxlen, sink, acks);
  }
  acks.flush(*this);
}

void queue::expire_at(std::uint8_t l, std::uint64_t seq, delivery_sink& sink, seq_run& acks) {
  lane& ready = _lanes[l];
  const auto it = seek(ready, seq);
  if (it == ready.end() || it->seq() != seq || it->tombstone()) return;  // delivered, or gone already
  if (it == ready.begin()) {
    discard(pop_ready(ready), death_reason::expired, sink, acks);
    return;
  }
  ready_entry e{std::move(it->msg), it->at, it->stored};
  it->stored = {};  // now a tombstone
  count_out(body_size(e));
  ++_tombstones;
  discard(std::move(e), death_reason::expired, sink, acks);
}

void queue::expire(std::int64_t now, delivery_sink& sink) {
  // Bounded per call, so that a million messages expiring at once are spread over the
  // worker's turns instead of stalling its sockets; next_deadline() says "now" meanwhile.
  constexpr std::size_t most_per_call = 4096;
  std::size_t done = 0;
  seq_run acks(store::record_type::ack);
  // The queue's TTL: messages expire in publish order, so only the heads are looked at.
  if (had_queue_ttl()) {
    for (std::size_t i = _lanes.size(); i-- > 0 && done < most_per_call;) {
      lane& l = _lanes[i];
      while (done < most_per_call && front_in_memory(l) && deadline_of(*l.front().msg, l.front().seq()) <= now) {
        discard(pop_ready(l), death_reason::expired, sink, acks);
        ++done;
      }
    }
  }
  // Messages with their own TTL, wherever they are in the queue.
  while (!_expiries.empty() && _expiries.front().deadline <= now && done < most_per_call) {
    const expiry x = _expiries.front();
    std::pop_heap(_expiries.begin(), _expiries.end(), std::greater<>{});
    _expiries.pop_back();
    expire_at(x.lane, x.seq, sink, acks);
    ++done;
  }
  acks.flush(*this);
  if (_tombstones > 4096 && _tombstones > _ready_count) compact_tombstones();
  update_timed();
}

bool queue::is_ready(std::uint8_t l, std::uint64_t seq) noexcept {
  lane& ready = _lanes[l];
  const auto it = seek(ready, seq);
  return it != ready.end() && it->seq() == seq && !it->tombstone();
}

void queue::prune_expiries() {
  // Deadlines of messages consumed long before their time: the heap would otherwise hold one
  // per message published within a TTL. Amortized: the heap at least doubled since the last.
  std::erase_if(_expiries, [&](const expiry& x) { return !is_ready(x.lane, x.seq); });
  std::make_heap(_expiries.begin(), _expiries.end(), std::greater<>{});
}

void queue::compact_tombstones() {
  for (auto& l : _lanes) {
    std::erase_if(l, [](const ready_entry& e) { return e.tombstone(); });
  }
  _tombstones = 0;
}

std::int64_t queue::consumer_timeout_ns() const noexcept {
  const std::int64_t ms = _settings.limits.consumer_timeout_ms.value_or(_default_consumer_timeout_ms);
  return ms > 0 ? ms * 1'000'000 : 0;
}

std::int64_t queue::next_deadline() const noexcept {
  std::int64_t next = INT64_MAX;
  if (!_expiries.empty()) next = _expiries.front().deadline;
  if (had_queue_ttl()) {
    for (const lane& l : _lanes) {
      for (const ready_entry& e : l) {
        if (e.tombstone()) continue;
        // A paged-out head is loaded by run_timers(): look again at once.
        next = std::min(next, e.msg ? deadline_of(*e.msg, e.seq()) : 0);
        break;
      }
    }
  }
  if (_settings.limits.expires_ms && _consumers.empty()) {
    next = std::min(next, _last_used + *_settings.limits.expires_ms * 1'000'000);
  }
  if (_settings.limits.consumer_timeout_ms) {
    for (const auto& e : _unacked) {
      if (!e.msg) continue;
      if (e.consumer.consumer != 0) next = std::min(next, e.delivered_at + consumer_timeout_ns());
      break;
    }
  }
  return next;
}

bool queue::unused_expired(std::int64_t now) const noexcept {
  return _settings.limits.expires_ms && _consumers.empty() &&
         now - _last_used >= *_settings.limits.expires_ms * 1'000'000;
}

void queue::run_timers(std::int64_t now, delivery_sink& sink) {
  expire(now, sink);
  check_consumer_timeouts(now, sink);
}

void queue::check_consumer_timeouts(std::int64_t now, delivery_sink& sink) {
  const std::int64_t timeout = consumer_timeout_ns();
  if (timeout == 0 || _unacked_live == 0) return;
  // Deliveries are in delivery order: the first live one is the oldest.
  std::vector<consumer_address> late;
  for (const auto& e : _unacked) {
    if (!e.msg) continue;
    if (now - e.delivered_at < timeout) break;
    // basic.get's deliveries have no consumer to cancel: they wait for their channel.
    if (e.consumer.consumer != 0 && std::find(late.begin(), late.end(), e.consumer) == late.end()) {
      late.push_back(e.consumer);
    }
  }
  for (const consumer_address& c : late) {
    // Only the slow consumer goes: its deliveries come back, its channel stays open.
    requeue_unacked([&](consumer_address a) { return a == c; }, sink);
    remove_consumer(c);
    sink.consumer_cancelled(c);
  }
  if (!late.empty()) {
    dispatch(sink);
  }
}

get_result queue::get(reply_to to, bool no_ack, delivery_sink& sink) {
  get_result r;
  r.queue = _id;
  touch();
  if (_timed) expire(turn_clock::now(), sink);
  lane* l = next_lane();
  if (l == nullptr) return r;
  ready_entry e = pop_ready(*l);
  r.redelivered = e.redelivered();
  r.remaining = static_cast<std::uint32_t>(_ready_count);
  if (e.msg) _stats.on_delivery(*e.msg, r.redelivered, no_ack, true);
  if (no_ack) {
    if (e.stored) forget_stored(e.seq(), e.stored);
    r.msg = std::move(e.msg);
    return r;
  }
  r.msg = e.msg.share();
  r.dseq = _unacked_base + _unacked.size();
  _unacked.push_back(unacked_entry{std::move(e.msg), e.at, e.stored, consumer_address{to.connection, to.channel, 0},
                                   turn_clock::now()});
  ++_unacked_live;
  ++_got_live;
  return r;
}

std::uint32_t queue::purge() {
  const auto n = static_cast<std::uint32_t>(_ready_count);
  seq_run acks(store::record_type::ack);
  for (auto& l : _lanes) {
    for (const auto& e : l) {
      if (e.stored) forget_stored(e.seq(), e.stored, acks);
    }
    l.clear();
  }
  acks.flush(*this);
  _ready_count = 0;
  _ready_bytes = 0;
  _tombstones = 0;
  _expiries.clear();
  update_timed();
  return n;
}

queue::consumer* queue::next_consumer_of_many() noexcept {
  if (_consumers.empty()) return nullptr;
  if (_settings.limits.single_active_consumer) {
    // The next active consumer starts once the one before settled what it held: order kept.
    if (_unacked_live > _consumers.front().unacked && departed_unacked()) return nullptr;
    return _consumers.front().has_credit() ? &_consumers.front() : nullptr;
  }
  // Round-robin from the cursor among those with credit; with consumer priorities, the first
  // of the highest priority that has credit.
  const std::size_t n = _consumers.size();
  const bool alike = _consumers.front().priority == _consumers.back().priority;  // sorted
  consumer* chosen = nullptr;
  std::size_t after = 0;
  for (std::size_t k = 0, i = _cursor; k < n; ++k, ++i) {
    if (i == n) i = 0;
    consumer& c = _consumers[i];
    if (!c.has_credit() || (chosen != nullptr && c.priority <= chosen->priority)) continue;
    chosen = &c;
    after = i + 1;
    if (alike) break;
  }
  if (chosen != nullptr) _cursor = after == n ? 0 : after;
  return chosen;
}

[[gnu::always_inline]] inline void queue::hand_over(consumer& c, message_ref msg, position at, store::disk_location stored, delivery_sink& sink,
                      seq_run& acks) {
  --c.window;
  c.window_bytes -= static_cast<std::int64_t>(msg->body_size());
  deliver_cmd d;
  d.consumer = c.address;
  d.queue = _id;
  d.redelivered = at.redelivered();
  if (c.no_ack) {
    if (stored) forget_stored(at.seq(), stored, acks);
    d.msg = std::move(msg);
  } else {
    d.dseq = _unacked_base + _unacked.size();
    d.msg = msg.share();
    _unacked.push_back(unacked_entry{std::move(msg), at, stored, c.address, turn_clock::now()});
    ++_unacked_live;
    ++c.unacked;
    if (c.channel_credit != UINT32_MAX) --c.channel_credit;
  }
  _stats.on_delivery(*d.msg, d.redelivered, c.no_ack, false);
  sink.deliver(std::move(d));
}

void queue::dispatch(delivery_sink& sink) {
  seq_run acks(store::record_type::ack);
  while (!_consumers.empty()) {
    lane* l = next_lane();
    if (l == nullptr) break;
    consumer* c = next_consumer();
    if (c == nullptr) break;
    ready_entry e = pop_ready(*l);
    hand_over(*c, std::move(e.msg), e.at, e.stored, sink, acks);
  }
  acks.flush(*this);
}

void queue::log_deliveries() {
  if (_store == nullptr) return;
  seq_run delivered(store::record_type::delivered);
  for (const auto& l : _lanes) {
    for (const auto& e : l) {
      if (e.stored && e.redelivered()) delivered.add(*this, e.seq());
    }
  }
  for (const auto& e : _unacked) {
    if (e.msg && e.stored) delivered.add(*this, e.seq());
  }
  delivered.flush(*this);
}

}  // namespace haremq::engine
