#include "engine/shard.h"

namespace haremq::engine {

void shard::create_queue(const queue_record& record) {
  _queues.emplace(record.id, std::make_unique<queue>(record.id, record.settings));
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
  if (c.receipt.seq != 0) note_receipt(c.receipt);
  queue* q = find(c.queue);
  // Deleted meanwhile: the message is dropped, and confirmed, as RabbitMQ does.
  if (q == nullptr) return;
  q->enqueue(std::move(c.msg));
  q->dispatch(*this);
}

void shard::note_receipt(const enqueue_receipt& r) {
  // A channel's enqueues arrive in order, so the latest seq covers the earlier ones.
  for (auto& pending : _receipts) {
    auto& p = pending.receipt;
    if (p.to.connection == r.to.connection && p.to.channel == r.to.channel && p.incarnation == r.incarnation) {
      p.seq = r.seq;
      return;
    }
  }
  _receipts.push_back(enqueued_cmd{r, _self});
}

void shard::flush_receipts() {
  for (auto& r : _receipts) _out.post(r.receipt.to.connection.worker, std::move(r));
  _receipts.clear();
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
  q->dispatch(*this);
}

void shard::handle(credit_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->set_channel_credit(c.consumer, c.credit);
  q->dispatch(*this);
}

void shard::handle(written_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->reopen_window(c.consumer, c.written, c.bytes);
  q->dispatch(*this);
}

void shard::handle(cancel_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->remove_consumer(c.consumer);
  after_consumer_left(*q);
}

void shard::handle(settle_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  q->settle(c.action, c.dseqs);
  q->dispatch(*this);
}

void shard::handle(channel_gone_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) return;
  const std::uint32_t consumers_before = q->consumer_count();
  q->channel_gone(c.connection, c.channel);
  // An exclusive queue goes with the connection that declared it.
  if (c.channel == 0 && q->settings().exclusive && q->settings().exclusive_owner == c.connection) {
    remove(*q, false);
    return;
  }
  if (q->consumer_count() < consumers_before) {
    after_consumer_left(*q);
    if (find(c.queue) == nullptr) return;
  }
  q->dispatch(*this);
}

void shard::after_consumer_left(queue& q) {
  // An auto-delete queue goes when its last consumer does (once it has had one).
  if (q.settings().auto_delete && q.ever_consumed() && q.consumer_count() == 0) {
    remove(q, false);
    return;
  }
  q.dispatch(*this);
}

void shard::handle(get_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) {
    reply(c.reply, missing(c.queue));
    return;
  }
  get_result got = q->get(c.reply, c.no_ack);
  got.owner = _self;
  reply(c.reply, std::move(got));
}

void shard::handle(queue_op_cmd&& c) {
  queue* q = find(c.queue);
  if (q == nullptr) {
    reply(c.reply, missing(c.queue));
    return;
  }
  const auto& s = q->settings();
  switch (c.op) {
    case queue_op::declare_check:
      reply(c.reply, queue_counts{q->ready_count(), q->consumer_count()});
      return;
    case queue_op::purge:
      reply(c.reply, queue_counts{q->purge(), 0});
      return;
    case queue_op::remove: {
      const std::string where = "queue '" + s.name + "' in vhost '" + s.vhost + "'";
      if (c.if_unused && q->consumer_count() > 0) {
        reply(c.reply, reply_error{amqp::reply_code::precondition_failed, "PRECONDITION_FAILED - " + where + " in use"});
        return;
      }
      if (c.if_empty && q->ready_count() > 0) {
        reply(c.reply, reply_error{amqp::reply_code::precondition_failed, "PRECONDITION_FAILED - " + where + " not empty"});
        return;
      }
      const std::uint32_t count = q->ready_count();
      remove(*q, true);
      reply(c.reply, queue_counts{count, 0});
      return;
    }
  }
}

void shard::remove(queue& q, bool notify_consumers) {
  const queue_id id = q.id();
  _topology.remove_queue(q.settings().vhost, id);
  if (notify_consumers) {
    q.for_each_consumer([&](consumer_address a) { _out.post(a.connection.worker, consumer_cancelled_cmd{a}); });
  }
  _queues.erase(id);
}

}  // namespace haremq::engine
