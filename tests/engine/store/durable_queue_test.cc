// Covers a durable queue attached to a message store, checked through what a recovery of the
// log finds: persistent messages logged and transient ones not; ack, reject, no-ack delivery,
// basic.get and purge logging acks and releasing (so that segments go); requeue and channel
// loss not acking; release_stored on delete; a deleted queue declared again; page_out dropping
// only written messages past queue::resident_messages (coming back for those written later,
// also behind a transient one), and dispatch reading them back in order and intact (and
// dropping one that cannot be read); restore() then dispatch, beyond the
// resident head too; log_deliveries marking unacked and requeued messages delivered. Through a
// shard: a publisher's receipt waiting for the batch that holds its message (and the later
// ones of its channel behind it), recover() with all_delivered, paging after store_progressed.
// Not yet: the disk alarm path (a failing store blocking publishers, in the worker), paging
// while consumers requeue into the paged-out part.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/queue.h"
#include "engine/shard.h"
#include "engine/store/message_store.h"
#include "engine/store/recovery.h"
#include "engine/topology.h"

namespace haremq::engine {
namespace {

namespace fs = std::filesystem;

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = "/tmp/haremq_durable_queue_test_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  fs::path path;
};

// Writes for real. By default each write completes as it is asked for; with `hold`, writes
// wait until the test calls complete_all(), as they wait for io_uring in the worker.
class test_writer final : public store::disk_writer {
 public:
  void write_and_sync(int fd, std::span<const std::byte> bytes, std::uint64_t offset) override {
    _pending.push_back(request{fd, std::vector<std::byte>(bytes.begin(), bytes.end()), offset});
    if (!hold) complete_all();
  }
  // Completes the pending writes in order, and the ones their completion starts.
  void complete_all() {
    while (!_pending.empty()) {
      const request r = std::move(_pending.front());
      _pending.pop_front();
      const ssize_t n = ::pwrite(r.fd, r.bytes.data(), r.bytes.size(), static_cast<off_t>(r.offset));
      EXPECT_EQ(n, static_cast<ssize_t>(r.bytes.size()));
      EXPECT_EQ(::fdatasync(r.fd), 0);
      store->on_written(r.bytes.size(), {});
    }
  }
  bool pending() const { return !_pending.empty(); }

  bool hold = false;
  store::message_store* store = nullptr;

 private:
  struct request {
    int fd = -1;
    std::vector<std::byte> bytes;
    std::uint64_t offset = 0;
  };
  std::deque<request> _pending;
};

const std::string properties("\x90\x00\x0atext/plain\x02", 14);

message_ref make(const std::string& body, bool persistent = true, std::string_view exchange = "amq.direct",
                 std::string_view key = "rk") {
  message* m = message::create(exchange, key, amqp::as_bytes(properties), body.size(), persistent);
  EXPECT_TRUE(m->append_body(amqp::as_bytes(body)));
  return message_ref{m};
}

std::string body_for(std::uint64_t n) {
  std::string b = "m" + std::to_string(n) + ":";
  b.append(10 + n % 7, static_cast<char>('a' + n % 26));
  return b;
}

std::string text(amqp::bytes_view b) { return std::string(amqp::as_chars(b)); }
std::string body_of(const message_ref& m) { return text(m->body()); }

struct recording_sink final : queue::delivery_sink {
  void deliver(deliver_cmd&& d) override { got.push_back(std::move(d)); }
  std::vector<deliver_cmd> got;
};

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
  return queue_settings{std::move(name), "/", true, false, false, {}, {}};
}

struct seen {
  std::uint64_t seq = 0;
  std::string body;
  bool delivered = false;
  friend bool operator==(const seen&, const seen&) = default;
  friend std::ostream& operator<<(std::ostream& o, const seen& s) {
    return o << "{" << s.seq << ", " << s.body << (s.delivered ? ", delivered}" : "}");
  }
};

