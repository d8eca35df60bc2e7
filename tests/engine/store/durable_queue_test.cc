// Covers a durable queue attached to a message store, checked through what a recovery of the
// log finds: persistent messages logged and transient ones not; ack, reject, no-ack delivery,
// basic.get and purge logging acks and releasing (so that segments go); requeue and channel
// loss not acking; release_stored on delete; a deleted queue declared again; page_out dropping
// only written messages past queue::resident_messages (coming back for those written later,
// also behind a transient one), and dispatch reading them back in order and intact (and
// dropping one that cannot be read); the byte count of paged-out messages expiring behind
// others; restored messages expiring when they would have without the restart, and their
// BCC keys; restore() then dispatch, beyond the
// resident head too; log_deliveries marking unacked and requeued messages delivered. Through a
// shard: a publisher's receipt waiting for the batch that holds its message (and the later
// ones of its channel behind it), recover() with all_delivered, paging after store_progressed.
// Not yet: the disk alarm path (a failing store blocking publishers, in the worker), paging
// while consumers requeue into the paged-out part.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/queue.h"
#include "engine/shard.h"
#include "engine/store/message_store.h"
#include "engine/store/recovery.h"
#include "engine/topology.h"
#include "net/amqp/byte_writer.h"
#include "net/amqp/properties.h"
#include "tests/engine/store/store_test_support.h"

namespace haremq::engine {
namespace {

namespace fs = std::filesystem;
using namespace store::test;

std::string body_of(const message_ref& m) { return text(m->body()); }

struct recording_sink final : queue::delivery_sink {
  void deliver(deliver_cmd&& d) override { got.push_back(std::move(d)); }
  void dead_letter(const queue&, message_ref m, queue::death_reason r) override { dead.emplace_back(std::move(m), r); }
  void consumer_cancelled(consumer_address c) override { cancelled.push_back(c); }
  std::vector<std::pair<message_ref, queue::death_reason>> dead;
  std::vector<consumer_address> cancelled;
  std::vector<deliver_cmd> got;
};

recording_sink discard;  // for enqueues nobody consumes


const connection_key connection{worker_id{0}, 7};

consume_cmd consumer(std::uint32_t number, std::uint16_t prefetch, bool no_ack = false) {
  consume_cmd c;
  c.consumer = consumer_address{connection, 1, number};
  c.tag = "ctag" + std::to_string(number);
  c.prefetch = prefetch;
  c.no_ack = no_ack;
  return c;
}

queue_settings durable_settings(std::string name) {
  return queue_settings{std::move(name), "/", true, false, false, {}, {}, {}, {}};
}

class DurableQueueTest : public store_fixture {
 protected:
  DurableQueueTest() { open_store(); }

  void open_store() {
    store.reset();
    store = std::make_unique<test_store>(directory, writer);
  }

  std::unique_ptr<queue> durable_queue(const std::string& name, std::uint64_t incarnation, std::uint32_t id = 1) {
    queue_settings settings = durable_settings(name);
    settings.incarnation = incarnation;
    auto q = std::make_unique<queue>(queue_id{id}, settings);
    q->attach_store(*store);
    return q;
  }

  // Writes what was appended and reads the whole log back, as a restart would.
  std::vector<seen> logged(std::string_view name) {
    EXPECT_TRUE(store->flush_blocking());
    return recovered(name);
  }

  // A restart: the store is written and closed, the log scanned, a new store opened after it.
  store::recovery restart() {
    EXPECT_TRUE(store->flush_blocking());
    store.reset();
    auto r = scan();
    EXPECT_TRUE(r.has_value());
    directory.next_segment.store(r->highest_segment() + 1);
    open_store();
    return std::move(*r);
  }

  std::size_t segments_on_disk() const { return segment_files().size(); }

  // Enqueues messages 1..count, with bodies body_for("q", n).
  static void enqueue_numbered(queue& q, std::uint64_t count) {
    for (std::uint64_t n = 1; n <= count; ++n) q.enqueue(make_message(body_for("q", n)), discard);
  }

