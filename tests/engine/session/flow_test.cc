// Covers: publisher back-pressure: a publish into a congested worker ring stops the
// connection reading (the frames after it stay unconsumed, nothing is dropped) until every
// ring is relieved; a connection waiting on replies and throttled at once resumes only when
// both are over. Consumers report written deliveries to their queue, so the queue's window
// reopens as the connection writes. The memory alarm blocks connections that publish
// (connection.blocked/unblocked to clients with the capability), not the others.
// Not here: the real rings and sockets (integration test_flow).
#include <gtest/gtest.h>

#include "tests/engine/session/session_harness.h"

namespace haremq::test {
namespace {

class Flow : public ::testing::Test {
 protected:
  void SetUp() override {
    client.send(client_handshake());
    client.send(method_bytes(1, amqp::channel_open{}));
    client.send(method_bytes(1, amqp::queue_declare{0, "q", false, false, false, false, false, {}}));
    ASSERT_EQ(client.take_frames().size(), 5u);  // start, tune, open-ok, channel.open-ok, declare-ok
  }
  std::uint32_t ready() {
    engine::queue* q = find_queue(host, client, "q");
    return q == nullptr ? 0 : q->ready_count();
  }
  fake_host host;
  scripted_client client{host};
};

TEST_F(Flow, PublishIntoACongestedRingStopsReadingUntilRelieved) {
  host.congest = true;
  std::vector<std::byte> three;
  for (const char* body : {"one", "two", "three"}) {
    const auto p = publish_bytes(1, "", "q", body);
    three.insert(three.end(), p.begin(), p.end());
  }
  client.send(three);
  // The first publish went out and found the ring full: the other two wait, unread.
  EXPECT_TRUE(client.transport().paused);
  EXPECT_EQ(ready(), 1u);
  ASSERT_EQ(host.waiting_for_relief.size(), 1u);
  EXPECT_EQ(host.waiting_for_relief[0], client.session().key());

  // Still congested: the worker keeps asking, the connection keeps waiting.
  EXPECT_TRUE(client.session().on_relief());
  EXPECT_TRUE(client.transport().paused);

  host.congest = false;
  EXPECT_FALSE(client.session().on_relief());
  EXPECT_FALSE(client.transport().paused);
  client.send({});  // the socket offers the unread bytes again
  EXPECT_EQ(ready(), 3u);
}

TEST_F(Flow, AWaitingChannelAndAThrottleBothHoldReading) {
  host.congest = true;
  client.send(publish_bytes(1, "", "q", "x"));
  EXPECT_TRUE(client.transport().paused);
  // A reply the connection waited for would resume reading; the throttle still holds it.
  client.session().resume_reading();
  EXPECT_TRUE(client.transport().paused);
  host.congest = false;
  EXPECT_FALSE(client.session().on_relief());
  EXPECT_FALSE(client.transport().paused);
}

TEST_F(Flow, ConsumersReportWhatTheirConnectionWrote) {
  client.send(method_bytes(1, amqp::basic_consume{0, "q", "c", false, /*no_ack=*/true, false, false, {}}));
  ASSERT_EQ(client.take_frames().size(), 1u);  // consume-ok
  // More than a window's worth: without the reports the queue would stop at the window.
  const std::uint32_t n = engine::delivery_window * 3;
  std::vector<std::byte> many;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto p = publish_bytes(1, "", "q", "m");
    many.insert(many.end(), p.begin(), p.end());
  }
  client.send(many);
  EXPECT_EQ(client.take_frames().size(), 3u * n);  // deliver, header, body each
  EXPECT_EQ(ready(), 0u);
}

TEST(MemoryAlarm, BlocksAPublisherUntilItClears) {
  fake_host host;
  scripted_client client{host};
  client.send(client_handshake("guest", true, /*blocked_capability=*/true));
  client.send(method_bytes(1, amqp::channel_open{}));
  client.send(publish_bytes(1, "", "nowhere", "before"));
  ASSERT_EQ(client.take_frames().size(), 4u);  // start, tune, open-ok, channel.open-ok

  client.session().on_alarms({.memory = true});
  // It has published before: blocked at once.
  auto frames = client.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(method_name(frames[0]), "connection.blocked");
  EXPECT_TRUE(client.transport().paused);
  EXPECT_TRUE(client.session().blocked());

  client.session().on_alarms({});
  frames = client.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(method_name(frames[0]), "connection.unblocked");
  EXPECT_FALSE(client.transport().paused);
}

TEST(MemoryAlarm, AConnectionIsBlockedOnlyOnceItPublishes) {
  fake_host host;
  scripted_client client{host};
  client.send(client_handshake("guest", true, /*blocked_capability=*/true));
  client.send(method_bytes(1, amqp::channel_open{}));
  client.send(method_bytes(1, amqp::queue_declare{0, "q", false, false, false, false, false, {}}));
  ASSERT_EQ(client.take_frames().size(), 5u);

  client.session().on_alarms({.memory = true});
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_FALSE(client.transport().paused);
  // Consuming and other methods go on.
  client.send(method_bytes(1, amqp::queue_declare{0, "q", true, false, false, false, false, {}}));
  EXPECT_EQ(client.take_frames().size(), 1u);

  // The first publish is taken, then the connection is blocked: the second waits unread.
  auto two = publish_bytes(1, "", "q", "one");
  const auto second = publish_bytes(1, "", "q", "two");
  two.insert(two.end(), second.begin(), second.end());
  client.send(two);
  const auto frames = client.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(method_name(frames[0]), "connection.blocked");
  EXPECT_EQ(find_queue(host, client, "q")->ready_count(), 1u);
}

TEST(MemoryAlarm, AClientWithoutTheCapabilityIsBlockedSilently) {
  fake_host host;
  scripted_client client{host};
  client.send(client_handshake());
  client.send(method_bytes(1, amqp::channel_open{}));
  client.send(publish_bytes(1, "", "nowhere", "x"));
  ASSERT_EQ(client.take_frames().size(), 4u);
  client.session().on_alarms({.memory = true});
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_TRUE(client.transport().paused);
  client.session().on_alarms({});
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_FALSE(client.transport().paused);
}

}  // namespace
}  // namespace haremq::test