class DurableQueueTest : public ::testing::Test {
 protected:
  DurableQueueTest() {
    directory.path = tmp.path / "messages";
    fs::create_directories(directory.path);
    open_store();
  }

  void open_store() {
    writer.store = nullptr;
    store.reset();
    store = std::make_unique<store::message_store>(directory, writer);
    writer.store = store.get();
  }

  std::unique_ptr<queue> durable_queue(const std::string& name, std::uint64_t incarnation, std::uint32_t id = 1) {
    queue_settings settings = durable_settings(name);
    settings.incarnation = incarnation;
    auto q = std::make_unique<queue>(queue_id{id}, settings);
    q->attach_store(*store);
    return q;
  }

  // Writes what was appended and reads the whole log back, as a restart would.
  std::vector<seen> logged(const std::string& name) {
    EXPECT_TRUE(store->flush_blocking());
    std::vector<seen> out;
    auto r = store::recovery::scan(directory.path);
    EXPECT_TRUE(r.has_value());
    if (!r) return out;
    for (const auto& q : r->queues()) {
      if (q.vhost != "/" || q.name != name) continue;
      for (const auto& m : q.messages) out.push_back(seen{m.seq, text(r->fields(m).body), m.delivered});
    }
    return out;
  }

  // A restart: the store is written and closed, the log scanned, a new store opened after it.
  store::recovery restart() {
    EXPECT_TRUE(store->flush_blocking());
    writer.store = nullptr;
    store.reset();
    auto r = store::recovery::scan(directory.path);
    EXPECT_TRUE(r.has_value());
    directory.next_segment.store(r->highest_segment() + 1);
    open_store();
    return std::move(*r);
  }

  std::size_t segments_on_disk() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(directory.path), fs::directory_iterator()));
  }

  temp_dir tmp;
  store::segment_directory directory;
  test_writer writer;
  std::unique_ptr<store::message_store> store;
  recording_sink sink;
};

const store::recovered_queue* find_queue(const store::recovery& r, std::string_view name) {
  for (const auto& q : r.queues()) {
    if (q.vhost == "/" && q.name == name) return &q;
  }
  return nullptr;
}

TEST_F(DurableQueueTest, PersistentMessagesAreLoggedAndTransientOnesAreNot) {
  auto q = durable_queue("q", 1);
  EXPECT_TRUE(q->stored());
  EXPECT_TRUE(q->enqueue(make("p1")));
  EXPECT_FALSE(q->enqueue(make("t2", false)));
  EXPECT_TRUE(q->enqueue(make("p3")));
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(q->ready_count(), 3u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, "p1", false}, {3, "p3", false}}));
}

TEST_F(DurableQueueTest, AQueueWithoutAStoreLogsNothing) {
  queue q(queue_id{1}, durable_settings("q"));
  EXPECT_FALSE(q.stored());
  EXPECT_FALSE(q.enqueue(make("p1")));
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(store->idle());
}

TEST_F(DurableQueueTest, AnAckIsLoggedAndReleasesTheMessage) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 3; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);
  q->settle(settle_action::ack, {sink.got[0].dseq, sink.got[2].dseq});
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{2, body_for(2), false}}));
}

TEST_F(DurableQueueTest, AckedMessagesLetTheirSegmentsGo) {
  directory.segment_size = 4096;
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 20; ++i) q->enqueue(make(std::string(900, static_cast<char>('a' + i))));
  store->flush();
  EXPECT_GE(segments_on_disk(), 4u);
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 20u);
  delivery_ranges all;
  for (const auto& d : sink.got) all.add(d.dseq);
  q->settle(settle_action::ack, all);
  store->flush();
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_EQ(segments_on_disk(), 1u);  // the one appends go to
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, ARequeueIsNotAnAck) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 2; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 1)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 1u);
  q->settle(settle_action::requeue, {sink.got[0].dseq});
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for(1), false}, {2, body_for(2), false}}));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);
  EXPECT_TRUE(sink.got[1].redelivered);
  EXPECT_EQ(body_of(sink.got[1].msg), body_for(1));
}

