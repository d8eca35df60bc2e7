#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/circular_deque.h"
#include "engine/command.h"
#include "engine/queue_stats.h"
#include "engine/ids.h"
#include "engine/message.h"
#include "engine/queue_limits.h"
#include "engine/store/message_store.h"

// A queue: its ready messages in publish order, its consumers served round-robin within
// their credit (prefetch − unacked), and its deliveries not yet settled. Owned by one
// worker's shard for its whole life; not thread-safe. Allocates nothing per message beyond
// the deques' blocks (deliveries are numbered, so the unsettled ones are a deque indexed by
// number, not a map).
//
// What its arguments and policy ask (queue_limits) is kept here too: time to live, exact even
// for a message behind others (a heap of deadlines; an expired message in the middle leaves a
// tombstone that the head skips), length limits with their overflow mode, dead-lettering
// (handed to the sink, which routes), priority lanes, single active consumer, consumer
// priorities, a delivery limit and a consumer timeout. A queue without them pays a branch.
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
  queue_limits limits;  // from the arguments and the policy that applies
  std::string policy;   // the policy's name; empty: none
  // A durable queue's incarnation: a new one each time its name is declared anew, kept in the
  // definitions file, so that the message log never gives a deleted queue's messages to a
  // queue declared later with the same name. 0 for the others.
  std::uint64_t incarnation = 0;
};

class queue {
 public:
  // Why a message leaves for the dead-letter exchange (the x-death "reason").
  enum class death_reason : std::uint8_t { rejected, expired, maxlen, delivery_limit };

  // Deliveries, dead letters and consumer cancellations leave the queue through this.
  class delivery_sink {
   public:
    virtual ~delivery_sink() = default;
    virtual void deliver(deliver_cmd&& d) = 0;
    // Called only when the queue has a dead-letter exchange.
    virtual void dead_letter(const queue& from, message_ref msg, death_reason reason) = 0;
    // The queue cancelled a consumer (its consumer timeout): its channel must be told.
    virtual void consumer_cancelled(consumer_address consumer) = 0;
  };
  static std::string_view death_reason_name(death_reason r) noexcept;

  // What enqueue() did with a message.
  // (One word: it comes back in a register, not pieced together from bytes in memory,
  // which would stall every enqueue on a failed store-to-load forward.)
  class enqueue_result {
   public:
    // Logged: its confirm waits for the store's batch.
    bool stored() const noexcept { return (_flags & stored_flag) != 0; }
    // Refused (reject-publish): the publisher gets a basic.nack.
    bool rejected() const noexcept { return (_flags & refused_flag) != 0; }
    // Taken, but the queue is at its limit (block-publishers).
    bool full() const noexcept { return (_flags & full_flag) != 0; }
    void set_stored(bool stored) noexcept { set(stored_flag, stored); }
    void set_rejected() noexcept { set(refused_flag, true); }
    void set_full(bool full) noexcept { set(full_flag, full); }

   private:
    static constexpr std::uint32_t stored_flag = 1;
    static constexpr std::uint32_t refused_flag = 2;
    static constexpr std::uint32_t full_flag = 4;
    void set(std::uint32_t flag, bool on) noexcept { _flags = on ? _flags | flag : _flags & ~flag; }
    std::uint32_t _flags = 0;
  };

  // Ready messages kept in memory even when stored: the head that consumers take next.
  static constexpr std::size_t resident_messages = 2048;

  queue(queue_id id, queue_settings settings);

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
  std::uint32_t ready_count() const noexcept { return static_cast<std::uint32_t>(_ready_count); }
  std::uint64_t ready_bytes() const noexcept { return _ready_bytes; }
  const queue_limits& limits() const noexcept { return _settings.limits; }
  // A policy changed: new limits (the overflow and lengths apply from the next publish).
  void set_limits(queue_limits limits, std::string policy, delivery_sink& sink);
  std::uint32_t unacked_count() const noexcept { return _unacked_live; }
  std::uint32_t consumer_count() const noexcept { return static_cast<std::uint32_t>(_consumers.size()); }
  bool ever_consumed() const noexcept { return _ever_consumed; }
  const queue_stats& stats() const noexcept { return _stats; }
  template <class F>
  void for_each_consumer(F&& f) const {
    for (const auto& c : _consumers) f(c.address);
  }
  // The consumer that receives when single active consumer is on (the first one), else null.
  const consumer_address* active_consumer() const noexcept {
    return _settings.limits.single_active_consumer && !_consumers.empty() ? &_consumers.front().address : nullptr;
  }
  // Its tag; empty without one.
  std::string_view active_consumer_tag() const noexcept {
    return active_consumer() != nullptr ? std::string_view(_consumers.front().tag) : std::string_view{};
  }

