// Covers: FIFO delivery, round-robin over consumers, prefetch credit and its return on
// settle, requeue to the original position with redelivered set, channel loss, basic.get
// with and without ack, purge, exclusive consumers, the delivery window that holds a
// queue back for a consumer whose connection does not write.
#include "engine/queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace haremq::engine {
namespace {

message_ref make(const std::string& body) {
  message* m = message::create("", "q", {}, body.size());
  EXPECT_TRUE(m->append_body(amqp::as_bytes(body)));
  return message_ref{m};
}

std::string body_of(const message_ref& m) { return std::string(amqp::as_chars(m->body())); }

struct recording_sink final : queue::delivery_sink {
  void deliver(deliver_cmd&& d) override { got.push_back(std::move(d)); }
  void dead_letter(const queue&, message_ref m, queue::death_reason r) override { dead.emplace_back(std::move(m), r); }
  void consumer_cancelled(consumer_address c) override { cancelled.push_back(c); }
  std::vector<std::pair<message_ref, queue::death_reason>> dead;
  std::vector<consumer_address> cancelled;
  std::vector<deliver_cmd> got;
};

consume_cmd consumer(std::uint32_t number, std::uint16_t prefetch, bool no_ack = false, std::uint16_t channel = 1) {
  consume_cmd c;
  c.consumer = consumer_address{connection_key{worker_id{0}, 7}, channel, number};
  c.tag = "ctag" + std::to_string(number);
  c.prefetch = prefetch;
  c.no_ack = no_ack;
  return c;
}

class QueueTest : public ::testing::Test {
 protected:
  queue q{queue_id{1}, queue_settings{"q", "/", false, false, false, {}, {}, {}, {}}};
  recording_sink sink;
  void publish(int n) {
    for (int i = 0; i < n; ++i) q.enqueue(make("m" + std::to_string(_next++)), sink);
  }
  int _next = 1;
};

TEST_F(QueueTest, DeliversRoundRobinInPublishOrder) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 0)));
  ASSERT_FALSE(q.add_consumer(consumer(2, 0)));
  publish(6);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(body_of(sink.got[i].msg), "m" + std::to_string(i + 1));
    EXPECT_EQ(sink.got[i].consumer.consumer, i % 2 == 0 ? 1u : 2u);
    EXPECT_FALSE(sink.got[i].redelivered);
  }
  EXPECT_EQ(q.ready_count(), 0u);
  EXPECT_EQ(q.unacked_count(), 6u);
}

TEST_F(QueueTest, PrefetchIsTheAckWindow) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 2)));
  publish(5);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);  // the window is full
  q.settle(settle_action::ack, {sink.got[0].dseq}, sink);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);  // one more after one ack
  EXPECT_EQ(body_of(sink.got[2].msg), "m3");
  EXPECT_EQ(q.ready_count(), 2u);
}

TEST_F(QueueTest, FairDispatchSkipsAConsumerWithoutCredit) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 1)));
  ASSERT_FALSE(q.add_consumer(consumer(2, 1)));
  publish(4);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2u);
  q.settle(settle_action::ack, {sink.got[1].dseq}, sink);  // consumer 2 is the faster one
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);
  EXPECT_EQ(sink.got[2].consumer.consumer, 2u);
}

TEST_F(QueueTest, RequeueGoesBackToItsPlaceAsRedelivered) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 2)));
  publish(4);
  q.dispatch(sink);  // m1, m2 out; m3, m4 ready
  q.settle(settle_action::requeue, {sink.got[1].dseq, sink.got[0].dseq}, sink);
  EXPECT_EQ(q.ready_count(), 4u);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 4u);
  EXPECT_EQ(body_of(sink.got[2].msg), "m1");
  EXPECT_TRUE(sink.got[2].redelivered);
  EXPECT_EQ(body_of(sink.got[3].msg), "m2");
  EXPECT_TRUE(sink.got[3].redelivered);
}