  // Queue "q" with messages 1..count, dispatched to the consumer `c` adds.
  std::unique_ptr<queue> dispatched(std::uint64_t count, const consume_cmd& c) {
    auto q = durable_queue("q", 1);
    enqueue_numbered(*q, count);
    EXPECT_FALSE(q->add_consumer(c));
    q->dispatch(sink);
    return q;
  }

  // Enqueues `count` more messages, numbered on from those in `sent`, and keeps them there (so
  // that a message read back cannot reuse an address).
  void enqueue_kept(queue& q, std::size_t count, delivery_mode mode = delivery_mode::persistent) {
    for (std::size_t k = 0; k < count; ++k) {
      auto m = make_message(body_for("q", sent.size() + 1), "amq.direct", "rk", mode);
      sent.push_back(m.share());
      q.enqueue(std::move(m), sink);
    }
  }

  // A queue whose writes wait for the test, with resident_messages + 10 messages in `sent`,
  // all written and the ones past the resident head paged out.
  std::unique_ptr<queue> paged_out_backlog() {
    writer.when = completion::by_hand;
    auto q = durable_queue("q", 1);
    enqueue_kept(*q, queue::resident_messages + 10);
    store->flush();
    writer.finish_all();
    (void)q->page_out();
    return q;
  }

  // Dispatches `q` to a new consumer and expects the messages in `sent`, in order: message i
  // the very one sent if stays(i), else one read back from the store.
  template <class Stays>
  void expect_sent_dispatched(queue& q, Stays stays) {
    ASSERT_FALSE(q.add_consumer(consumer(1, 0)));
    q.dispatch(sink);
    ASSERT_EQ(sink.got.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(body_of(sink.got[i].msg), body_for("q", i + 1)) << i;
      EXPECT_EQ(sink.got[i].msg.get() == sent[i].get(), stays(i)) << i;
    }
  }

  test_writer writer;
  std::unique_ptr<test_store> store;
  recording_sink sink;
  std::vector<message_ref> sent;
};

TEST_F(DurableQueueTest, PersistentMessagesAreLoggedAndTransientOnesAreNot) {
  auto q = durable_queue("q", 1);
  EXPECT_TRUE(q->stored());
  EXPECT_TRUE(q->enqueue(make_message("p1"), sink).stored());
  EXPECT_FALSE(q->enqueue(make_message("t2", "amq.direct", "rk", delivery_mode::transient), sink).stored());
  EXPECT_TRUE(q->enqueue(make_message("p3"), sink).stored());
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(q->ready_count(), 3u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, "p1", false}, {3, "p3", false}}));
}

TEST_F(DurableQueueTest, AQueueWithoutAStoreLogsNothing) {
  queue q(queue_id{1}, durable_settings("q"));
  EXPECT_FALSE(q.stored());
  EXPECT_FALSE(q.enqueue(make_message("p1"), sink).stored());
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(store->idle());
}

TEST_F(DurableQueueTest, AnAckIsLoggedAndReleasesTheMessage) {
  auto q = dispatched(3, consumer(1, 0));
  ASSERT_EQ(sink.got.size(), 3u);
  q->settle(settle_action::ack, {sink.got[0].dseq, sink.got[2].dseq}, sink);
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{2, body_for("q", 2), false}}));
}

TEST_F(DurableQueueTest, AckedMessagesLetTheirSegmentsGo) {
  directory.segment_size = 4096;
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 20; ++i) q->enqueue(make_message(std::string(900, static_cast<char>('a' + i))), sink);
  store->flush();
  EXPECT_GE(segments_on_disk(), 4u);
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 20u);
  delivery_ranges all;
  for (const auto& d : sink.got) all.add(d.dseq);
  q->settle(settle_action::ack, all, sink);
  store->flush();
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_EQ(segments_on_disk(), 1u);  // the one appends go to
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, ARequeueIsNotAnAck) {
  auto q = dispatched(2, consumer(1, 1));
  ASSERT_EQ(sink.got.size(), 1u);
  q->settle(settle_action::requeue, {sink.got[0].dseq}, sink);
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for("q", 1), false}, {2, body_for("q", 2), false}}));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);
  EXPECT_TRUE(sink.got[1].redelivered);
  EXPECT_EQ(body_of(sink.got[1].msg), body_for("q", 1));
}

