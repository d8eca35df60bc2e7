#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "engine/command.h"
#include "engine/queue_stats.h"
#include "engine/ids.h"
#include "engine/message.h"
#include "engine/store/message_store.h"

// A queue: its ready messages in publish order, its consumers served round-robin within
// their credit (prefetch − unacked), and its deliveries not yet settled. Owned by one
// worker's shard for its whole life; not thread-safe. Allocates nothing per message beyond
// the deques' blocks (deliveries are numbered, so the unsettled ones are a deque indexed by
// number, not a map).
//
// A durable queue attached to its worker's message store logs its persistent messages there,
// with their acks and delivery marks. Past the first `resident_messages` ready ones, a stored
// message leaves memory once its bytes are in the file and is read back when its turn comes,
// so a backlog costs its entries, not its bodies.
namespace haremq::engine {

struct queue_settings {
  std::string name;
  std::string vhost;
  bool durable = false;
  bool exclusive = false;
  bool auto_delete = false;
  connection_key exclusive_owner;
  std::vector<std::byte> arguments;  // the declare's field table bytes
  // A durable queue's incarnation: a new one each time its name is declared anew, kept in the
  // definitions file, so that the message log never gives a deleted queue's messages to a
  // queue declared later with the same name. 0 for the others.
  std::uint64_t incarnation = 0;
};

class queue {
 public:
  // Deliveries leave the queue through this.
  class delivery_sink {
   public:
    virtual ~delivery_sink() = default;
    virtual void deliver(deliver_cmd&& d) = 0;
  };

  // Ready messages kept in memory even when stored: the head that consumers take next.
  static constexpr std::size_t resident_messages = 2048;

  queue(queue_id id, queue_settings settings) : _id(id), _settings(std::move(settings)) {}

  // Logs this (durable) queue's persistent messages in `store` from now on.
  void attach_store(store::message_store& store);
  std::uint64_t incarnation() const noexcept { return _settings.incarnation; }
  bool stored() const noexcept { return _store != nullptr; }
  // A message recovered from an earlier run's log (in publish order): logged again in this
  // run's store, and kept in memory only within the resident head.
  void restore(const store::publish_fields& f, bool delivered);
  // The queue is deleted: its stored messages are gone. (Not on shutdown: they must stay.)
  void release_stored() noexcept;
  // Drops from memory the stored ready messages past the resident head whose bytes are written;
  // true if some stored ones were not written yet (call again once the store progressed).
  bool page_out();
  // At a clean shutdown: logs which stored messages were delivered (unacked, or requeued), so
  // that they come back redelivered=true and the others false, as in RabbitMQ. (After a crash
  // every recovered message is redelivered=true: deliveries are not logged as they happen.)
  void log_deliveries();

  queue_id id() const noexcept { return _id; }
  const queue_settings& settings() const noexcept { return _settings; }
  std::uint32_t ready_count() const noexcept { return static_cast<std::uint32_t>(_ready.size()); }
  std::uint32_t unacked_count() const noexcept { return _unacked_live; }
  std::uint32_t consumer_count() const noexcept { return static_cast<std::uint32_t>(_consumers.size()); }
  bool ever_consumed() const noexcept { return _ever_consumed; }
  const queue_stats& stats() const noexcept { return _stats; }
  template <class F>
  void for_each_consumer(F&& f) const {
    for (const auto& c : _consumers) f(c.address);
  }

  // Adds a message; true when it was logged, so that its publisher's confirm waits for the
  // store's current batch to be on disk.
  bool enqueue(message_ref msg);

  // Adds a consumer; an error when the queue has an exclusive consumer, or when an
  // exclusive consumer is asked for while others exist (RabbitMQ's 403 texts).
  std::optional<reply_error> add_consumer(const consume_cmd& c);
  // Sets how many more deliveries the consumer's channel takes (basic.qos global=true).
  void set_channel_credit(consumer_address consumer, std::uint32_t credit);
  // `written` deliveries (`bytes` of bodies) to the consumer have left for its socket: room
  // in its window.
  void reopen_window(consumer_address consumer, std::uint32_t written, std::uint64_t bytes);
  // Removes a consumer; its unacked deliveries stay unacked until settled or its channel goes.
  void remove_consumer(consumer_address consumer);
  // Removes the channel's consumers (every channel of the connection for channel 0) and
  // requeues their unsettled deliveries, in their original order, as redelivered.
  void channel_gone(connection_key connection, std::uint16_t channel);
  void settle(settle_action action, const delivery_ranges& dseqs);