TEST_F(DurableQueueTest, ARejectWithoutRequeueIsLoggedAsAnAck) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 2; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  q->settle(settle_action::drop, {sink.got[1].dseq});
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for(1), false}}));
}

TEST_F(DurableQueueTest, ALostChannelRequeuesWithoutAcking) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 3; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  q->channel_gone(connection, 0);
  EXPECT_EQ(q->ready_count(), 3u);
  EXPECT_EQ(store->live_messages(), 3u);
  EXPECT_EQ(logged("q").size(), 3u);
}

TEST_F(DurableQueueTest, ANoAckDeliveryIsLoggedAsAnAck) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 3; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 0, true)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, BasicGetAcksAtOnceWithNoAckAndOnSettleOtherwise) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 3; ++i) q->enqueue(make(body_for(i)));
  const get_result a = q->get(reply_to{connection, 1}, true);
  ASSERT_TRUE(a.msg);
  EXPECT_EQ(body_of(a.msg), body_for(1));
  const get_result b = q->get(reply_to{connection, 1}, false);
  ASSERT_TRUE(b.msg);
  EXPECT_EQ(store->live_messages(), 2u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{2, body_for(2), false}, {3, body_for(3), false}}));
  q->settle(settle_action::ack, {b.dseq});
  EXPECT_EQ(logged("q"), (std::vector<seen>{{3, body_for(3), false}}));
}

TEST_F(DurableQueueTest, PurgeAcksTheReadyMessagesOnly) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 4; ++i) q->enqueue(make(body_for(i)));
  q->enqueue(make("transient", false));
  ASSERT_FALSE(q->add_consumer(consumer(1, 1)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(q->purge(), 4u);
  EXPECT_EQ(store->live_messages(), 1u);
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for(1), false}}));
  q->settle(settle_action::ack, {sink.got[0].dseq});
  EXPECT_EQ(store->live_messages(), 0u);
  EXPECT_TRUE(logged("q").empty());
}

TEST_F(DurableQueueTest, ReleaseStoredOnDeleteReleasesReadyAndUnackedMessages) {
  directory.segment_size = 4096;
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 12; ++i) q->enqueue(make(std::string(900, static_cast<char>('a' + i))));
  ASSERT_FALSE(q->add_consumer(consumer(1, 2)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);
  q->settle(settle_action::ack, {sink.got[0].dseq});
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
  old->enqueue(make("deleted"));
  store->flush();
  old->release_stored();
  old.reset();
  auto fresh = durable_queue("q", 2);
  fresh->enqueue(make("kept"));
  ASSERT_TRUE(store->flush_blocking());
  auto r = store::recovery::scan(directory.path);
  ASSERT_TRUE(r.has_value());
  std::map<std::uint64_t, std::vector<std::string>> bodies;
  for (const auto& q : r->queues()) {
    for (const auto& m : q.messages) bodies[q.incarnation].emplace_back(amqp::as_chars(r->fields(m).body));
  }
  EXPECT_EQ(bodies[1], std::vector<std::string>{"deleted"});
  EXPECT_EQ(bodies[2], std::vector<std::string>{"kept"});
}

TEST_F(DurableQueueTest, PageOutKeepsMessagesNotYetWritten) {
  writer.hold = true;
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 20;
  std::vector<message_ref> sent;  // kept, so that a message read back cannot reuse an address
  for (std::size_t i = 1; i <= n; ++i) {
    auto m = make(body_for(i));
    sent.push_back(m.share());
    q->enqueue(std::move(m));
  }
  q->page_out();   // nothing written
  store->flush();  // in flight is not written either
  q->page_out();
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(sink.got[i].msg.get(), sent[i].get()) << i;
  writer.complete_all();
}