TEST_F(DurableQueueTest, ARejectWithoutRequeueIsLoggedAsAnAck) {
  auto q = dispatched(2, consumer(1, 0));
  q->settle(settle_action::drop, {sink.got[1].dseq}, sink);
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for("q", 1), false}}));
}

TEST_F(DurableQueueTest, ALostChannelRequeuesWithoutAcking) {
  auto q = dispatched(3, consumer(1, 0));
  q->channel_gone(connection, 0, sink);
  EXPECT_EQ(q->ready_count(), 3u);
  EXPECT_EQ(store->live_messages(), 3u);
  EXPECT_EQ(logged("q").size(), 3u);
}

TEST_F(DurableQueueTest, ANoAckDeliveryIsLoggedAsAnAck) {
  auto q = dispatched(3, consumer(1, 0, true));
  ASSERT_EQ(sink.got.size(), 3u);
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, BasicGetAcksAtOnceWithNoAckAndOnSettleOtherwise) {
  auto q = durable_queue("q", 1);
  enqueue_numbered(*q, 3);
  const get_result a = q->get(reply_to{connection, 1}, true, sink);
  ASSERT_TRUE(a.msg);
  EXPECT_EQ(body_of(a.msg), body_for("q", 1));
  const get_result b = q->get(reply_to{connection, 1}, false, sink);
  ASSERT_TRUE(b.msg);
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{2, body_for("q", 2), false}, {3, body_for("q", 3), false}}));
  q->settle(settle_action::ack, {b.dseq}, sink);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{3, body_for("q", 3), false}}));
}

TEST_F(DurableQueueTest, PurgeAcksTheReadyMessagesOnly) {
  auto q = durable_queue("q", 1);
  enqueue_numbered(*q, 4);
  q->enqueue(make_message("transient", "amq.direct", "rk", delivery_mode::transient), sink);
  ASSERT_FALSE(q->add_consumer(consumer(1, 1)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(q->purge(), 4u);
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for("q", 1), false}}));
  q->settle(settle_action::ack, {sink.got[0].dseq}, sink);
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, ReleaseStoredOnDeleteReleasesReadyAndUnackedMessages) {
  directory.segment_size = 4096;
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 12; ++i) q->enqueue(make_message(std::string(900, static_cast<char>('a' + i))), sink);
  ASSERT_FALSE(q->add_consumer(consumer(1, 2)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);
  q->settle(settle_action::ack, {sink.got[0].dseq}, sink);
  store->flush();
  const std::size_t before = segments_on_disk();
  ASSERT_GE(before, 3u);
  q->release_stored();
  EXPECT_FALSE(q->stored());
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_EQ(segments_on_disk(), 1u);  // every sealed segment went
}

TEST_F(DurableQueueTest, ADeletedQueueDeclaredAgainKeepsItsMessagesApartFromTheOld) {
  // Deleting logs nothing; the incarnations keep them apart: the broker recovers the
  // incarnation its definitions file names (app/restore.cc), never an older one of the name.
  auto old = durable_queue("q", 1);
  old->enqueue(make_message("deleted"), sink);
  store->flush();
  old->release_stored();
  old.reset();
  auto fresh = durable_queue("q", 2);
  fresh->enqueue(make_message("kept"), sink);
  ASSERT_TRUE(store->flush_blocking());
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  std::map<std::uint64_t, std::vector<std::string>> bodies;
  for (const auto& q : r->queues()) {
    for (const auto& m : q.messages) bodies[q.incarnation].emplace_back(amqp::as_chars(r->fields(m).body));
  }
  EXPECT_EQ(bodies[1], std::vector<std::string>{"deleted"});
  EXPECT_EQ(bodies[2], std::vector<std::string>{"kept"});
}