  // Adds a message and delivers what it can; a message over the length limit is rejected or
  // pushes the head out, as the overflow mode says; a message whose time to live is up is
  // expired at once (TTL 0: delivered only if a consumer took it right away).
  enqueue_result enqueue(message_ref msg, delivery_sink& sink);
  // At its length limit (ready messages or their bytes).
  bool full() const noexcept;

  // Timers: expiries of messages, and consumers past their timeout. `now` is steady-clock ns.
  // A queue with a timer wants run_timers() at next_deadline() (INT64_MAX: none).
  bool timed() const noexcept { return _timed; }
  std::int64_t next_deadline() const noexcept;
  void run_timers(std::int64_t now, delivery_sink& sink);
  // x-expires: the queue went unused (no consumer, get or redeclare) for its time.
  bool unused_expired(std::int64_t now) const noexcept;
  // A redeclare, basic.get or consumer counts as a use.
  void touch() noexcept;
  // The server's consumer timeout for queues without their own (ms; 0: none).
  void set_default_consumer_timeout(std::int64_t ms) noexcept { _default_consumer_timeout_ms = ms; }

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
  void channel_gone(connection_key connection, std::uint16_t channel, delivery_sink& sink);
  void settle(settle_action action, const delivery_ranges& dseqs, delivery_sink& sink);

  // basic.get: the head message, tracked as unacked for `to` unless no_ack.
  get_result get(reply_to to, bool no_ack, delivery_sink& sink);
  // Drops the ready messages; returns how many.
  std::uint32_t purge();

  // Delivers ready messages to consumers with credit, round-robin.
  void dispatch(delivery_sink& sink);

 private:
  // A message's place in publish order, whether it was delivered before, and how many times
  // it came back (for x-delivery-limit), in one word: seq in the high 48 bits.
  class position {
   public:
    position(std::uint64_t seq, bool redelivered, std::uint32_t returns = 0) noexcept
        : _bits(seq << 16 | std::uint64_t{std::min<std::uint32_t>(returns, 0x7fff)} << 1 | std::uint64_t{redelivered}) {}
    std::uint64_t seq() const noexcept { return _bits >> 16; }  // kept when requeued
    bool redelivered() const noexcept { return (_bits & 1) != 0; }
    std::uint32_t returns() const noexcept { return static_cast<std::uint32_t>(_bits >> 1 & 0x7fff); }
    position returned() const noexcept { return position{seq(), true, returns() + 1}; }
   private:
    std::uint64_t _bits;
  };
  // 24 bytes: a backlog costs little more than its messages (a paged-out one, little more
  // than this). The body size is the message's, or the store's while it is paged out.
  struct ready_entry {
    ready_entry(message_ref m, position p, store::disk_location where) noexcept
        : msg(std::move(m)), stored(where), at(p) {}
    std::uint64_t seq() const noexcept { return at.seq(); }
    bool redelivered() const noexcept { return at.redelivered(); }
    // Expired in the middle of the queue: skipped when it reaches the head.
    bool tombstone() const noexcept { return !msg && !stored; }

