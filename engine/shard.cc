#include "engine/shard.h"

#include <algorithm>
#include <chrono>

#include "engine/dead_letter.h"

namespace haremq::engine {

queue& shard::create_queue(const queue_record& record) {
  auto& q = *_queues.emplace(record.id, std::make_unique<queue>(record.id, record.settings)).first->second;
  q.set_default_consumer_timeout(_default_consumer_timeout_ms);
  after_change(q);
  // Exclusive queues go with their connection, so a restart never finds them.
  if (_store != nullptr && is_durable(record)) q.attach_store(*_store);
  return q;
}

std::size_t shard::recover(queue_id id, const store::recovery& from, std::span<const store::recovered_message> messages,
                           std::size_t next, std::uint32_t up_to_file, bool all_delivered) {
  queue* q = find(id);
  if (q == nullptr || !q->stored()) return messages.size();
  constexpr std::size_t write_every = 16 << 20;  // recovery's writes go in steps, not all in memory at once
  for (; next < messages.size() && messages[next].file <= up_to_file; ++next) {
    q->restore(from.fields(messages[next]), messages[next].delivered || all_delivered);
    if (_store->pending_bytes() > write_every) (void)_store->flush_blocking();
  }
  return next;
}

queue* shard::find(queue_id id) noexcept {
  const auto it = _queues.find(id);
  return it == _queues.end() ? nullptr : it->second.get();
}

reply_error shard::missing(queue_id) const {
  // The queue was deleted after the sender looked it up; RabbitMQ answers 404 then too.
  return reply_error{amqp::reply_code::not_found, "NOT_FOUND - queue deleted"};
}

void shard::handle_command(command&& c) {
  std::visit(
      [&](auto&& cmd) {
        if constexpr (requires { handle(std::move(cmd)); }) handle(std::move(cmd));
      },
      std::move(c));
}

void shard::handle(enqueue_cmd&& c) {
  queue* q = find(c.queue);
  // Deleted meanwhile: the message is dropped, and confirmed, as RabbitMQ does.
  const queue::enqueue_result done = q != nullptr ? q->enqueue(std::move(c.msg), *this) : queue::enqueue_result{};
  if (c.receipt.seq != 0) {
    const std::uint64_t rejected = done.rejected() ? c.receipt.seq : 0;
    if (!c.receipt.more) {
      note_receipt(c.receipt, done.stored(), rejected);
    } else if (done.stored() || rejected != 0) {
      // The publish's last enqueue here answers; it must wait for this queue's disk too, and
      // carry this queue's refusal.
      enqueue_receipt before = c.receipt;
      before.seq -= 1;
      if (done.stored()) {
        hold_receipt(before, _store->filling_batch(), rejected);
      } else {
        note_receipt(before, false, rejected);
      }
    }
  }
  if (q == nullptr) return;
  if (done.stored() && q->ready_count() > queue::resident_messages) _paging.insert(q->id());
  if (done.full()) hold_publisher(*q, c.receipt.to.connection);
  if (q->timed()) after_change(*q);
}

void shard::note_receipt(const enqueue_receipt& r, bool wait_for_disk, std::uint64_t rejected) {
  // Once one of a channel's receipts waits for the disk, the later ones wait behind it (a
  // confirm covers every publish before it), for the same batch unless they bring their own.
  std::uint64_t behind = 0;
  for (const auto& h : _held) {
    if (h.receipt.receipt.same_channel(r)) behind = h.batch;
  }
  if (wait_for_disk || behind != 0) {
    hold_receipt(r, wait_for_disk ? _store->filling_batch() : behind, rejected);
    return;
  }
  // A channel's enqueues arrive in order, so the latest seq covers the earlier ones.
  for (auto& pending : _receipts) {
    if (pending.receipt.same_channel(r)) {
      pending.receipt.seq = std::max(pending.receipt.seq, r.seq);
      if (rejected != 0 && (pending.rejected.empty() || pending.rejected.back() != rejected)) pending.rejected.push_back(rejected);
      return;
    }
  }
  _receipts.push_back(enqueued_cmd{r, _self, {}});
  if (rejected != 0) _receipts.back().rejected.push_back(rejected);
}

void shard::hold_receipt(const enqueue_receipt& r, std::uint64_t batch, std::uint64_t rejected) {
  for (auto it = _held.rbegin(); it != _held.rend() && it->batch == batch; ++it) {
    auto& held = it->receipt;
    if (held.receipt.same_channel(r)) {
      held.receipt.seq = std::max(held.receipt.seq, r.seq);
      if (rejected != 0 && (held.rejected.empty() || held.rejected.back() != rejected)) held.rejected.push_back(rejected);
      return;
    }
  }
  _held.push_back(held_receipt{enqueued_cmd{r, _self, {}}, batch});
  if (rejected != 0) _held.back().receipt.rejected.push_back(rejected);
}

void shard::dead_letter(const queue& from, message_ref msg, queue::death_reason reason) {
  const auto& limits = from.limits();
  if (_replica == nullptr || !limits.dead_letter_exchange) return;
  death d;
  d.queue = from.settings().name;
  d.reason = queue::death_reason_name(reason);
  d.exchange = *limits.dead_letter_exchange;
  d.replace_routing_key = limits.dead_letter_routing_key.has_value();
  if (d.replace_routing_key) d.routing_key = *limits.dead_letter_routing_key;
  d.unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  message_ref letter = make_dead_letter(*msg, d);
  if (!letter) return;
  _replica->refresh();
  _dead_letter_targets.clear();
  // A dead-letter exchange that does not exist drops the message, as in RabbitMQ.
  if (!_replica->route(from.settings().vhost, *letter, _dead_letter_targets)) return;
  const bool check_cycles = reason != queue::death_reason::rejected;
  for (const queue_target& t : _dead_letter_targets) {
    if (check_cycles) {
      const auto* target = _replica->find_queue(from.settings().vhost, t.queue);
      if (target != nullptr && dead_letter_cycle(*letter, target->settings.name)) continue;
    }
    // Dead-lettering is at most once, as in RabbitMQ: nobody waits for a receipt.
    _out.post(t.owner, enqueue_cmd{t.queue, letter.share(), enqueue_receipt{}});
  }
}

void shard::after_change(queue& q) {
  if (const auto held = _held_publishers.find(q.id()); held != _held_publishers.end() && !q.full()) {
    release_publishers(q.id());
  }
  if (!q.timed()) return;
  _timed.insert(q.id());
  _next_deadline = std::min(_next_deadline, q.next_deadline());
}

void shard::hold_publisher(queue& q, connection_key publisher) {
  if (!publisher.valid()) return;
  auto& held = _held_publishers[q.id()];
  if (std::find(held.begin(), held.end(), publisher) != held.end()) return;
  held.push_back(publisher);
  const auto& s = q.settings();
  _out.post(publisher.worker,
            queue_full_cmd{publisher, q.id(), true, "queue '" + s.name + "' in vhost '" + s.vhost + "' is full"});
}

void shard::release_publishers(queue_id id) {
  const auto held = _held_publishers.find(id);
  if (held == _held_publishers.end()) return;
  for (const connection_key& c : held->second) _out.post(c.worker, queue_full_cmd{c, id, false, {}});
  _held_publishers.erase(held);
}

void shard::run_timers(std::int64_t now) {
  if (now >= _next_timeout_scan && _default_consumer_timeout_ms > 0) {
    // The server's consumer timeout, for queues without timers of their own: looked at once a
    // second, as the timeout is counted in minutes.
    _next_timeout_scan = now + 1'000'000'000;
    for (auto& [_, q] : _queues) {
      if (!q->timed() && q->unacked_count() > 0) {
        q->run_timers(now, *this);
        after_change(*q);
      }
    }
  }
  if (now < _next_deadline) return;
  _next_deadline = INT64_MAX;
  std::vector<queue_id> expired_queues;
  for (auto it = _timed.begin(); it != _timed.end();) {
    queue* q = find(*it);
    if (q == nullptr || !q->timed()) {
      it = _timed.erase(it);
      continue;
    }
    if (q->unused_expired(now)) {
      expired_queues.push_back(q->id());
      ++it;
      continue;
    }
    if (q->next_deadline() <= now) {
      q->run_timers(now, *this);
      q->dispatch(*this);
    }
    after_change(*q);  // publishers it held, its next deadline (it is in _timed already: no insertion)
    ++it;
  }
  // x-expires: deleted as if by queue.delete, consumers (there are none) told.
  for (const queue_id id : expired_queues) {
    if (queue* q = find(id)) remove(*q, true);
  }
}

void shard::reapply_policies() {
  for (auto& [id, q] : _queues) {
    const auto record = _topology.queue_named(q->settings().vhost, q->settings().name);
    if (!record || record->id != id) continue;
    q->set_limits(record->settings.limits, record->settings.policy, *this);
    dispatch(*q);
  }
}

void shard::flush_receipts() {
  for (auto& r : _receipts) _out.post(r.receipt.to.connection.worker, std::move(r));
  _receipts.clear();
}

void shard::log_deliveries() {
  for (auto& [_, q] : _queues) q->log_deliveries();
}

void shard::store_progressed() {
  // The definitions file could not be saved: a queue it lacks would lose its messages to a
  // crash, so nothing is confirmed from disk until it is (the worker calls again on its tick).
  if (_store == nullptr || _topology.persistence_failing()) return;
  const std::uint64_t durable = _store->durable_batch();
  std::size_t done = 0;
  while (done < _held.size() && _held[done].batch <= durable) {
    auto& r = _held[done++].receipt;
    _out.post(r.receipt.to.connection.worker, std::move(r));
  }
  _held.erase(_held.begin(), _held.begin() + static_cast<std::ptrdiff_t>(done));
  // A queue whose newest stored messages were not written yet stays for the next progress.
  std::erase_if(_paging, [&](queue_id id) {
    queue* q = find(id);
    return q == nullptr || !q->page_out();
  });
}

void shard::handle(consume_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) {
    reply(c.reply, missing(c.queue));
    return;
  }
  if (auto refused = q->add_consumer(c)) {
    reply(c.reply, std::move(*refused));
    return;
  }
  // consume-ok travels before the first delivery: same sender, same order.
  reply(c.reply, consume_ok{c.consumer});
  dispatch(*q);
}

