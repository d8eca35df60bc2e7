// A queue's counters and latency histograms, driven through the queue as the shard drives it.
#include <gtest/gtest.h>

#include "engine/queue.h"
#include "engine/turn_clock.h"

namespace haremq::engine {
namespace {

struct sink final : queue::delivery_sink {
  std::vector<deliver_cmd> got;
  void deliver(deliver_cmd&& d) override { got.push_back(std::move(d)); }
  void dead_letter(const queue&, message_ref m, queue::death_reason r) override { dead.emplace_back(std::move(m), r); }
  void consumer_cancelled(consumer_address c) override { cancelled.push_back(c); }
  std::vector<std::pair<message_ref, queue::death_reason>> dead;
  std::vector<consumer_address> cancelled;
};

message_ref make_message() {
  const std::byte body[] = {std::byte{'x'}};
  message* m = message::create("", "q", {}, sizeof body);
  m->append_body(body);
  return message_ref{m};
}

TEST(LatencyHistogram, BucketsByUpperBound) {
  latency_histogram h;
  h.record(50'000);          // 50 us: first bucket (<= 100 us)
  h.record(100'000);         // exactly the bound: same bucket
  h.record(2'000'000);       // 2 ms: <= 2.5 ms
  h.record(120'000'000'000); // 120 s: overflow
  h.record(-5);              // clock skew: counted as 0
  EXPECT_EQ(h.count_in(0), 3u);
  EXPECT_EQ(h.count_in(4), 1u);
  EXPECT_EQ(h.count_in(latency_histogram::bounds.size()), 1u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum(), 120.00215, 1e-6);
}

TEST(QueueStats, CountsPublishDeliveryAckAndLatency) {
  turn_clock::current_ns = 1'000'000'000;
  queue q(queue_id{1}, queue_settings{"q", "/", false, false, false, {}, {}, {}, {}});
  sink s;
  for (int i = 0; i < 3; ++i) q.enqueue(make_message(), s);
  consume_cmd c;
  c.queue = queue_id{1};
  c.consumer = consumer_address{connection_key{worker_id{0}, 1}, 1, 1};
  c.tag = "t";
  ASSERT_FALSE(q.add_consumer(c));
  turn_clock::current_ns += 3'000'000;  // 3 ms in the queue
  q.dispatch(s);
  ASSERT_EQ(s.got.size(), 3u);
  EXPECT_EQ(q.stats().published, 3u);
  EXPECT_EQ(q.stats().delivered, 3u);
  EXPECT_EQ(q.stats().time_in_queue.count(), 3u);
  EXPECT_EQ(q.stats().time_in_queue.count_in(5), 3u);  // (2.5 ms, 5 ms]
  EXPECT_EQ(q.stats().end_to_end.count(), 0u) << "not acked yet";

  turn_clock::current_ns += 7'000'000;  // acked 10 ms after publish
  delivery_ranges first_two;
  first_two.add(s.got[0].dseq);
  first_two.add(s.got[1].dseq);
  q.settle(settle_action::ack, first_two, s);
  delivery_ranges last;
  last.add(s.got[2].dseq);
  q.settle(settle_action::requeue, last, s);
  EXPECT_EQ(q.stats().acked, 2u);
  EXPECT_EQ(q.stats().end_to_end.count(), 2u);
  EXPECT_EQ(q.stats().end_to_end.count_in(6), 2u);  // (5 ms, 10 ms]

  // The requeued one comes back redelivered: counted, and not timed again as time in queue.
  q.dispatch(s);
  ASSERT_EQ(s.got.size(), 4u);
  EXPECT_TRUE(s.got[3].redelivered);
  EXPECT_EQ(q.stats().redelivered, 1u);
  EXPECT_EQ(q.stats().delivered, 4u);
  EXPECT_EQ(q.stats().time_in_queue.count(), 3u);
}

TEST(QueueStats, GetsAndNoAckDeliveries) {
  turn_clock::current_ns = 5'000'000'000;
  queue q(queue_id{2}, queue_settings{"q", "/", false, false, false, {}, {}, {}, {}});
  sink s;
  q.enqueue(make_message(), s);
  q.enqueue(make_message(), s);
  const auto a = q.get(reply_to{}, true, s);
  const auto b = q.get(reply_to{}, false, s);
  ASSERT_TRUE(a.msg && b.msg);
  EXPECT_EQ(q.stats().got_no_ack, 1u);
  EXPECT_EQ(q.stats().got, 1u);
  EXPECT_EQ(q.stats().end_to_end.count(), 1u) << "a no-ack get ends the message's trip";
}

}  // namespace
}  // namespace haremq::engine