TEST_F(DurableQueueTest, PageOutKeepsMessagesNotYetWritten) {
  writer.when = completion::by_hand;
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 20;
  enqueue_kept(*q, n);
  EXPECT_TRUE(q->page_out());  // nothing written: ask again later
  store->flush();              // in flight is not written either
  EXPECT_TRUE(q->page_out());
  expect_sent_dispatched(*q, [](std::size_t) { return true; });
  writer.finish_all();
}

TEST_F(DurableQueueTest, PageOutDropsWrittenMessagesPastTheResidentHeadAndDispatchReadsThemBack) {
  writer.when = completion::by_hand;
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 40;
  for (std::size_t i = 1; i <= n; ++i) {
    // Transient ones past the head have nowhere to be read from: they stay.
    const bool transient = i > queue::resident_messages && i % 10 == 0;
    auto m = make_message(body_for("q", i), "amq.topic", "k." + std::to_string(i),
                          transient ? delivery_mode::transient : delivery_mode::persistent);
    sent.push_back(m.share());
    q->enqueue(std::move(m), sink);
  }
  store->flush();
  writer.finish_all();
  (void)q->page_out();
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n);
  std::size_t read_back = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const deliver_cmd& d = sink.got[i];
    const message& original = *sent[i];
    EXPECT_EQ(body_of(d.msg), body_for("q", i + 1)) << i;
    EXPECT_EQ(d.msg->exchange(), "amq.topic");
    EXPECT_EQ(d.msg->routing_key(), "k." + std::to_string(i + 1));
    EXPECT_EQ(text(d.msg->properties()), properties);
    EXPECT_FALSE(d.redelivered);
    const bool resident = i < queue::resident_messages || !original.persistent();
    if (resident) {
      EXPECT_EQ(d.msg.get(), &original) << i;
    } else {
      EXPECT_NE(d.msg.get(), &original) << i;
      ++read_back;
    }
  }
  EXPECT_EQ(read_back, 36u);
}

TEST_F(DurableQueueTest, PageOutLooksAgainAtMessagesWrittenLater) {
  auto q = paged_out_backlog();
  enqueue_kept(*q, 10);  // not written yet
  store->flush();
  (void)q->page_out();
  writer.finish_all();
  enqueue_kept(*q, 5);  // never written before dispatch
  (void)q->page_out();
  store->flush();

  // The head stays; the next 10 went at the first page_out, the 10 after them once written.
  expect_sent_dispatched(*q, [&](std::size_t i) { return i < queue::resident_messages || i >= sent.size() - 5; });
  writer.finish_all();
}

TEST_F(DurableQueueTest, PageOutComesBackForStoredMessagesBehindANewerTransientOne) {
  // A transient message newer than stored ones not yet written must not mark them as looked
  // at: once written, a later page_out drops them (it once skipped them for good).
  auto q = paged_out_backlog();
  enqueue_kept(*q, 10);                          // in flight at the next page_out...
  enqueue_kept(*q, 1, delivery_mode::transient);  // ...behind a transient one
  store->flush();
  (void)q->page_out();
  writer.finish_all();
  q->page_out();  // now written: they may go

  expect_sent_dispatched(*q, [&](std::size_t i) { return i < queue::resident_messages || i == sent.size() - 1; });
}