    message_ref msg;  // empty while paged out
    store::disk_location stored;
    position at;
  };
  static_assert(sizeof(ready_entry) == 24, "a backlog's cost per message");
  struct unacked_entry {
    message_ref msg;  // empty once settled
    position at;
    store::disk_location stored;
    consumer_address consumer;
    std::int64_t delivered_at = 0;
    std::uint64_t seq() const noexcept { return at.seq(); }
  };
  // A message with its own TTL that may expire behind others.
  struct expiry {
    std::int64_t deadline;
    std::uint64_t seq;
    std::uint8_t lane;
    bool operator>(const expiry& o) const noexcept { return deadline > o.deadline; }
  };
  using lane = std::deque<ready_entry>;
  // Consecutive seqs logged as one ack or delivered record.
  class seq_run {
   public:
    explicit seq_run(store::record_type type) : _type(type) {}
    void add(queue& q, std::uint64_t seq);
    void flush(queue& q) {
      if (_count != 0) log(q);
    }
   private:
    void log(queue& q);
    store::record_type _type;
    std::uint64_t _first = 0;
    std::uint32_t _count = 0;
  };
  struct consumer {
    consumer_address address;
    std::string tag;
    std::int64_t priority = 0;  // x-priority: higher ones are served while they have credit
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
  // The lane a message waits in: its priority, capped at x-max-priority (0 without).
  std::uint8_t lane_of(const message& m) const noexcept {
    return std::min<std::uint8_t>(m.priority(), _settings.limits.max_priority);
  }
  // When the entry's message expires (steady ns), INT64_MAX: never.
  // `seq`: the message's place, which says under which x-message-ttl it entered the queue.
  std::int64_t deadline_of(const message& m, std::uint64_t seq) const noexcept;
  std::int64_t deadline_of(std::int64_t own_ttl_ms, std::int64_t published_at, std::uint64_t seq) const noexcept;
  void push_ready(ready_entry&& e, std::uint64_t body_size, std::uint8_t l) {
    ++_ready_count;
    _ready_bytes += body_size;
    _lanes[l].push_back(std::move(e));
  }
  // A ready message's body size, read back from the store if it is paged out.
  std::uint64_t body_size(const ready_entry& e) const {
    if (e.msg) [[likely]] return e.msg->body_size();
    return e.stored ? _store->body_size(e.stored) : 0;
  }
  // A ready message left the count (delivered, dropped, expired).
  void count_out(std::uint64_t body_size) noexcept {
    --_ready_count;
    _ready_bytes -= std::min(body_size, _ready_bytes);  // an unreadable one counts as 0
  }
  // Where seq stands or would stand in a lane (each lane is sorted by seq).
  static lane::iterator seek(lane& l, std::uint64_t seq) {
    return std::lower_bound(l.begin(), l.end(), seq, [](const ready_entry& r, std::uint64_t s) { return r.seq() < s; });
  }
  // A message with its own deadline (own TTL, or a queue TTL that changed) joins the heap.
  void schedule_expiry(std::int64_t deadline, std::uint64_t seq, std::uint8_t lane);
  // The lane whose front goes next (after tombstones are skipped and a paged-out head loaded);
  // null when nothing is ready.
  lane* next_lane() {
    // The usual case: the highest (for most queues the only) lane's head is in memory.
    lane& top = _lanes.back();
    if (!top.empty()) [[likely]] {
      if (top.front().msg) [[likely]] return &top;
    } else if (_lanes.size() == 1) {
      return nullptr;  // all delivered: the usual end of a dispatch
    }
    return next_lane_slow();
  }
  lane* next_lane_slow();
  // Skips the lane's tombstones and loads a paged-out head (dropping unreadable ones); false
  // when the lane has nothing ready.
  bool front_in_memory(lane& l);
  // Takes the next ready message out (next_lane() must have answered).
  ready_entry pop_ready(lane& l) {
    ready_entry e = std::move(l.front());
    l.pop_front();
    count_out(body_size(e));
    return e;
  }
  // A ready message leaves for good (expired, dropped, over the limit): logged as acked and,
  // when the queue has a dead-letter exchange, handed to the sink.
  void discard(ready_entry&& e, death_reason reason, delivery_sink& sink, seq_run& acks);
  void dead_letter(message_ref msg, death_reason reason, delivery_sink& sink);
  // The ready message seq of lane `l` expires: a tombstone where it stood.
  void expire_at(std::uint8_t l, std::uint64_t seq, delivery_sink& sink, seq_run& acks);
  void expire(std::int64_t now, delivery_sink& sink);
  void drop_over_limit(delivery_sink& sink);
  void compact_tombstones();
  bool is_ready(std::uint8_t lane, std::uint64_t seq) noexcept;
  void prune_expiries();
  bool over_limit(std::uint64_t more_messages, std::uint64_t more_bytes) const noexcept;
  void check_consumer_timeouts(std::int64_t now, delivery_sink& sink);
  std::int64_t consumer_timeout_ns() const noexcept;
  void update_timed() noexcept;
  // Numbers a message taken in, counts it and logs it when it is to be stored.
  std::uint64_t admit(const message& msg, store::disk_location& where, enqueue_result& r) {
    const std::uint64_t seq = _next_seq++;
    _stats.on_publish();
    if (_store != nullptr && msg.persistent()) {
      where = store_publish(seq, msg);
      r.set_stored(static_cast<bool>(where));
    }
    return seq;
  }
  store::disk_location store_publish(std::uint64_t seq, const message& msg);
  // enqueue() for queues with limits, priorities or TTL, or a message with its own TTL.
  enqueue_result enqueue_with_limits(message_ref msg, delivery_sink& sink);
  // Some message entered under a queue TTL (now or before a policy changed it).
  bool had_queue_ttl() const noexcept {
    return std::any_of(_ttl_epochs.begin(), _ttl_epochs.end(), [](const auto& e) { return e.second >= 0; });
  }
  // Some unacked deliveries belong to consumers that are gone (single active consumer waits).
  bool departed_unacked() const noexcept;
  // The consumer the next ready message goes to; null when none can take it now.
  consumer* next_consumer() noexcept {
    if (_consumers.size() == 1 && !_settings.limits.single_active_consumer) [[likely]] {
      return _consumers.front().has_credit() ? &_consumers.front() : nullptr;
    }
    return next_consumer_of_many();
  }
  consumer* next_consumer_of_many() noexcept;
  // Delivers a message taken from the ready ones (or that never had to wait) to `c`.
  void hand_over(consumer& c, message_ref msg, position at, store::disk_location stored, delivery_sink& sink,
                 seq_run& acks);
  // Brings a paged-out message back; false if it cannot be read (the entry is dropped).
  bool load(ready_entry& e);
  // A stored message is gone from the queue: logged as acked (through `acks`) and released.
  void forget_stored(std::uint64_t seq, store::disk_location loc, seq_run& acks);
  void forget_stored(std::uint64_t seq, store::disk_location loc);  // one alone
  void take_back(unacked_entry& e, bool requeue, seq_run& acks, delivery_sink& sink);
  // Requeues, newest first, the unacked deliveries of the consumers `match` names.
  template <class Match>
  void requeue_unacked(Match&& match, delivery_sink& sink);
  // After deliveries came back: those whose time is up expire, a full drop-head queue trims.
  void after_requeue(delivery_sink& sink);
  void requeue(ready_entry&& e);
  void trim_settled() noexcept;
  consumer* find_consumer(consumer_address a) noexcept;