TEST_F(DurableQueueTest, PageOutDropsWrittenMessagesPastTheResidentHeadAndDispatchReadsThemBack) {
  writer.hold = true;
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 40;
  std::vector<message_ref> sent;  // kept, so that a message read back cannot reuse an address
  for (std::size_t i = 1; i <= n; ++i) {
    // Transient ones past the head have nowhere to be read from: they stay.
    auto m = make(body_for(i), !(i > queue::resident_messages && i % 10 == 0), "amq.topic", "k." + std::to_string(i));
    sent.push_back(m.share());
    q->enqueue(std::move(m));
  }
  store->flush();
  writer.complete_all();
  q->page_out();
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n);
  std::size_t read_back = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const deliver_cmd& d = sink.got[i];
    const message& original = *sent[i];
    EXPECT_EQ(body_of(d.msg), body_for(i + 1)) << i;
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
  writer.hold = true;
  auto q = durable_queue("q", 1);
  std::vector<message_ref> sent;
  auto publish = [&](std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
      auto m = make(body_for(sent.size() + 1));
      sent.push_back(m.share());
      q->enqueue(std::move(m));
    }
  };
  publish(queue::resident_messages + 10);
  store->flush();
  writer.complete_all();
  q->page_out();
  publish(10);  // not written yet
  store->flush();
  q->page_out();
  writer.complete_all();
  publish(5);  // never written before dispatch
  q->page_out();
  store->flush();

  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  const std::size_t n = sent.size();
  ASSERT_EQ(sink.got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), body_for(i + 1)) << i;
    // The head stays; the next 10 went at the first page_out, the 10 after them once written.
    const bool stays = i < queue::resident_messages || i >= n - 5;
    EXPECT_EQ(sink.got[i].msg.get() == sent[i].get(), stays) << i;
  }
  writer.complete_all();
}

TEST_F(DurableQueueTest, PageOutComesBackForStoredMessagesBehindANewerTransientOne) {
  // A transient message newer than stored ones not yet written must not mark them as looked
  // at: once written, a later page_out drops them (it once skipped them for good).
  writer.hold = true;
  auto q = durable_queue("q", 1);
  std::vector<message_ref> sent;
  auto publish = [&](std::size_t count, bool persistent) {
    for (std::size_t k = 0; k < count; ++k) {
      auto m = make(body_for(sent.size() + 1), persistent);
      sent.push_back(m.share());
      q->enqueue(std::move(m));
    }
  };
  publish(queue::resident_messages + 10, true);
  store->flush();
  writer.complete_all();
  q->page_out();
  publish(10, true);  // in flight at the next page_out...
  publish(1, false);  // ...behind a transient one
  store->flush();
  q->page_out();
  writer.complete_all();
  q->page_out();  // now written: they may go

  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  const std::size_t n = sent.size();
  ASSERT_EQ(sink.got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), body_for(i + 1)) << i;
    const bool stays = i < queue::resident_messages || i == n - 1;
    EXPECT_EQ(sink.got[i].msg.get() == sent[i].get(), stays) << i;
  }
}

TEST_F(DurableQueueTest, APagedOutMessageThatCannotBeReadIsDroppedAndAcked) {
  auto q = durable_queue("q", 1);
  const std::size_t n = queue::resident_messages + 10;
  for (std::size_t i = 1; i <= n; ++i) q->enqueue(make(body_for(i)));
  store->flush();
  q->page_out();
  // Damage the record of one paged-out message in its file.
  const std::size_t victim = queue::resident_messages + 4;  // 0-based
  const std::string needle = body_for(victim + 1);
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
    EXPECT_EQ(body_of(sink.got[i].msg), body_for(i < victim ? i + 1 : i + 2)) << i;
  }
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(store->live_messages(), n - 1);  // the dropped one was released
}

