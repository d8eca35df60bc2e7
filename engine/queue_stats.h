#pragma once

#include <array>
#include <cstdint>

#include "engine/message.h"
#include "engine/turn_clock.h"

// What a queue counts as it works, for the management API and Prometheus: totals of messages
// published into it, delivered, redelivered, fetched with basic.get and acked, and two
// latency histograms: time in queue (publish to delivery) and end to end (publish to ack, or to
// delivery when no ack is due). Plain counters owned by the queue's worker, read only there
// (statistics are gathered by a task on that worker): a few adds per message, always on.
namespace haremq::engine {

class latency_histogram {
 public:
  // Upper bounds in seconds (Prometheus "le"); a last bucket holds the rest.
  static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,    0.1,    0.25,  1,      10,    60};

  // Integer nanoseconds only: a few compares and adds per message.
  void record(std::int64_t nanoseconds) noexcept {
    if (nanoseconds < 0) nanoseconds = 0;
    std::size_t i = 0;
    while (i < bounds_ns.size() && nanoseconds > bounds_ns[i]) ++i;
    ++_counts[i];
    _sum_ns += static_cast<std::uint64_t>(nanoseconds);
  }
  void merge(const latency_histogram& o) noexcept {
    for (std::size_t i = 0; i < _counts.size(); ++i) _counts[i] += o._counts[i];
    _sum_ns += o._sum_ns;
  }
  // Observations in bucket i (not cumulative); i == bounds.size() is the overflow bucket.
  std::uint64_t count_in(std::size_t i) const noexcept { return _counts[i]; }
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (auto c : _counts) n += c;
    return n;
  }
  double sum() const noexcept { return static_cast<double>(_sum_ns) * 1e-9; }  // seconds

 private:
  static constexpr std::array<std::int64_t, bounds.size()> bounds_ns = [] {
    std::array<std::int64_t, bounds.size()> ns{};
    for (std::size_t i = 0; i < bounds.size(); ++i) ns[i] = static_cast<std::int64_t>(bounds[i] * 1e9 + 0.5);
    return ns;
  }();
  std::array<std::uint64_t, bounds.size() + 1> _counts{};
  std::uint64_t _sum_ns = 0;
};

struct queue_stats {
  std::uint64_t published = 0;
  std::uint64_t delivered = 0;  // to consumers, acked or not
  std::uint64_t delivered_no_ack = 0;
  std::uint64_t got = 0;  // basic.get
  std::uint64_t got_no_ack = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t acked = 0;
  latency_histogram time_in_queue;
  latency_histogram end_to_end;

  // Adds another queue's counters (not its histograms): totals of a vhost or the broker.
  void add_counts(const queue_stats& o) noexcept {
    published += o.published;
    delivered += o.delivered;
    delivered_no_ack += o.delivered_no_ack;
    got += o.got;
    got_no_ack += o.got_no_ack;
    redelivered += o.redelivered;
    acked += o.acked;
  }

  void on_publish() noexcept { ++published; }
  // A delivery to a consumer (`get` false) or a basic.get answer.
  void on_delivery(const message& m, bool redelivery, bool no_ack, bool get) noexcept {
    (get ? (no_ack ? got_no_ack : got) : (no_ack ? delivered_no_ack : delivered))++;
    if (redelivery) ++redelivered;
    const std::int64_t waited = turn_clock::now() - m.published_at();
    if (!redelivery) time_in_queue.record(waited);
    if (no_ack) end_to_end.record(waited);
  }
  void on_ack(const message& m) noexcept {
    ++acked;
    end_to_end.record(turn_clock::now() - m.published_at());
  }
};

}  // namespace haremq::engine