TEST_F(DurableQueueTest, ReadyBytesCountPagedOutMessagesThatExpireBehindOthers) {
  // The byte count (x-max-length-bytes, the API's message_bytes_ready) of a message that
  // expires while paged out, deep in the queue, comes from its record.
  writer.when = completion::by_hand;
  turn_clock::current_ns = 1'000'000'000;
  auto q = durable_queue("q", 1);
  std::uint64_t kept_bytes = 0;
  const std::size_t n = queue::resident_messages + 30;
  for (std::size_t i = 1; i <= n; ++i) {
    const bool short_lived = i > queue::resident_messages + 10 && i <= queue::resident_messages + 20;
    const std::string body = body_for("q", i, 10 + i % 50);
    message* m = message::create("amq.direct", "rk", amqp::as_bytes(properties), body.size(),
                                 message_traits{.persistent = true, .ttl_ms = short_lived ? 5 : -1});
    ASSERT_TRUE(m->append_body(amqp::as_bytes(body)));
    q->enqueue(message_ref{m}, sink);
    if (!short_lived) kept_bytes += body.size();
  }
  store->flush();
  writer.finish_all();
  (void)q->page_out();
  turn_clock::current_ns += 10'000'000;
  q->run_timers(turn_clock::now(), sink);
  EXPECT_EQ(q->ready_count(), n - 10);
  EXPECT_EQ(q->ready_bytes(), kept_bytes);
  // The rest are delivered whole, the tombstones skipped; nothing is left counted.
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  EXPECT_EQ(sink.got.size(), n - 10);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->ready_bytes(), 0u);
  turn_clock::current_ns = 0;
}

TEST_F(DurableQueueTest, APagedOutMessageThatCannotBeReadIsDroppedAndAcked) {
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 10;
  enqueue_numbered(*q, n);
  store->flush();
  (void)q->page_out();
  // Damage the record of one paged-out message in its file.
  const std::size_t victim = queue::resident_messages + 4;  // 0-based
  const std::string needle = body_for("q", victim + 1);
  bool damaged = false;
  for (const auto& e : fs::directory_iterator(directory.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = content.find(needle);
    if (at == std::string::npos) continue;
    const int fd = ::open(e.path().c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const char flipped = static_cast<char>(content[at + 2] ^ 0x40);
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(at + 2)), 1);
    ::close(fd);
    damaged = true;
  }
  ASSERT_TRUE(damaged);

  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n - 1);
  for (std::size_t i = 0; i < n - 1; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), body_for("q", i < victim ? i + 1 : i + 2)) << i;
  }
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(store->live_messages(), n - 1);  // the dropped one was released
}

TEST_F(DurableQueueTest, RestoredMessagesExpireWhenTheyWouldHaveWithoutTheRestart) {
  // Messages with a TTL keep their publish time in the log: after a restart they expire at
  // the same moment, in the resident head or past it (paged out at once), and a BCC key
  // outlives the restart too.
  turn_clock::current_ns = 5'000'000'000;
  auto with_expiration = [](std::string_view ttl, std::vector<std::byte>& buffer) {
    amqp::basic_properties p;
    p.set(amqp::property::delivery_mode);
    p.delivery_mode = 2;
    p.set(amqp::property::expiration);
    p.expiration = ttl;
    buffer.resize(256);
    amqp::byte_writer w{buffer};
    amqp::write_properties(w, p);
    buffer.resize(w.position());
    return amqp::bytes_view(buffer);
  };
  std::vector<std::byte> short_ttl, long_ttl;
  with_expiration("1000", short_ttl);
  with_expiration("100000", long_ttl);
  const std::string bcc("S\0\0\0\4bcc1", 9);
  const std::size_t n = queue::resident_messages + 20;
  {
    auto q = durable_queue("q", 1);
    for (std::size_t i = 1; i <= n; ++i) {
      // Message 1 and messages past the head but the last 5 die after 1 s; the last 5 live long.
      const bool dies = i == 1 || (i > queue::resident_messages && i <= n - 5);
      const bool timed = dies || i > n - 5;
      const std::string body = body_for("q", i);
      message* m = message::create("amq.direct", "rk", timed ? (dies ? amqp::bytes_view(short_ttl) : amqp::bytes_view(long_ttl))
                                                             : amqp::as_bytes(properties),
                                   body.size(), message_traits{.persistent = true, .ttl_ms = timed ? (dies ? 1000 : 100000) : -1},
                                   i == n ? amqp::as_bytes(bcc) : amqp::bytes_view{});
      ASSERT_TRUE(m->append_body(amqp::as_bytes(body)));
      q->enqueue(message_ref{m}, sink);
    }
  }
  auto r = restart();
  const store::recovered_queue* found = find_queue(r, "/", "q");
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->messages.size(), n);
  turn_clock::current_ns += 2'000'000'000;  // the broker was down for 2 s
  auto q = durable_queue("q", found->incarnation);
  for (const auto& m : found->messages) q->restore(r.fields(m), m.delivered);
  ASSERT_TRUE(store->flush_blocking());  // as recovery does: the paged-out part can be read
  EXPECT_EQ(q->ready_count(), n);
  q->run_timers(turn_clock::now(), sink);
  const std::size_t left = n - 1 - (n - 5 - queue::resident_messages);
  EXPECT_EQ(q->ready_count(), left);
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), left);
  EXPECT_EQ(body_of(sink.got.front().msg), body_for("q", 2));
  EXPECT_EQ(body_of(sink.got[queue::resident_messages - 1].msg), body_for("q", n - 4));
  const message& last = *sink.got.back().msg;
  EXPECT_EQ(body_of(sink.got.back().msg), body_for("q", n));
  EXPECT_TRUE(last.header_routes());
  EXPECT_EQ(text(last.bcc().bytes()), bcc);
  turn_clock::current_ns = 0;
}