void shard::handle(credit_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->set_channel_credit(c.consumer, c.credit);
  dispatch(*q);
}

void shard::handle(written_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->reopen_window(c.consumer, c.written, c.bytes);
  dispatch(*q);
}

void shard::handle(cancel_cmd&& c) {
  queue* q = find(c.queue);
  // Gone with its queue (the channel hears of that too): cancelled all the same.
  reply(c.reply, cancel_ok{c.consumer});
  if (q == nullptr) return;
  q->remove_consumer(c.consumer);
  after_consumer_left(*q);
}

void shard::handle(settle_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->settle(c.action, c.dseqs, *this);
  dispatch(*q);
}

void shard::handle(channel_gone_cmd&& c) {
  // Posted now, it leaves with this turn's outbox: after all that is done below.
  if (c.answer) reply(reply_to{c.connection, c.channel}, released{});
  queue* q = find(c.queue);
  if (q == nullptr) return;
  const std::uint32_t consumers_before = q->consumer_count();
  q->channel_gone(c.connection, c.channel, *this);
  // An exclusive queue goes with the connection that declared it.
  if (c.channel == 0 && q->settings().exclusive && q->settings().exclusive_owner == c.connection) {
    remove(*q, false);
    return;
  }
  if (q->consumer_count() < consumers_before) {
    after_consumer_left(*q);
    if (find(c.queue) == nullptr) return;
  }
  dispatch(*q);
}

