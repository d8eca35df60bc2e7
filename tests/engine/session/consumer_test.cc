// Covers: basic.cancel is answered once the queue has let the consumer go, as RabbitMQ does:
// a delivery the queue sent before it saw the cancel still reaches the client (before
// cancel-ok; a no-ack one has nowhere else to go), and a publish after cancel-ok waits in the
// queue; nowait cancels quietly; an unknown tag is answered at once.
// Not here: several workers and real sockets (integration test_dead_lettering's single
// active consumer hand-over, test_queues).
#include <gtest/gtest.h>

#include "tests/engine/session/session_harness.h"

namespace haremq::test {
namespace {

class Cancel : public ::testing::Test {
 protected:
  void SetUp() override {
    client.send(client_handshake());
    client.send(method_bytes(1, amqp::channel_open{}));
    client.send(method_bytes(1, amqp::queue_declare{0, "q", false, false, false, false, false, {}}));
    client.send(method_bytes(1, amqp::basic_consume{0, "q", "c", false, /*no_ack=*/true, false, false, {}}));
    ASSERT_EQ(client.take_frames().size(), 6u);  // start, tune, open-ok, channel.open-ok, declare-ok, consume-ok
  }
  std::uint32_t ready() {
    engine::queue* q = find_queue(host, client, "q");
    return q == nullptr ? 0 : q->ready_count();
  }
  // Bytes sent as one read: the frames go in order, before any reply comes back.
  static std::vector<std::byte> joined(std::initializer_list<std::vector<std::byte>> parts) {
    std::vector<std::byte> all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
  }
  fake_host host;
  scripted_client client{host};
};

TEST_F(Cancel, WhatTheQueueSentBeforeTheCancelArrivesBeforeCancelOk) {
  // The publish reaches the queue ahead of the cancel: its no-ack delivery is the client's.
  client.send(joined({publish_bytes(1, "", "q", "in flight"), method_bytes(1, amqp::basic_cancel{"c", false})}));
  const auto frames = client.take_frames();
  EXPECT_EQ(method_names(frames), (std::vector<std::string>{"basic.deliver", "basic.cancel-ok"}));
  ASSERT_EQ(frames.size(), 4u);  // deliver, header, body, cancel-ok
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(frames[2].payload.data()), frames[2].payload.size()), "in flight");
  EXPECT_EQ(ready(), 0u);
}

TEST_F(Cancel, APublishAfterCancelOkWaitsInTheQueue) {
  client.send(method_bytes(1, amqp::basic_cancel{"c", false}));
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"basic.cancel-ok"}));
  client.send(publish_bytes(1, "", "q", "later"));
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_EQ(ready(), 1u);
}

TEST_F(Cancel, NowaitCancelsWithoutAnAnswer) {
  client.send(method_bytes(1, amqp::basic_cancel{"c", true}));
  EXPECT_TRUE(client.take_frames().empty());
  client.send(publish_bytes(1, "", "q", "later"));
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_EQ(ready(), 1u);
  EXPECT_FALSE(client.transport().paused);  // the channel reads on
}

TEST_F(Cancel, AnUnknownTagIsAnsweredAtOnce) {
  client.send(method_bytes(1, amqp::basic_cancel{"nobody", false}));
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"basic.cancel-ok"}));
  // The real consumer is still there.
  client.send(publish_bytes(1, "", "q", "m"));
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"basic.deliver"}));
}

}  // namespace
}  // namespace haremq::test