TEST_F(DurableQueueTest, RestoredMessagesAreDispatchedWithTheirFieldsAndDeliveredMarks) {
  {
    auto q = durable_queue("q", 42);
    for (int i = 1; i <= 5; ++i) q->enqueue(make_message(body_for("q", i), "amq.direct", "key" + std::to_string(i)), sink);
    ASSERT_FALSE(q->add_consumer(consumer(1, 2)));
    q->dispatch(sink);
    ASSERT_EQ(sink.got.size(), 2u);
    q->settle(settle_action::ack, {sink.got[0].dseq}, sink);
    q->log_deliveries();  // a clean stop: message 2 was delivered
  }
  sink.got.clear();
  auto r = restart();
  const store::recovered_queue* found = find_queue(r, "/", "q");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->incarnation, 42u);
  ASSERT_EQ(found->messages.size(), 4u);

  auto q = durable_queue("q", found->incarnation);
  for (const auto& m : found->messages) q->restore(r.fields(m), m.delivered);
  EXPECT_EQ(q->ready_count(), 4u);
  EXPECT_EQ(store->live_messages(), 4u);
  ASSERT_TRUE(store->flush_blocking());
  ASSERT_TRUE(remove_all_segments(r));

  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& d = sink.got[i];
    EXPECT_EQ(body_of(d.msg), body_for("q", i + 2));
    EXPECT_EQ(d.msg->exchange(), "amq.direct");
    EXPECT_EQ(d.msg->routing_key(), "key" + std::to_string(i + 2));
    EXPECT_EQ(text(d.msg->properties()), properties);
    EXPECT_TRUE(d.msg->persistent());
    EXPECT_EQ(d.redelivered, i == 0) << i;
  }
  // Logged again in this run's store, under their old seqs; a new message comes after them.
  EXPECT_TRUE(q->enqueue(make_message("new"), sink).stored());
  const auto again = logged("q");
  ASSERT_EQ(again.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(again[i].seq, i + 2);
  EXPECT_EQ(again[4], (seen{6, "new", false}));
}

TEST_F(DurableQueueTest, RestoreBeyondTheResidentHeadReadsTheRestFromTheStore) {
  const std::size_t n = queue::resident_messages + 25;
  {
    auto q = durable_queue("q", 1);
    enqueue_numbered(*q, n);
  }
  auto r = restart();
  const store::recovered_queue* found = find_queue(r, "/", "q");
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->messages.size(), n);
  auto q = durable_queue("q", found->incarnation);
  for (const auto& m : found->messages) q->restore(r.fields(m), m.delivered);
  ASSERT_TRUE(store->flush_blocking());  // as the broker does before it starts
  ASSERT_TRUE(remove_all_segments(r));
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), body_for("q", i + 1)) << i;
    EXPECT_FALSE(sink.got[i].redelivered);
  }
}