void shard::after_consumer_left(queue& q) {
  // An auto-delete queue goes when its last consumer does (once it has had one).
  if (q.settings().auto_delete && q.ever_consumed() && q.consumer_count() == 0) {
    remove(q, false);
    return;
  }
  dispatch(q);
}

void shard::handle(get_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) {
    reply(c.reply, missing(c.queue));
    return;
  }
  get_result got = q->get(c.reply, c.no_ack, *this);
  got.owner = _self;
  reply(c.reply, std::move(got));
  after_change(*q);
}

void shard::handle(queue_op_cmd&& c) { reply(c.reply, apply(c.op, c.queue, c.if_unused, c.if_empty)); }

reply_payload shard::apply(queue_op op, queue_id id, bool if_unused, bool if_empty) {
  queue* q = find(id);
  if (q == nullptr) return missing(id);
  const auto& s = q->settings();
  switch (op) {
    case queue_op::declare_check:
      q->touch();  // a redeclare counts as a use (x-expires)
      after_change(*q);
      return queue_counts{q->ready_count(), q->consumer_count()};
    case queue_op::purge: {
      const std::uint32_t purged = q->purge();
      after_change(*q);
      return queue_counts{purged, 0};
    }
    case queue_op::remove: {
      const std::string where = "queue '" + s.name + "' in vhost '" + s.vhost + "'";
      if (if_unused && q->consumer_count() > 0) {
        return reply_error{amqp::reply_code::precondition_failed, "PRECONDITION_FAILED - " + where + " in use"};
      }
      if (if_empty && q->ready_count() > 0) {
        return reply_error{amqp::reply_code::precondition_failed, "PRECONDITION_FAILED - " + where + " not empty"};
      }
      const std::uint32_t count = q->ready_count();
      remove(*q, true);
      return queue_counts{count, 0};
    }
  }
  return missing(id);
}

std::vector<get_result> shard::fetch(queue_id id, std::size_t count, bool requeue) {
  std::vector<get_result> out;
  queue* q = find(id);
  if (q == nullptr) return out;
  delivery_ranges taken;
  while (out.size() < count) {
    get_result r = q->get(reply_to{}, !requeue, *this);
    if (!r.msg) break;
    if (requeue) taken.add(r.dseq);
    out.push_back(std::move(r));
  }
  if (requeue && !out.empty()) {
    q->settle(settle_action::requeue, taken, *this);
    dispatch(*q);
  }
  return out;
}

void shard::drop(queue_id id) {
  if (queue* q = find(id)) remove(*q, true);
}

void shard::remove(queue& q, bool notify_consumers) {
  const queue_id id = q.id();
  q.release_stored();
  _topology.remove_queue(q.settings().vhost, id);
  release_publishers(id);
  _timed.erase(id);
  if (notify_consumers) {
    q.for_each_consumer([&](consumer_address a) { _out.post(a.connection.worker, consumer_cancelled_cmd{a}); });
  }
  _queues.erase(id);
}

}  // namespace haremq::engine