  // basic.get: the head message, tracked as unacked for `to` unless no_ack.
  get_result get(reply_to to, bool no_ack);
  // Drops the ready messages; returns how many.
  std::uint32_t purge();

  // Delivers ready messages to consumers with credit, round-robin.
  void dispatch(delivery_sink& sink);

 private:
  // 24 bytes: a backlog costs little more than its messages (the flag rides in the seq's low bit).
  class ready_entry {
   public:
    ready_entry(message_ref m, std::uint64_t seq, store::disk_location where, bool redelivered) noexcept
        : msg(std::move(m)), stored(where), _seq_and_flag(seq << 1 | static_cast<std::uint64_t>(redelivered)) {}
    std::uint64_t seq() const noexcept { return _seq_and_flag >> 1; }  // publish order, kept when requeued
    bool redelivered() const noexcept { return (_seq_and_flag & 1) != 0; }

    message_ref msg;  // empty while paged out
    store::disk_location stored;

   private:
    std::uint64_t _seq_and_flag;
  };
  struct unacked_entry {
    message_ref msg;  // empty once settled
    std::uint64_t seq = 0;
    store::disk_location stored;
    consumer_address consumer;
  };
  // Consecutive seqs logged as one ack or delivered record.
  class seq_run {
   public:
    explicit seq_run(store::record_type type) : _type(type) {}
    void add(queue& q, std::uint64_t seq);
    void flush(queue& q);
   private:
    store::record_type _type;
    std::uint64_t _first = 0;
    std::uint32_t _count = 0;
  };
  struct consumer {
    consumer_address address;
    std::string tag;
    std::uint16_t prefetch = 0;
    std::uint32_t unacked = 0;
    std::uint32_t channel_credit = UINT32_MAX;
    // What it may still be sent before its connection has written what it was sent. The byte
    // window may go below zero by one message: a body larger than the window still goes.
    std::uint32_t window = delivery_window;
    std::int64_t window_bytes = static_cast<std::int64_t>(delivery_window_bytes);
    bool no_ack = false;
    bool exclusive = false;
    bool has_credit() const noexcept {
      return window > 0 && window_bytes > 0 &&
             (no_ack || ((prefetch == 0 || unacked < prefetch) && channel_credit > 0));
    }
  };

  unacked_entry* find_unacked(std::uint64_t dseq) noexcept;
  // Brings a paged-out message back; false if it cannot be read (the entry is dropped).
  bool load(ready_entry& e);
  // A stored message is gone from the queue: logged as acked (through `acks`) and released.
  void forget_stored(std::uint64_t seq, store::disk_location loc, seq_run& acks);
  void forget_stored(std::uint64_t seq, store::disk_location loc);  // one alone
  void take_back(unacked_entry& e, bool requeue, seq_run& acks);
  // Loads the head if it is paged out, dropping unreadable ones; false when none is ready.
  bool front_ready();
  void requeue(ready_entry&& e);
  void trim_settled() noexcept;
  consumer* find_consumer(consumer_address a) noexcept;

  queue_id _id;
  queue_settings _settings;
  queue_stats _stats;
  std::uint64_t _next_seq = 1;
  std::deque<ready_entry> _ready;  // sorted by seq
  std::vector<consumer> _consumers;
  std::size_t _cursor = 0;  // the consumer to try first
  std::deque<unacked_entry> _unacked;  // _unacked[i] is delivery number _unacked_base + i
  std::uint64_t _unacked_base = 1;
  std::uint32_t _unacked_live = 0;
  bool _ever_consumed = false;
  store::message_store* _store = nullptr;
  std::uint32_t _store_ref = 0;
  std::uint64_t _paged_through = 0;  // ready seqs up to this were looked at by page_out()
};

}  // namespace haremq::engine