TEST_F(DurableQueueTest, RestoredMessagesAreDispatchedWithTheirFieldsAndDeliveredMarks) {
  {
    auto q = durable_queue("q", 42);
    for (int i = 1; i <= 5; ++i) q->enqueue(make(body_for(i), true, "amq.direct", "key" + std::to_string(i)));
    ASSERT_FALSE(q->add_consumer(consumer(1, 2)));
    q->dispatch(sink);
    ASSERT_EQ(sink.got.size(), 2u);
    q->settle(settle_action::ack, {sink.got[0].dseq});
    q->log_deliveries();  // a clean stop: message 2 was delivered
  }
  sink.got.clear();
  auto r = restart();
  const store::recovered_queue* found = find_queue(r, "q");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->incarnation, 42u);
  ASSERT_EQ(found->messages.size(), 4u);

  auto q = durable_queue("q", found->incarnation);
  for (const auto& m : found->messages) q->restore(r.fields(m), m.delivered);
  EXPECT_EQ(q->ready_count(), 4u);
  EXPECT_EQ(store->live_messages(), 4u);
  ASSERT_TRUE(store->flush_blocking());
  r.remove_segments();

  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& d = sink.got[i];
    EXPECT_EQ(body_of(d.msg), body_for(i + 2));
    EXPECT_EQ(d.msg->exchange(), "amq.direct");
    EXPECT_EQ(d.msg->routing_key(), "key" + std::to_string(i + 2));
    EXPECT_EQ(text(d.msg->properties()), properties);
    EXPECT_TRUE(d.msg->persistent());
    EXPECT_EQ(d.redelivered, i == 0) << i;
  }
  // Logged again in this run's store, under their old seqs; a new message comes after them.
  EXPECT_TRUE(q->enqueue(make("new")));
  const auto again = logged("q");
  ASSERT_EQ(again.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(again[i].seq, i + 2);
  EXPECT_EQ(again[4], (seen{6, "new", false}));
}

TEST_F(DurableQueueTest, RestoreBeyondTheResidentHeadReadsTheRestFromTheStore) {
  const std::size_t n = queue::resident_messages + 25;
  {
    auto q = durable_queue("q", 1);
    for (std::size_t i = 1; i <= n; ++i) q->enqueue(make(body_for(i)));
  }
  auto r = restart();
  const store::recovered_queue* found = find_queue(r, "q");
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->messages.size(), n);
  auto q = durable_queue("q", found->incarnation);
  for (const auto& m : found->messages) q->restore(r.fields(m), m.delivered);
  ASSERT_TRUE(store->flush_blocking());  // as the broker does before it starts
  r.remove_segments();
  ASSERT_FALSE(q->add_consumer(consumer(1, 0)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), body_for(i + 1)) << i;
    EXPECT_FALSE(sink.got[i].redelivered);
  }
}

TEST_F(DurableQueueTest, LogDeliveriesMarksUnackedAndRequeuedMessagesDelivered) {
  auto q = durable_queue("q", 1);
  for (int i = 1; i <= 6; ++i) q->enqueue(make(body_for(i)));
  ASSERT_FALSE(q->add_consumer(consumer(1, 3)));
  q->dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);
  q->remove_consumer(consumer(1, 3).consumer);
  q->settle(settle_action::requeue, {sink.got[1].dseq});  // 2: requeued, redelivered next time
  q->settle(settle_action::ack, {sink.got[2].dseq});      // 3: gone
  // 1: delivered and unacked; 4, 5, 6: never delivered.
  q->log_deliveries();
  EXPECT_EQ(logged("q"), (std::vector<seen>{{1, body_for(1), true},
                                            {2, body_for(2), true},
                                            {4, body_for(4), false},
                                            {5, body_for(5), false},
                                            {6, body_for(6), false}}));
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
    writer.hold = true;
    owner.create_queue(record);
  }
  ~DurableShardTest() override { writer.complete_all(); }

  void publish(std::uint16_t channel, std::uint64_t seq, bool persistent, const std::string& body = "x") {
    owner.handle(enqueue_cmd{record.id, make(body, persistent), enqueue_receipt{reply_to{connection, channel}, 1, seq}});
  }

  queue_record record{queue_id{5}, worker_id{0}, durable_settings("q")};
  topology_store topology;
  recording_outbox out;
  shard owner{worker_id{0}, topology, out, store.get()};
};

