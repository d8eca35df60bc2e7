// A queue's delivery path on its owning worker, with the consumers' side played in the same
// thread: each iteration enqueues 4096 messages of 16 bytes (each enqueue delivering what it
// can, as shard::handle(enqueue_cmd) does), then, until all are delivered, takes the
// round's deliveries from the sink, reports them written (reopen_window, the written_cmd)
// and settles them, then dispatches again (shard::handle(settle_cmd)). Items are messages
// (enqueued, delivered and, with acks, acked). The messages come from a pool made before
// timing; the queue holds one more reference to each.
// - BM_Queue_DispatchAck/<prefetch>/<consumers>: acks, one settle per round for everything
//   delivered in it, like a client acking with multiple=true when its window is full
//   (prefetch 1: one ack per message; 100: batches of 100 per consumer; 0: unlimited,
//   everything goes out in the enqueue loop and is acked at once).
// - BM_Queue_DispatchNoAck/<consumers>: no-ack consumers; nothing is tracked as unacked.
// - BM_Queue_Requeue/<unacked>/<backlog>: a consumer holds <unacked> deliveries (at most
//   the delivery window, 8192) while <backlog> more messages are ready behind them; one
//   settle requeues them all (a basic.nack multiple requeue; a closing channel takes the
//   same path), and the next iteration delivers them again. Items are requeued messages.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/queue.h"

namespace haremq::engine {
namespace {

constexpr std::size_t messages_per_iteration = 4096;

// Keeps a round's deliveries; reserved for a whole iteration, so it never allocates.
struct collecting_sink final : queue::delivery_sink {
  void deliver(deliver_cmd&& d) override { got.push_back(std::move(d)); }
  void dead_letter(const queue&, message_ref m, queue::death_reason r) override { dead.emplace_back(std::move(m), r); }
  void consumer_cancelled(consumer_address c) override { cancelled.push_back(c); }
  std::vector<std::pair<message_ref, queue::death_reason>> dead;
  std::vector<consumer_address> cancelled;
  std::vector<deliver_cmd> got;
};

std::vector<message_ref> message_pool(std::size_t n) {
  const std::array<std::byte, 16> body{};
  std::vector<message_ref> pool;
  pool.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    message* m = message::create("", "perf-test-queue", {}, body.size());
    m->append_body(body);
    pool.emplace_back(m);
  }
  return pool;
}

// Consumer i is number i + 1 on its channel (0 stands for basic.get).
consumer_address address_of(std::uint32_t i) { return consumer_address{connection_key{worker_id{0}, 7}, 1, i + 1}; }

void add_consumers(queue& q, std::uint32_t consumers, std::uint16_t prefetch, bool no_ack) {
  for (std::uint32_t i = 0; i < consumers; ++i) {
    consume_cmd c;
    c.consumer = address_of(i);
    c.tag = "amq.ctag-" + std::to_string(i);
    c.prefetch = prefetch;
    c.no_ack = no_ack;
    if (q.add_consumer(c)) return;
  }
}

// The consumers' worker handling one round of deliveries: per consumer, what was written
// (its delivery window reopens); then one settle of every acked delivery, in order.
class consumer_side {
 public:
  explicit consumer_side(std::uint32_t consumers) : _written(consumers), _bytes(consumers) {
      }

  // Returns how many deliveries the round had.
  std::size_t finish_round(queue& q, collecting_sink& sink, settle_action action) {
    const std::size_t n = sink.got.size();
    for (const deliver_cmd& d : sink.got) {
      ++_written[d.consumer.consumer - 1];
      _bytes[d.consumer.consumer - 1] += d.msg->body_size();
      if (d.dseq != 0) _dseqs.add(d.dseq);
    }
    sink.got.clear();
    for (std::uint32_t i = 0; i < _written.size(); ++i) {
      if (_written[i] == 0) continue;
      q.reopen_window(address_of(i), _written[i], _bytes[i]);
      _written[i] = 0;
      _bytes[i] = 0;
    }
    if (!_dseqs.empty()) {
      q.settle(action, _dseqs, sink);
      _dseqs.clear();
    }
    return n;
  }

 private:
  std::vector<std::uint32_t> _written;
  std::vector<std::uint64_t> _bytes;
  delivery_ranges _dseqs;
};

void run_dispatch(benchmark::State& state, std::uint16_t prefetch, bool no_ack, std::uint32_t consumers) {
  queue q{queue_id{1}, queue_settings{"perf-test-queue", "/", false, false, false, {}, {}, {}, {}}};
  add_consumers(q, consumers, prefetch, no_ack);
  const auto pool = message_pool(messages_per_iteration);
  collecting_sink sink;
  sink.got.reserve(messages_per_iteration);
  consumer_side side{consumers};
  std::size_t stuck = 0;
  for (auto _ : state) {
    for (const auto& m : pool) {
      q.enqueue(m.share(), sink);  // delivers what it can, as shard::handle(enqueue_cmd) does
    }
    std::size_t delivered = side.finish_round(q, sink, settle_action::ack);
    while (delivered < messages_per_iteration) {
      q.dispatch(sink);
      const std::size_t n = side.finish_round(q, sink, settle_action::ack);
      if (n == 0) {
        ++stuck;
        break;
      }
      delivered += n;
    }
  }
  if (stuck != 0 || q.ready_count() != 0 || q.unacked_count() != 0) state.SkipWithError("messages left in the queue");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(messages_per_iteration));
}

void BM_Queue_DispatchAck(benchmark::State& state) {
  run_dispatch(state, static_cast<std::uint16_t>(state.range(0)), false, static_cast<std::uint32_t>(state.range(1)));
}
BENCHMARK(BM_Queue_DispatchAck)->ArgsProduct({{1, 100, 0}, {1, 4}})->ArgNames({"prefetch", "consumers"});

void BM_Queue_DispatchNoAck(benchmark::State& state) {
  run_dispatch(state, 0, true, static_cast<std::uint32_t>(state.range(0)));
}
BENCHMARK(BM_Queue_DispatchNoAck)->Arg(1)->Arg(4)->ArgNames({"consumers"});

void BM_Queue_Requeue(benchmark::State& state) {
  const auto unacked = static_cast<std::size_t>(state.range(0));
  const auto backlog = static_cast<std::size_t>(state.range(1));
  queue q{queue_id{1}, queue_settings{"perf-test-queue", "/", false, false, false, {}, {}, {}, {}}};
  const auto pool = message_pool(unacked + backlog);
  collecting_sink sink;
  sink.got.reserve(unacked);
  for (const auto& m : pool) q.enqueue(m.share(), sink);
  add_consumers(q, 1, static_cast<std::uint16_t>(unacked), false);  // after: the first round delivers
  consumer_side side{1};
  bool held = true;
  for (auto _ : state) {
    q.dispatch(sink);  // the same `unacked` oldest messages each time, redelivered
    held = held && sink.got.size() == unacked;
    side.finish_round(q, sink, settle_action::requeue);
  }
  if (!held || q.ready_count() != unacked + backlog) state.SkipWithError("requeue lost messages");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(unacked));
}
BENCHMARK(BM_Queue_Requeue)
    ->ArgsProduct({{100, 1000, 4096}, {0, 10000}})
    ->ArgNames({"unacked", "backlog"});

}  // namespace
}  // namespace haremq::engine
