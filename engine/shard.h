#pragma once

#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/command.h"
#include "engine/outbox.h"
#include "engine/queue.h"
#include "engine/store/message_store.h"
#include "engine/store/recovery.h"
#include "engine/topology.h"

// The queues one worker owns, and the handling of every command addressed to them.
// Lives on its worker's thread; not thread-safe. With a message store, its durable queues log
// their persistent messages there, and a publisher's receipt for a logged message waits until
// the store's batch holding it is on disk.
namespace haremq::engine {

class shard : private queue::delivery_sink {
 public:
  // `store`: where durable queues log persistent messages; nullptr keeps every message in memory.
  shard(worker_id self, topology_store& topology, outbox& out, store::message_store* store = nullptr)
      : _self(self), _topology(topology), _out(out), _store(store) {}

  worker_id self() const noexcept { return _self; }
  // Dead letters are routed with this worker's replica of the topology (without one they are dropped).
  void route_dead_letters_with(topology_replica& replica) noexcept { _replica = &replica; }
  // The server's consumer timeout for queues without x-consumer-timeout (ms; 0: none).
  void set_default_consumer_timeout(std::int64_t ms) noexcept { _default_consumer_timeout_ms = ms; }
  // Creates the queue object of a queue just declared on this worker (or recovered); a durable
  // one logs its persistent messages in the store.
  queue& create_queue(const queue_record& record);
  // Puts back into durable queue `id` (made by create_queue) recovered messages, logging them in
  // this run's store: messages[next] on, up to the first one whose old segment file comes after
  // `up_to_file`; returns where it stopped. `all_delivered` after a crash (see
  // queue::log_deliveries). Recovery goes file by file so that each old segment can be deleted
  // as soon as its messages are safe: the disk needs room for one more segment, not the whole log.
  std::size_t recover(queue_id id, const store::recovery& from, std::span<const store::recovered_message> messages,
                      std::size_t next, std::uint32_t up_to_file, bool all_delivered);
  queue* find(queue_id id) noexcept;
  std::size_t queue_count() const noexcept { return _queues.size(); }

  // A command for one of its queues (one without an addressee()): handled by the overload
  // of its kind; commands for connections are ignored. (Named apart from those overloads, as
  // every command converts to `command`.)
  void handle_command(command&& c);
  void handle(enqueue_cmd&& c);
  void handle(consume_cmd&& c);
  void handle(credit_cmd&& c);
  void handle(cancel_cmd&& c);
  void handle(written_cmd&& c);
  void handle(settle_cmd&& c);
  void handle(channel_gone_cmd&& c);
  void handle(get_cmd&& c);
  void handle(queue_op_cmd&& c);
  // A queue operation (declare check, purge, delete) done here and now: the counts, or the error.
  reply_payload apply(queue_op op, queue_id id, bool if_unused = false, bool if_empty = false);
  // basic.get for the management API: up to `count` messages, given back to the queue with
  // redelivered=true when `requeue` (RabbitMQ's ack_requeue_true), or taken for good.
  std::vector<get_result> fetch(queue_id id, std::size_t count, bool requeue);
  // Drops a queue already gone from the topology (its vhost was deleted); consumers are told.
  void drop(queue_id id);
  // A policy changed: every queue here takes its limits again from the topology.
  void reapply_policies();

  // Timers (steady ns): message expiry, x-expires, consumer timeouts. The worker runs them each
  // turn (cheap until the next deadline) and sleeps at most until next_deadline().
  void run_timers(std::int64_t now);
  std::int64_t next_deadline() const noexcept { return _next_deadline; }
  template <class F>
  void for_each_queue(F&& f) const {
    for (const auto& [_, q] : _queues) f(*q);
  }
  // Tells publishers which of their enqueues are done: one enqueued_cmd per channel for
  // everything handled since the last call. The worker calls it once a batch is handled.
  void flush_receipts();
  // The store made progress (a batch is on disk): receipts that waited for it go, and queues
  // with a backlog let the written messages leave memory.
  void store_progressed();
  // At a clean shutdown, once the worker's loop has ended: see queue::log_deliveries.
  void log_deliveries();

 private:
  void deliver(deliver_cmd&& d) override {
    d.owner = _self;
    _out.post(d.consumer.connection.worker, std::move(d));
  }
  void dead_letter(const queue& from, message_ref msg, queue::death_reason reason) override;
  void consumer_cancelled(consumer_address consumer) override {
    _out.post(consumer.connection.worker, consumer_cancelled_cmd{consumer});
  }
  // After a queue changed: its timers are looked at, and publishers it held go if it has room.
  void after_change(queue& q);
  void dispatch(queue& q) {
    q.dispatch(*this);
    after_change(q);
  }
  void hold_publisher(queue& q, connection_key publisher);
  void release_publishers(queue_id id);
  void reply(reply_to to, reply_payload&& payload) {
    _out.post(to.connection.worker, channel_reply_cmd{to, std::move(payload)});
  }
  reply_error missing(queue_id id) const;
  // Removes the queue from the topology and the shard; consumers are told when `notify`.
  void remove(queue& q, bool notify_consumers);
  void after_consumer_left(queue& q);
  // `rejected`: the publish seq a queue refused (0: none), for the channel's basic.nack.
  void note_receipt(const enqueue_receipt& r, bool wait_for_disk, std::uint64_t rejected);
  // Keeps `r` until the store's batch `batch` is on disk (with a later one of its channel
  // in the same batch, the higher seq).
  void hold_receipt(const enqueue_receipt& r, std::uint64_t batch, std::uint64_t rejected = 0);

  worker_id _self;
  topology_store& _topology;
  outbox& _out;
  std::unordered_map<queue_id, std::unique_ptr<queue>> _queues;
  std::vector<enqueued_cmd> _receipts;  // one per waiting channel; capacity reused
  store::message_store* _store;
  // Receipts waiting for a store batch to be on disk, in batch order.
  struct held_receipt {
    enqueued_cmd receipt;
    std::uint64_t batch = 0;
  };
  std::vector<held_receipt> _held;
  std::unordered_set<queue_id> _paging;  // stored queues whose backlog grew since the last sync
  topology_replica* _replica = nullptr;
  std::vector<queue_target> _dead_letter_targets;  // scratch
  std::int64_t _default_consumer_timeout_ms = 0;
  std::unordered_set<queue_id> _timed;  // queues with a timer of their own
  std::int64_t _next_deadline = INT64_MAX;
  std::int64_t _next_timeout_scan = 0;  // the server's consumer timeout, for the other queues
  // Block-publishers queues at their limit, and the connections they hold back.
  std::unordered_map<queue_id, std::vector<connection_key>> _held_publishers;
};

}  // namespace haremq::engine
