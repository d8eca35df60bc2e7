#pragma once

#include <cstdint>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/delivery_ranges.h"
#include "engine/ids.h"
#include "engine/message.h"
#include "net/amqp/constants.h"

namespace haremq::session {
class worker_context;
}

// The commands workers send each other through their mailboxes. A queue lives on one
// worker (its owner), a connection and its channels on one worker; everything that crosses
// from one to the other is one of these. Commands from one sender arrive in the order sent.
namespace haremq::engine {

// A channel that waits for an answer: where the answer goes.
struct reply_to {
  connection_key connection;
  std::uint16_t channel = 0;
};

// What a publisher that must hear back (publisher confirms, tx.commit) attaches to an
// enqueue: its channel, which incarnation of that channel number, and the publish's number.
// seq 0: nobody waits.
struct enqueue_receipt {
  reply_to to;
  std::uint32_t incarnation = 0;
  std::uint64_t seq = 0;
  // Another enqueue of the same publish follows to the same worker: this one answers nothing,
  // but if its queue stores the message, the last one's answer waits for the disk too.
  bool more = false;
  // The same incarnation of the same channel: its receipts cover one another.
  bool same_channel(const enqueue_receipt& o) const noexcept {
    return to.connection == o.to.connection && to.channel == o.to.channel && incarnation == o.incarnation;
  }
};

// publisher's worker -> queue owner: a routed message.
struct enqueue_cmd {
  queue_id queue;
  message_ref msg;
  enqueue_receipt receipt;
};

// queue owner -> publisher's worker: every enqueue of that channel up to `receipt.seq`
// that went to worker `from` is in its queue, but for the publishes in `rejected` (a queue at
// its length limit refused them: basic.nack). One per channel per batch the owner handled.
struct enqueued_cmd {
  enqueue_receipt receipt;
  worker_id from;
  std::vector<std::uint64_t> rejected;  // ascending; empty but for reject-publish queues
};

// queue owner -> consumer's worker: one delivery. `dseq` numbers the queue's deliveries.
struct deliver_cmd {
  consumer_address consumer;
  queue_id queue;
  worker_id owner;  // the queue's worker, where a settlement goes
  std::uint64_t dseq = 0;
  message_ref msg;
  bool redelivered = false;
};

enum class settle_action : std::uint8_t {
  ack,             // done with it
  requeue,         // back to the queue, redelivered=true
  drop,            // rejected without requeue (dead-lettering arrives with queue arguments)
};

// consumer's worker -> queue owner: acks, nacks and rejects of deliveries of one queue.
struct settle_cmd {
  queue_id queue;
  settle_action action = settle_action::ack;
  delivery_ranges dseqs;
};

struct consume_cmd {
  queue_id queue;
  consumer_address consumer;
  std::string tag;
  std::int64_t priority = 0;   // x-priority
  std::uint16_t prefetch = 0;  // 0: unlimited
  bool no_ack = false;
  bool exclusive = false;
  std::uint32_t channel_credit = UINT32_MAX;  // basic.qos global: the channel's room
  reply_to reply;
};

// consumer's worker -> queue owner: the consumer's channel has room for `credit` more
// deliveries (basic.qos global=true); UINT32_MAX: no channel limit.
struct credit_cmd {
  queue_id queue;
  consumer_address consumer;
  std::uint32_t credit = UINT32_MAX;
};

// consumer's worker -> queue owner: `written` more deliveries (`bytes` of bodies) to the
// consumer have gone into its connection's output. A queue keeps at most a window of
// deliveries and of body bytes in flight to a consumer (acked or not), so a consumer that does
// not read holds its queue back instead of filling the broker's memory, as TCP back-pressure
// does in RabbitMQ.
inline constexpr std::uint32_t delivery_window = 8192;
inline constexpr std::uint64_t delivery_window_bytes = 4 * 1024 * 1024;
struct written_cmd {
  queue_id queue;
  consumer_address consumer;
  std::uint32_t written = 0;
  std::uint64_t bytes = 0;
};

struct cancel_cmd {
  queue_id queue;
  consumer_address consumer;
  // Answered with cancel_ok once the consumer is gone, after any delivery already sent to it:
  // the channel says cancel-ok only then, as RabbitMQ does, so nothing reaches a consumer the
  // client believes cancelled, and a publish that follows cancel-ok goes to the others.
  reply_to reply;
};

// A channel (or a whole connection, channel 0) is gone: its consumers stop and its
// unacked deliveries go back to the queue. A client that closed it itself waits for the
// queue's `released` answer before close-ok, so that the deliveries are back in the queue
// by the time the client hears close-ok (RabbitMQ 3.10, probed: 0 in 200 connection closes
// and 2 in 200 channel closes were answered before the requeue).
struct channel_gone_cmd {
  queue_id queue;
  connection_key connection;
  std::uint16_t channel = 0;  // 0: every channel of the connection
  bool answer = false;        // reply `released` to {connection, channel}
};

struct get_cmd {
  queue_id queue;
  reply_to reply;
  bool no_ack = false;
};

enum class queue_op : std::uint8_t { declare_check, purge, remove };

struct queue_op_cmd {
  queue_id queue;
  queue_op op = queue_op::declare_check;
  bool if_unused = false;
  bool if_empty = false;
  reply_to reply;
};

// Answers to a waiting channel.
struct queue_counts {
  std::uint32_t messages = 0;
  std::uint32_t consumers = 0;
};
struct reply_error {
  amqp::reply_code code = amqp::reply_code::reply_success;
  std::string text;
};
struct get_result {
  message_ref msg;  // empty: get-empty
  std::uint64_t dseq = 0;
  bool redelivered = false;
  std::uint32_t remaining = 0;
  queue_id queue;
  worker_id owner;
};
struct consume_ok {
  consumer_address consumer;
};
struct cancel_ok {
  consumer_address consumer;
};
struct released {};  // a channel_gone_cmd with `answer` is done
using reply_payload = std::variant<queue_counts, reply_error, get_result, consume_ok, cancel_ok, released>;

struct channel_reply_cmd {
  reply_to to;
  reply_payload payload;
};

// queue owner -> consumer's worker: the queue went away under the consumer.
struct consumer_cancelled_cmd {
  consumer_address consumer;
};

// queue owner -> publisher's worker: a block-publishers queue is full (`full`), so the
// connection stops reading until every such queue has room again (full=false).
struct queue_full_cmd {
  connection_key connection;
  queue_id queue;
  bool full = true;
  std::string reason;  // for connection.blocked
};

// management -> a worker: work to run on that worker's thread (gathering its statistics, a
// purge or a publish asked over HTTP). Rare; shared, so that one task can go to every worker.
struct task_cmd {
  std::shared_ptr<const std::function<void(session::worker_context&)>> run;
};

using command = std::variant<enqueue_cmd, deliver_cmd, settle_cmd, consume_cmd, credit_cmd, cancel_cmd,
                             channel_gone_cmd, get_cmd, queue_op_cmd, channel_reply_cmd, consumer_cancelled_cmd,
                             enqueued_cmd, written_cmd, queue_full_cmd, task_cmd>;

// The channel a command is for, when it goes to a connection rather than to a queue.
inline std::optional<reply_to> addressee(const command& c) noexcept {
  if (const auto* d = std::get_if<deliver_cmd>(&c)) return reply_to{d->consumer.connection, d->consumer.channel};
  if (const auto* r = std::get_if<channel_reply_cmd>(&c)) return r->to;
  if (const auto* x = std::get_if<consumer_cancelled_cmd>(&c)) return reply_to{x->consumer.connection, x->consumer.channel};
  if (const auto* e = std::get_if<enqueued_cmd>(&c)) return e->receipt.to;
  if (const auto* f = std::get_if<queue_full_cmd>(&c)) return reply_to{f->connection, 0};
  return std::nullopt;
}

}  // namespace haremq::engine
