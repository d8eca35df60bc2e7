#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "engine/command.h"
#include "engine/ids.h"
#include "engine/session/description.h"
#include "engine/session/reply.h"
#include "engine/topology.h"
#include "net/amqp/methods.h"

// One AMQP channel of a connection: content assembly for publishes, routing, confirms,
// transactions, consumers, delivery tags and their settlement. Lives on its connection's
// worker; not thread-safe. Methods that need a queue's owner (consume, get, purge, delete,
// a declare of another worker's queue) make the channel wait for the reply; the connection
// stops reading meanwhile, so replies keep the order of requests (spec §4.7).
namespace haremq::session {

class connection;

class channel {
 public:
  channel_description describe() const;
  // `incarnation` tells this channel from an earlier one of the same number, whose late
  // enqueue receipts must not count here.
  channel(connection& owner, std::uint16_t number, std::uint32_t incarnation);
  ~channel();

  std::uint16_t number() const noexcept { return _number; }
  bool closing() const noexcept { return _closing; }
  bool awaiting() const noexcept { return _pending.kind != pending_kind::none; }

  std::optional<protocol_error> on_method(const amqp::method& m);
  std::optional<protocol_error> on_header(amqp::bytes_view payload);
  std::optional<protocol_error> on_body(amqp::bytes_view payload);
  bool expecting_content() const noexcept { return _content.state != content_state::none; }

  void on_reply(engine::reply_payload&& reply);
  void on_deliver(engine::deliver_cmd&& d);
  void on_consumer_cancelled(engine::consumer_address consumer);
  // The connection's output drained: consumers' windows reopen.
  void on_output_room();
  // A queue owner has taken this channel's enqueues up to `receipt.seq`.
  // `rejected`: publishes a queue refused (reject-publish), nacked instead of acked.
  void on_enqueued(engine::worker_id from, const engine::enqueue_receipt& receipt,
                   const std::vector<std::uint64_t>& rejected);

  // Sends the publisher confirms gathered while handling a batch of frames, as one
  // basic.ack with multiple=true where possible.
  void flush_confirms();
  // We sent channel.close: until close-ok, everything else is dropped (spec §1.5.2.5).
  void start_closing() noexcept { _closing = true; }
  // The channel ends: consumers stop and unacked deliveries go back to their queues. With
  // `answer`, each queue told says `released` when done; returns how many will.
  std::size_t release(bool answer = false);
  // The client closed the channel: close-ok waits until `answers` queues have released it.
  void await_release(std::size_t answers) noexcept { _release_answers_due = answers; }
  bool releasing() const noexcept { return _release_answers_due != 0; }
  // One queue released the channel; true when it was the last one awaited.
  bool on_released() noexcept { return _release_answers_due != 0 && --_release_answers_due == 0; }

 private:
  enum class pending_kind { none, declare, consume, get, purge, remove, cancel, commit };
  enum class content_state { none, header, body };

  struct pending {
    pending_kind kind = pending_kind::none;
    bool no_wait = false;
    bool no_ack = false;
    std::string name;  // queue name or consumer tag
    std::uint32_t consumer = 0;
  };
  struct consumer {
    std::uint32_t number = 0;
    std::string tag;
    engine::queue_target queue;
    bool no_ack = false;
    std::uint16_t prefetch = 0;
    bool exclusive = false;
    std::uint32_t unreported = 0;  // deliveries written to the output since the queue last heard
    std::uint64_t unreported_bytes = 0;  // ... and their bodies' bytes
  };
  struct unacked {
    std::uint64_t tag = 0;
    engine::queue_target queue;
    std::uint64_t dseq = 0;
    bool settled = false;
    bool counted = false;  // a consumer's delivery: counts against the channel's prefetch
    std::uint32_t consumer = 0;  // its consumer's number; 0: basic.get
  };
  struct tx_publish {
    engine::message_ref msg;
    std::vector<engine::queue_target> targets;
  };

  using method_result = std::optional<protocol_error>;
  method_result handle(const amqp::channel_flow& m);
  method_result handle(const amqp::exchange_declare& m);
  method_result handle(const amqp::exchange_delete& m);
  method_result handle(const amqp::exchange_bind& m);
  method_result handle(const amqp::exchange_unbind& m);
  method_result handle(const amqp::queue_declare& m);
  method_result handle(const amqp::queue_bind& m);
  method_result handle(const amqp::queue_unbind& m);
  method_result handle(const amqp::queue_purge& m);
  method_result handle(const amqp::queue_delete& m);
  method_result handle(const amqp::basic_qos& m);
  method_result handle(const amqp::basic_consume& m);
  method_result handle(const amqp::basic_cancel& m);
  method_result handle(const amqp::basic_publish& m);
  method_result handle(const amqp::basic_get& m);
  method_result handle(const amqp::basic_ack& m);
  method_result handle(const amqp::basic_reject& m);
  method_result handle(const amqp::basic_nack& m);
  method_result handle(const amqp::basic_recover_async& m);
  method_result handle(const amqp::basic_recover& m);
  method_result handle(const amqp::confirm_select& m);
  method_result handle(const amqp::tx_select& m);
  method_result handle(const amqp::tx_commit& m);
  method_result handle(const amqp::tx_rollback& m);