TEST_F(QueueTest, RequeuedMessagesInterleaveWithEarlierRequeuesByPublishOrder) {
  const consume_cmd c = consumer(1, 0);
  ASSERT_FALSE(q.add_consumer(c));
  publish(6);
  q.dispatch(sink);  // m1..m6 out, unacked
  ASSERT_EQ(sink.got.size(), 6u);
  q.remove_consumer(c.consumer);
  // m2 and m5 come back first, then m1, m4 and m6 (not in order): ready is m1 m2 m4 m5 m6.
  q.settle(settle_action::requeue, {sink.got[1].dseq, sink.got[4].dseq}, sink);
  q.settle(settle_action::requeue, {sink.got[5].dseq, sink.got[0].dseq, sink.got[3].dseq}, sink);
  std::vector<std::string> order;
  for (;;) {
    get_result r = q.get(reply_to{}, /*no_ack=*/true, sink);
    if (!r.msg) break;
    order.push_back(body_of(r.msg));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"m1", "m2", "m4", "m5", "m6"}));
}

TEST_F(QueueTest, ChannelGoneRequeuesItsUnackedInOrderAndDropsItsConsumers) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 0, false, 1)));
  publish(3);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 3u);
  q.settle(settle_action::ack, {sink.got[1].dseq}, sink);
  q.channel_gone(connection_key{worker_id{0}, 7}, 1, sink);
  EXPECT_EQ(q.consumer_count(), 0u);
  EXPECT_EQ(q.unacked_count(), 0u);
  ASSERT_FALSE(q.add_consumer(consumer(2, 0, false, 2)));
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 5u);
  EXPECT_EQ(body_of(sink.got[3].msg), "m1");
  EXPECT_EQ(body_of(sink.got[4].msg), "m3");
  EXPECT_TRUE(sink.got[3].redelivered && sink.got[4].redelivered);
}

TEST_F(QueueTest, SettlingTwiceOrUnknownDeliveriesIsHarmless) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 0)));
  publish(1);
  q.dispatch(sink);
  q.settle(settle_action::ack, {sink.got[0].dseq}, sink);
  q.settle(settle_action::ack, {sink.got[0].dseq, 999}, sink);
  EXPECT_EQ(q.unacked_count(), 0u);
}

TEST_F(QueueTest, NoAckConsumersAreNotTracked) {
  ASSERT_FALSE(q.add_consumer(consumer(1, 1, true)));
  publish(3);
  q.dispatch(sink);
  EXPECT_EQ(sink.got.size(), 3u);  // prefetch does not apply without acks
  EXPECT_EQ(q.unacked_count(), 0u);
  EXPECT_EQ(sink.got[0].dseq, 0u);
}

TEST_F(QueueTest, GetTakesTheHeadAndCountsTheRest) {
  publish(3);
  const reply_to to{connection_key{worker_id{0}, 9}, 1};
  auto first = q.get(to, false, sink);
  ASSERT_TRUE(first.msg);
  EXPECT_EQ(body_of(first.msg), "m1");
  EXPECT_EQ(first.remaining, 2u);
  EXPECT_EQ(q.unacked_count(), 1u);
  auto second = q.get(to, true, sink);
  EXPECT_EQ(body_of(second.msg), "m2");
  EXPECT_EQ(q.unacked_count(), 1u);
  q.settle(settle_action::requeue, {first.dseq}, sink);
  auto again = q.get(to, true, sink);
  EXPECT_EQ(body_of(again.msg), "m1");
  EXPECT_TRUE(again.redelivered);
  EXPECT_EQ(q.purge(), 1u);
  EXPECT_FALSE(q.get(to, true, sink).msg);
}

TEST_F(QueueTest, ExclusiveConsumerKeepsOthersOut) {
  auto exclusive = consumer(1, 0);
  exclusive.exclusive = true;
  ASSERT_FALSE(q.add_consumer(exclusive));
  const auto refused = q.add_consumer(consumer(2, 0));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, amqp::reply_code::access_refused);
  EXPECT_EQ(refused->text, "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use");
}

