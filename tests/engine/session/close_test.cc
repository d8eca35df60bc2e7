// Covers: a client's channel.close and connection.close are answered once the queues have
// taken back the unacked deliveries of what closes, so that a client that hears close-ok
// finds its messages ready again (from any connection; RabbitMQ nearly always); a channel
// that holds nothing is answered at once; nothing is read on a channel or connection that
// waits for its close-ok to be due.
// Not here: several workers and real sockets (integration test_queue_arguments'
// requeue onto a full queue, test_consumers' redelivery).
#include <gtest/gtest.h>

#include "tests/engine/session/session_harness.h"

namespace haremq::test {
namespace {

class ClientClose : public ::testing::Test {
 protected:
  void SetUp() override {
    client.send(client_handshake());
    client.send(method_bytes(1, amqp::channel_open{}));
    client.send(method_bytes(1, amqp::queue_declare{0, "q", false, false, false, false, false, {}}));
    client.send(publish_bytes(1, "", "q", "m"));
    client.send(method_bytes(1, amqp::basic_get{0, "q", false}));
    // start, tune, open-ok, channel.open-ok, declare-ok, get-ok, header, body
    ASSERT_EQ(client.take_frames().size(), 8u);
    ASSERT_EQ(ready(), 0u);  // the message is unacked
  }
  std::uint32_t ready() {
    engine::queue* q = find_queue(host, client, "q");
    return q == nullptr ? 0 : q->ready_count();
  }
  // The queue's worker gets to work.
  void let_the_queue_run() {
    host.hold = false;
    host.run_until_idle({&client.session()});
  }
  fake_host host;
  scripted_client client{host};
};

TEST_F(ClientClose, ChannelCloseOkWaitsForTheQueueToTakeItsDeliveriesBack) {
  host.hold = true;
  client.send(method_bytes(1, amqp::channel_close{200, "bye", 0, 0}));
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_EQ(ready(), 0u);
  let_the_queue_run();
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"channel.close-ok"}));
  EXPECT_EQ(ready(), 1u);
}

TEST_F(ClientClose, AClosingChannelReadsNothingMore) {
  host.hold = true;
  client.send(method_bytes(1, amqp::channel_close{200, "bye", 0, 0}));
  client.send(publish_bytes(1, "", "q", "after close"));
  client.send(method_bytes(1, amqp::basic_get{0, "q", false}));
  let_the_queue_run();
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"channel.close-ok"}));
  EXPECT_EQ(ready(), 1u);  // the requeued one only
  // The channel number is free again once close-ok is out.
  client.send(method_bytes(1, amqp::channel_open{}));
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"channel.open-ok"}));
}

TEST_F(ClientClose, AChannelThatHoldsNothingIsAnsweredAtOnce) {
  client.send(method_bytes(2, amqp::channel_open{}));
  client.take_frames();
  host.hold = true;
  client.send(method_bytes(2, amqp::channel_close{200, "bye", 0, 0}));
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"channel.close-ok"}));
}

TEST_F(ClientClose, ConnectionCloseOkWaitsForTheQueues) {
  host.hold = true;
  client.send(method_bytes(0, amqp::connection_close{200, "bye", 0, 0}));
  EXPECT_TRUE(client.take_frames().empty());
  EXPECT_FALSE(client.transport().closed);
  EXPECT_EQ(ready(), 0u);
  let_the_queue_run();
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"connection.close-ok"}));
  EXPECT_TRUE(client.transport().closed);
  EXPECT_EQ(ready(), 1u);
}

TEST_F(ClientClose, ConnectionCloseWhileAChannelCloseWaits) {
  host.hold = true;
  client.send(method_bytes(1, amqp::channel_close{200, "bye", 0, 0}));
  client.send(method_bytes(0, amqp::connection_close{200, "bye", 0, 0}));
  EXPECT_TRUE(client.take_frames().empty());
  let_the_queue_run();
  // The channel went with the connection: only the connection's close-ok is due.
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"connection.close-ok"}));
  EXPECT_TRUE(client.transport().closed);
  EXPECT_EQ(ready(), 1u);
}

TEST_F(ClientClose, AnExclusiveQueueIsGoneByConnectionCloseOk) {
  client.send(method_bytes(1, amqp::queue_declare{0, "mine", false, false, /*exclusive=*/true, false, false, {}}));
  client.take_frames();
  host.hold = true;
  client.send(method_bytes(0, amqp::connection_close{200, "bye", 0, 0}));
  EXPECT_TRUE(client.take_frames().empty());
  let_the_queue_run();
  EXPECT_EQ(method_names(client.take_frames()), (std::vector<std::string>{"connection.close-ok"}));
  scripted_client other{host};
  other.send(client_handshake());
  other.send(method_bytes(1, amqp::channel_open{}));
  other.send(method_bytes(1, amqp::queue_declare{0, "mine", /*passive=*/true, false, false, false, false, {}}));
  const auto names = method_names(other.take_frames());
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "channel.close");  // 404: it is gone
}

}  // namespace
}  // namespace haremq::test