  method_result publish_complete();
  protocol_error content_expected() const;
  // Global prefetch (basic.qos global=true): how many more deliveries the channel may
  // take, told to every consumer's queue whenever it changes.
  std::uint32_t channel_room() const noexcept;
  void grant_channel_credit();
  void release_held();
  void settled_from_window(const std::vector<unacked>& batch);
  // `freed` deliveries no longer hold the channel's prefetch (basic.qos global).
  void free_channel_room(std::uint32_t freed);
  // Posts the message to every target queue; `seq` != 0 asks the owners for receipts.
  void route_and_enqueue(engine::message_ref msg, const std::vector<engine::queue_target>& targets, std::uint64_t seq);
  // Recomputes how far every publish has been taken by all its queues.
  void update_enqueued_upto() noexcept;
  method_result settle(std::uint64_t tag, bool multiple, engine::settle_action action, amqp::method_id method);
  void send_settle(engine::settle_action action, std::vector<unacked>& batch);
  void write_content(const engine::message_ref& msg);
  // A delivery to `c` went into the output: tell its queue, in batches, unless the output is
  // backed up (then on_output_room() does, once it drains).
  void note_written(consumer& c, std::uint64_t body_bytes);
  void report_written(consumer& c);
  template <class M>
  void write_method(const M& m);
  void wait_for(pending p);
  void touch(engine::queue_target q);
  std::optional<engine::queue_target> lookup_queue(std::string_view name, amqp::method_id method, protocol_error& error);
  // RabbitMQ's 403 ACCESS_REFUSED unless the user may do `what` to the named resource.
  method_result refuse_unless(engine::access::permission what, engine::access::resource_kind kind,
                              std::string_view name, amqp::method_id method);
  // RabbitMQ's rule for declaring a queue or exchange that sends messages on (its
  // `argument`, x-dead-letter-exchange or alternate-exchange): read on it, write on where
  // they go. Asked only for one that does not exist yet.
  method_result refuse_forwarding(engine::access::resource_kind kind, std::string_view name,
                                  const amqp::field_table& arguments, std::string_view argument, amqp::method_id method);
  method_result refuse_binding(engine::access::resource_kind destination_kind, std::string_view destination,
                               std::string_view source, amqp::method_id method);
  consumer* find_consumer(std::uint32_t number) noexcept;
  void forget_consumer(std::uint32_t number);
  engine::reply_to reply_address() const noexcept;

  connection& _connection;
  std::uint16_t _number;
  bool _closing = false;
  std::size_t _release_answers_due = 0;
  pending _pending;

  // Content being assembled after basic.publish.
  struct {
    content_state state = content_state::none;
    std::string exchange;
    std::string routing_key;
    bool mandatory = false;
    engine::message_ref msg;
    // What is wrong with its properties (user_id, expiration, CC/BCC): RabbitMQ says so only
    // after the exchange checks, once the content is in.
    std::optional<protocol_error> invalid;
    std::vector<std::byte> without_bcc;  // its properties re-encoded when BCC is taken out
  } _content;

  std::uint16_t _prefetch = 0;  // for consumers started from now on
  std::uint16_t _global_prefetch = 0;  // 0: no channel-wide limit
  std::uint32_t _acked_unacked = 0;  // unsettled deliveries to consumers that ack
  std::deque<engine::deliver_cmd> _held;  // arrived beyond the channel's limit
  std::vector<consumer> _consumers;
  std::uint32_t _next_consumer = 1;
  std::deque<unacked> _unacked;  // ordered by tag
  std::uint64_t _next_delivery_tag = 1;
  std::vector<engine::queue_target> _touched;  // queues holding consumers or unacked of this channel

  // Publishes that wait for their queues (confirm mode, or a tx.commit) are numbered; a
  // confirm or commit-ok goes out only once every queue a publish was routed to has it.
  struct owner_progress {
    std::uint64_t posted = 0;     // last seq sent to this worker
    std::uint64_t taken = 0;      // last seq this worker has confirmed taking
    std::uint64_t lag_start = 0;  // first seq posted since the worker was last caught up
  };
  std::vector<owner_progress> _owners;  // by worker id
  std::uint64_t _next_publish_seq = 1;
  std::uint64_t _routed_upto = 0;    // publishes up to here are routed and posted
  std::uint64_t _enqueued_upto = 0;  // ... and taken by every queue
  std::uint32_t _incarnation = 0;

  bool _confirming = false;
  std::uint64_t _confirmed_upto = 0;  // acks up to here were sent
  std::vector<std::uint64_t> _rejected;  // publishes to nack, ascending
  std::uint64_t _commit_upto = 0;     // a tx.commit waits for this publish

  bool _transactional = false;
  std::vector<tx_publish> _tx_publishes;
  std::vector<std::pair<engine::settle_action, std::vector<unacked>>> _tx_settles;

  std::vector<engine::queue_target> _route_scratch;
  // The exchange the last publish went to: allowed at that access version, found in that
  // replica version. Most channels publish to one exchange, so a publish costs comparisons,
  // not a regex and two map lookups.
  struct {
    std::string name;
    std::uint64_t access_version = 0;
    std::uint64_t replica_version = 0;
    engine::topology_replica::exchange_handle found;
  } _publish_target;
  std::vector<std::size_t> _last_target_of_owner;  // scratch of route_and_enqueue, by worker id
  std::vector<unacked> _settle_scratch;
};

}  // namespace haremq::session
