// What queue arguments cost on a queue's own path, and how expiry behaves at scale.
// - BM_QueueFeatures_EnqueueGet/<feature>: enqueue 4096 messages of 16 bytes, then take them
//   all with a no-ack basic.get; items are messages. Features: 0 none (the baseline), 1
//   x-message-ttl (an hour: nothing expires, the head is checked), 2 per-message TTL (each
//   message in the deadline heap), 3 x-max-priority 10 (priorities 0..9 cycling), 4
//   x-max-length 1,000 with drop-head (most messages push the head out).
// - BM_QueueFeatures_ExpireMillion: a queue holding 1,000,000 messages whose TTLs are spread
//   over 1..10,000 ms (mixed, not in publish order), the clock stepped by 10 ms and the timers
//   run as the worker runs them, until every message has expired. Reports the total time and,
//   as counters, the longest single run_timers() call (the "spike" a worker's sockets wait
//   behind) and the number of calls. The turn clock is controlled, so the run takes CPU time,
//   not the messages' wall-clock lifetime.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/queue.h"
#include "net/amqp/byte_writer.h"

namespace haremq::engine {
namespace {

constexpr std::size_t messages_per_iteration = 4096;

struct counting_sink final : queue::delivery_sink {
  void deliver(deliver_cmd&&) override { ++delivered; }
  void dead_letter(const queue&, message_ref, queue::death_reason) override { ++dead; }
  void consumer_cancelled(consumer_address) override {}
  std::size_t delivered = 0;
  std::size_t dead = 0;
};

// A message whose properties carry `priority` and `expiration` as a publisher would send them.
message_ref make_message(std::uint8_t priority, std::int64_t ttl_ms) {
  std::array<std::byte, 64> properties{};
  amqp::byte_writer w{properties};
  amqp::basic_properties p;
  if (priority != 0) {
    p.priority = priority;
    p.set(amqp::property::priority);
  }
  const std::string expiration = ttl_ms >= 0 ? std::to_string(ttl_ms) : std::string{};
  if (ttl_ms >= 0) {
    p.expiration = expiration;
    p.set(amqp::property::expiration);
  }
  amqp::write_properties(w, p);
  const std::array<std::byte, 16> body{};
  message_traits traits = message_traits::of(p);
  message* m = message::create("", "bench", {properties.data(), w.position()}, body.size(), traits);
  m->append_body(body);
  return message_ref{m};
}

queue_settings settings_with(std::int64_t feature) {
  queue_settings s{"bench", "/", false, false, false, {}, {}, {}, {}};
  switch (feature) {
    case 1: s.limits.message_ttl_ms = 3'600'000; break;
    case 3: s.limits.max_priority = 10; break;
    case 4: s.limits.max_length = 1000; break;
    default: break;
  }
  return s;
}

void BM_QueueFeatures_EnqueueGet(benchmark::State& state) {
  const std::int64_t feature = state.range(0);
  turn_clock::current_ns = 1'000'000'000;
  std::vector<message_ref> pool;
  pool.reserve(messages_per_iteration);
  for (std::size_t i = 0; i < messages_per_iteration; ++i) {
    pool.push_back(make_message(feature == 3 ? static_cast<std::uint8_t>(i % 10) : 0, feature == 2 ? 3'600'000 : -1));
  }
  queue q{queue_id{1}, settings_with(feature)};
  counting_sink sink;
  for (auto _ : state) {
    for (const auto& m : pool) q.enqueue(m.share(), sink);
    while (q.get(reply_to{}, true, sink).msg) {
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * messages_per_iteration));
  state.SetLabel(feature == 0   ? "none"
                 : feature == 1 ? "x-message-ttl"
                 : feature == 2 ? "per-message ttl"
                 : feature == 3 ? "x-max-priority 10"
                                : "x-max-length 1000 drop-head");
}
BENCHMARK(BM_QueueFeatures_EnqueueGet)->DenseRange(0, 4);

void BM_QueueFeatures_ExpireMillion(benchmark::State& state) {
  constexpr std::size_t count = 1'000'000;
  std::mt19937 random{42};
  std::uniform_int_distribution<std::int64_t> ttl{1, 10'000};
  std::vector<message_ref> pool;
  pool.reserve(count);
  const std::int64_t start = 1'000'000'000;
  turn_clock::current_ns = start;
  for (std::size_t i = 0; i < count; ++i) pool.push_back(make_message(0, ttl(random)));
  double longest_ms = 0;
  std::int64_t calls = 0;
  for (auto _ : state) {
    state.PauseTiming();
    turn_clock::current_ns = start;
    queue q{queue_id{1}, settings_with(0)};
    counting_sink sink;
    for (const auto& m : pool) q.enqueue(m.share(), sink);
    state.ResumeTiming();
    std::int64_t now = start;
    while (q.ready_count() > 0) {
      now += 10'000'000;  // 10 ms
      turn_clock::current_ns = now;
      // The worker runs the timers once per turn while they are due.
      while (q.next_deadline() <= now) {
        const auto t0 = std::chrono::steady_clock::now();
        q.run_timers(now, sink);
        const auto t1 = std::chrono::steady_clock::now();
        longest_ms = std::max(longest_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
        ++calls;
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
  state.counters["longest_timer_call_ms"] = longest_ms;
  state.counters["timer_calls"] = static_cast<double>(calls) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_QueueFeatures_ExpireMillion)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
}  // namespace haremq::engine