TEST_F(DurableQueueTest, LogDeliveriesMarksUnackedAndRequeuedMessagesDelivered) {
  auto q = dispatched(6, consumer(1, 3));
  ASSERT_EQ(sink.got.size(), 3u);
  q->remove_consumer(consumer(1, 3).consumer);
  q->settle(settle_action::requeue, {sink.got[1].dseq}, sink);  // 2: requeued, redelivered next time
  q->settle(settle_action::ack, {sink.got[2].dseq}, sink);      // 3: gone
  // 1: delivered and unacked; 4, 5, 6: never delivered.
  q->log_deliveries();
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for("q", 1), true},
                                            {2, body_for("q", 2), true},
                                            {4, body_for("q", 4), false},
                                            {5, body_for("q", 5), false},
                                            {6, body_for("q", 6), false}}));
}

// Through the shard: the receipts a publisher's confirms wait for.
class recording_outbox final : public outbox {
 public:
  void post(worker_id, command&& c) override { posted.push_back(std::move(c)); }
  // The seqs of the enqueued_cmd posted for channel `channel`, and forgets them.
  std::vector<std::uint64_t> take_receipts(std::uint16_t channel) {
    std::vector<std::uint64_t> out;
    for (auto it = posted.begin(); it != posted.end();) {
      const auto* e = std::get_if<enqueued_cmd>(&*it);
      if (e != nullptr && e->receipt.to.channel == channel) {
        out.push_back(e->receipt.seq);
        it = posted.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  std::vector<deliver_cmd> take_deliveries() {
    std::vector<deliver_cmd> out;
    for (auto& c : posted) {
      if (auto* d = std::get_if<deliver_cmd>(&c)) out.push_back(std::move(*d));
    }
    posted.clear();
    return out;
  }
  std::vector<command> posted;
};

class DurableShardTest : public DurableQueueTest {
 protected:
  DurableShardTest() {
    writer.when = completion::by_hand;
    owner.create_queue(record);
  }
  ~DurableShardTest() override { writer.finish_all(); }

  void publish(std::uint16_t channel, std::uint64_t seq, delivery_mode mode, const std::string& body = "x") {
    owner.handle(enqueue_cmd{record.id, make_message(body, "amq.direct", "rk", mode),
                             enqueue_receipt{reply_to{connection, channel}, 1, seq}});
  }

  // The store writes what was appended, and the shard hears of it.
  void write_batch() {
    store->flush();
    writer.finish_all();
    owner.store_progressed();
  }

  queue_record record{queue_id{5}, worker_id{0}, durable_settings("q")};
  topology_store topology;
  recording_outbox out;
  shard owner{worker_id{0}, topology, out, store.get()};
};

TEST_F(DurableShardTest, AReceiptWaitsUntilTheBatchHoldingItsMessageIsOnDisk) {
  ASSERT_TRUE(owner.find(record.id)->stored());
  publish(1, 1, delivery_mode::persistent);
  owner.flush_receipts();
  EXPECT_TRUE(out.take_receipts(1).empty());
  store->flush();
  owner.store_progressed();
  EXPECT_TRUE(out.take_receipts(1).empty());  // in flight is not on disk
  writer.finish_all();
  owner.store_progressed();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{1});
}

TEST_F(DurableShardTest, APublishToATransientAndAStoredQueueHereIsConfirmedOnlyFromDisk) {
  // One publish (seq 1) routed to a non-durable queue and to the durable one, both on this
  // worker, even in two turns: only the last enqueue answers, and the stored one holds it.
  queue_settings plain = durable_settings("plain");
  plain.durable = false;
  const queue_record transient_record{queue_id{6}, worker_id{0}, plain};
  owner.create_queue(transient_record);
  const enqueue_receipt first{reply_to{connection, 1}, 1, 1, /*more=*/true};
  const enqueue_receipt last{reply_to{connection, 1}, 1, 1, /*more=*/false};
  for (const bool stored_first : {true, false}) {
    out.take_receipts(1);
    const queue_id a = stored_first ? record.id : transient_record.id;
    const queue_id b = stored_first ? transient_record.id : record.id;
    owner.handle(enqueue_cmd{a, make_message("x", "amq.fanout", "", delivery_mode::persistent), first});
    owner.flush_receipts();  // the turn ends between the two
    owner.handle(enqueue_cmd{b, make_message("x", "amq.fanout", "", delivery_mode::persistent), last});
    owner.flush_receipts();
    const auto early = out.take_receipts(1);
    EXPECT_TRUE(std::find(early.begin(), early.end(), 1u) == early.end()) << stored_first;
    write_batch();
    const auto late = out.take_receipts(1);
    EXPECT_TRUE(std::find(late.begin(), late.end(), 1u) != late.end()) << stored_first;
  }
}

TEST_F(DurableShardTest, APublishDuringAnInFlightWriteWaitsForTheNextBatch) {
  publish(1, 1, delivery_mode::persistent);
  store->flush();
  publish(1, 2, delivery_mode::persistent);
  writer.finish_all();
  owner.store_progressed();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{1});
  write_batch();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{2});
}