TEST_F(QueueTest, AConsumerThatDoesNotWriteHoldsTheQueueBackAtItsWindow) {
  const consume_cmd c = consumer(1, 0, /*no_ack=*/true);
  ASSERT_FALSE(q.add_consumer(c));
  publish(static_cast<int>(delivery_window) + 100);
  q.dispatch(sink);
  EXPECT_EQ(sink.got.size(), delivery_window);
  EXPECT_EQ(q.ready_count(), 100u);
  q.reopen_window(c.consumer, 40, 40 * 3);
  q.dispatch(sink);
  EXPECT_EQ(sink.got.size(), delivery_window + 40);
  q.reopen_window(c.consumer, delivery_window, delivery_window_bytes);  // never more than a full window
  q.dispatch(sink);
  EXPECT_EQ(sink.got.size(), delivery_window + 100);
  EXPECT_EQ(q.ready_count(), 0u);
}

TEST_F(QueueTest, WindowAppliesToAckingConsumersWithoutPrefetch) {
  const consume_cmd a = consumer(1, 0);
  const consume_cmd b = consumer(2, 0);
  ASSERT_FALSE(q.add_consumer(a));
  ASSERT_FALSE(q.add_consumer(b));
  publish(static_cast<int>(delivery_window) * 3);
  q.dispatch(sink);
  // Both windows full; the rest waits for the consumers' connections to write.
  EXPECT_EQ(sink.got.size(), 2 * delivery_window);
  q.reopen_window(b.consumer, 10, 10 * 5);
  q.dispatch(sink);
  ASSERT_EQ(sink.got.size(), 2 * delivery_window + 10);
  EXPECT_EQ(sink.got.back().consumer, b.consumer);
}

TEST_F(QueueTest, LargeBodiesCloseTheWindowByBytes) {
  const consume_cmd c = consumer(1, 0, /*no_ack=*/true);
  ASSERT_FALSE(q.add_consumer(c));
  const std::string big(delivery_window_bytes / 3, 'b');
  for (int i = 0; i < 10; ++i) q.enqueue(make(big), sink);
  q.dispatch(sink);
  // Three fill the byte window to the brim; a fourth is allowed past it, then it is shut.
  EXPECT_EQ(sink.got.size(), 4u);
  q.reopen_window(c.consumer, 2, 2 * big.size());
  q.dispatch(sink);
  EXPECT_EQ(sink.got.size(), 6u);
}

TEST(Message, HoldsRoutingPropertiesAndBodyInOneAllocation) {
  std::array<std::byte, 64> props{};
  amqp::byte_writer w{props};
  amqp::basic_properties p;
  p.delivery_mode = 2;
  p.set(amqp::property::delivery_mode);
  p.content_type = "text/plain";
  p.set(amqp::property::content_type);
  amqp::write_properties(w, p);
  message* m = message::create("ex", "key", w.written(), 10, message_traits{.persistent = true});
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->complete());
  EXPECT_TRUE(m->append_body(amqp::as_bytes(std::string_view("01234"))));
  EXPECT_FALSE(m->append_body(amqp::as_bytes(std::string_view("too long!!"))));
  EXPECT_TRUE(m->append_body(amqp::as_bytes(std::string_view("56789"))));
  EXPECT_TRUE(m->complete());
  EXPECT_EQ(m->exchange(), "ex");
  EXPECT_EQ(m->routing_key(), "key");
  EXPECT_TRUE(m->persistent());
  EXPECT_EQ(m->decode_properties().content_type, "text/plain");
  EXPECT_EQ(amqp::as_chars(m->body()), "0123456789");
  message_ref a{m};
  message_ref b = a.share();
  a.reset();
  EXPECT_EQ(b->routing_key(), "key");  // still alive through b
}

}  // namespace
}  // namespace haremq::engine