TEST_F(DurableShardTest, AReceiptWaitsUntilTheBatchHoldingItsMessageIsOnDisk) {
  ASSERT_TRUE(owner.find(record.id)->stored());
  publish(1, 1, true);
  owner.flush_receipts();
  EXPECT_TRUE(out.take_receipts(1).empty());
  store->flush();
  owner.store_progressed();
  EXPECT_TRUE(out.take_receipts(1).empty());  // in flight is not on disk
  writer.complete_all();
  owner.store_progressed();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{1});
}

TEST_F(DurableShardTest, APublishDuringAnInFlightWriteWaitsForTheNextBatch) {
  publish(1, 1, true);
  store->flush();
  publish(1, 2, true);
  writer.complete_all();
  owner.store_progressed();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{1});
  store->flush();
  writer.complete_all();
  owner.store_progressed();
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{2});
}

TEST_F(DurableShardTest, ATransientPublishBehindAStoredOneWaitsForIt) {
  publish(1, 1, true);
  publish(1, 2, false);
  publish(2, 1, false);  // another channel: nothing to wait for
  owner.flush_receipts();
  EXPECT_TRUE(out.take_receipts(1).empty());
  EXPECT_EQ(out.take_receipts(2), std::vector<std::uint64_t>{1});
  store->flush();
  writer.complete_all();
  owner.store_progressed();
  // One receipt covers both.
  EXPECT_EQ(out.take_receipts(1), std::vector<std::uint64_t>{2});
}

TEST_F(DurableShardTest, RecoverAfterACrashDeliversEverythingAsRedelivered) {
  for (std::uint64_t i = 1; i <= 3; ++i) publish(1, i, true, body_for(i));
  writer.complete_all();
  auto r = restart();
  writer.hold = true;
  const store::recovered_queue* found = find_queue(r, "q");
  ASSERT_NE(found, nullptr);
  recording_outbox out2;
  shard next{worker_id{0}, topology, out2, store.get()};
  queue_record again{queue_id{6}, worker_id{0}, durable_settings("q")};
  again.settings.incarnation = found->incarnation;  // as the definitions file says
  next.recover(again, r, *found, true);
  ASSERT_TRUE(store->flush_blocking());
  ASSERT_NE(next.find(again.id), nullptr);
  EXPECT_EQ(next.find(again.id)->incarnation(), found->incarnation);
  consume_cmd c = consumer(1, 0);
  c.queue = again.id;
  next.handle(std::move(c));
  const auto got = out2.take_deliveries();
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(body_of(got[i].msg), body_for(i + 1));
    EXPECT_TRUE(got[i].redelivered);
  }
}

TEST_F(DurableShardTest, AStoredBacklogLeavesMemoryOnceTheStoreProgressed) {
  const std::size_t n = queue::resident_messages + 8;
  std::vector<message_ref> sent;
  for (std::size_t i = 1; i <= n; ++i) {
    auto m = make(body_for(i));
    sent.push_back(m.share());
    owner.handle(enqueue_cmd{record.id, std::move(m), {}});
  }
  store->flush();
  writer.complete_all();
  owner.store_progressed();
  consume_cmd c = consumer(1, 0);
  c.queue = record.id;
  owner.handle(std::move(c));
  const auto got = out.take_deliveries();
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(body_of(got[i].msg), body_for(i + 1));
    EXPECT_EQ(got[i].msg.get() == sent[i].get(), i < queue::resident_messages) << i;
  }
}

}  // namespace
}  // namespace haremq::engine