TEST_F(DurableShardTest, ATransientPublishBehindAStoredOneWaitsForIt) {
  publish(1, 1, delivery_mode::persistent);
  publish(1, 2, delivery_mode::transient);
  publish(2, 1, delivery_mode::transient);  // another channel: nothing to wait for
  owner.flush_receipts();
  EXPECT_TRUE(out.take_receipts(1).empty());
  EXPECT_EQ(out.take_receipts(2), std::vector<std::uint64_t>{1});
  write_batch();
  // One receipt covers both.
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{2});
}

TEST_F(DurableShardTest, RecoverAfterACrashDeliversEverythingAsRedelivered) {
  for (std::uint64_t i = 1; i <= 3; ++i) publish(1, i, delivery_mode::persistent, body_for("q", i));
  writer.finish_all();
  auto r = restart();
  writer.when = completion::by_hand;
  const store::recovered_queue* found = find_queue(r, "/", "q");
  ASSERT_NE(found, nullptr);
  recording_outbox out2;
  shard next{worker_id{0}, topology, out2, store.get()};
  queue_record again{queue_id{6}, worker_id{0}, durable_settings("q")};
  again.settings.incarnation = found->incarnation;  // as the definitions file says
  next.create_queue(again);
  EXPECT_EQ(next.recover(again.id, r, found->messages, 0, r.file_count(), true), found->messages.size());
  ASSERT_TRUE(store->flush_blocking());
  ASSERT_NE(next.find(again.id), nullptr);
  EXPECT_EQ(next.find(again.id)->incarnation(), found->incarnation);
  consume_cmd c = consumer(1, 0);
  c.queue = again.id;
  next.handle(std::move(c));
  const auto got = out2.take_deliveries();
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(body_of(got[i].msg), body_for("q", i + 1));
    EXPECT_TRUE(got[i].redelivered);
  }
}

TEST_F(DurableShardTest, AStoredBacklogLeavesMemoryOnceTheStoreProgressed) {
  const std::size_t n = queue::resident_messages + 8;
  for (std::size_t i = 1; i <= n; ++i) {
    auto m = make_message(body_for("q", i));
    sent.push_back(m.share());
    owner.handle(enqueue_cmd{record.id, std::move(m), {}});
  }
  write_batch();
  consume_cmd c = consumer(1, 0);
  c.queue = record.id;
  owner.handle(std::move(c));
  const auto got = out.take_deliveries();
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(got[i].msg), body_for("q", i + 1));
    EXPECT_EQ(got[i].msg.get() == sent[i].get(), i < queue::resident_messages) << i;
  }
}

}  // namespace
}  // namespace haremq::engine