  queue_id _id;
  queue_settings _settings;
  queue_stats _stats;
  std::uint64_t _next_seq = 1;
  // Ready messages by priority (one lane unless x-max-priority), each sorted by seq.
  std::vector<lane> _lanes;
  std::size_t _ready_count = 0;  // without tombstones
  std::uint64_t _ready_bytes = 0;
  std::size_t _tombstones = 0;
  std::vector<expiry> _expiries;  // a min-heap by deadline
  // The queue's TTL as messages entered it: (first seq, TTL in ms or -1). A policy that changes
  // it applies to later messages only, as in RabbitMQ; after a change every message with a TTL
  // goes through the heap, as expiry is no longer in publish order.
  std::vector<std::pair<std::uint64_t, std::int64_t>> _ttl_epochs;
  bool _timed = false;  // has a TTL, an expiry or a consumer timeout of its own
  bool _plain = true;   // no TTL, length limit or priorities: enqueue takes its short path
  std::int64_t _last_used = 0;
  std::int64_t _default_consumer_timeout_ms = 0;
  std::vector<consumer> _consumers;  // by priority, highest first; in arrival order within one
  std::size_t _cursor = 0;  // the consumer to try first
  circular_deque<unacked_entry> _unacked;  // _unacked[i] is delivery number _unacked_base + i
  std::uint64_t _unacked_base = 1;
  std::uint32_t _unacked_live = 0;
  std::uint32_t _got_live = 0;  // of those, basic.get's
  bool _ever_consumed = false;
  store::message_store* _store = nullptr;
  std::uint32_t _store_ref = 0;
  std::uint64_t _paged_through = 0;  // ready seqs up to this were looked at by page_out()
  std::vector<message_ref> _dead_letter_scratch;
};

}  // namespace haremq::engine
