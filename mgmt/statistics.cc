#include "mgmt/statistics.h"

#include <sys/resource.h>

#include <algorithm>

#include "engine/shard.h"

namespace haremq::mgmt {
namespace {

// Samples older than this are dropped; a rate spans what is left (RabbitMQ's window is 5 s).
constexpr std::chrono::seconds rate_window{10};
constexpr std::chrono::milliseconds shortest_span{500};

double thread_cpu_seconds() {
  rusage usage{};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

broker_snapshot gather(broker_link& broker) {
  // Each worker writes its own part; the parts are joined once all have answered.
  struct parts {
    std::mutex mutex;
    broker_snapshot whole;
  };
  auto shared = std::make_shared<parts>();
  shared->whole.worker_cpu_seconds.resize(broker.workers());
  const bool complete = broker.run_everywhere([shared](session::worker_context& w) {
    std::vector<queue_snapshot> queues;
    w.shard().for_each_queue([&](const engine::queue& q) {
      queue_snapshot s;
      s.id = q.id();
      s.owner = w.self();
      s.vhost = q.settings().vhost;
      s.name = q.settings().name;
      s.ready = q.ready_count();
      s.unacked = q.unacked_count();
      s.consumers = q.consumer_count();
      s.stats = q.stats();
      s.single_active_consumer = q.limits().single_active_consumer;
      if (const auto* active = q.active_consumer()) s.active_consumer = *active;
      s.active_consumer_tag = q.active_consumer_tag();
      queues.push_back(std::move(s));
    });
    std::vector<connection_snapshot> connections;
    w.for_each_connection([&](const session::connection_endpoint& e) {
      connection_snapshot c;
      c.worker = w.self();
      c.key = e.session.key();
      c.name = e.peer_host + ":" + std::to_string(e.peer_port) + " -> " + e.host + ":" + std::to_string(e.port);
      c.peer_host = e.peer_host;
      c.peer_port = e.peer_port;
      c.host = e.host;
      c.port = e.port;
      c.connected_at_ms = e.connected_at_ms;
      c.received_bytes = e.received_bytes;
      c.sent_bytes = e.sent_bytes;
      c.reads = e.reads;
      c.writes = e.writes;
      c.pending_output = e.pending_output;
      c.session = e.session.describe();
      connections.push_back(std::move(c));
    });
    const double cpu = thread_cpu_seconds();
    std::lock_guard lock(shared->mutex);
    auto& whole = shared->whole;
    std::move(queues.begin(), queues.end(), std::back_inserter(whole.queues));
    std::move(connections.begin(), connections.end(), std::back_inserter(whole.connections));
    if (w.self().value < whole.worker_cpu_seconds.size()) whole.worker_cpu_seconds[w.self().value] = cpu;
  });
  std::lock_guard lock(shared->mutex);
  broker_snapshot out = std::move(shared->whole);
  out.complete = complete;
  std::sort(out.queues.begin(), out.queues.end(),
            [](const auto& a, const auto& b) { return std::tie(a.vhost, a.name) < std::tie(b.vhost, b.name); });
  std::sort(out.connections.begin(), out.connections.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

double rate_tracker::rate(const std::string& key, double value) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(_mutex);
  auto& samples = _samples[key];
  while (!samples.empty() && now - samples.front().at > rate_window) samples.pop_front();
  double result = 0;
  if (!samples.empty() && now - samples.front().at >= shortest_span) {
    const double seconds = std::chrono::duration<double>(now - samples.front().at).count();
    result = std::max(0.0, (value - samples.front().value) / seconds);
  } else if (samples.size() >= 2) {
    // Asked again within the shortest span: the rate of the samples so far.
    const auto& first = samples.front();
    const auto& last = samples.back();
    const double seconds = std::chrono::duration<double>(last.at - first.at).count();
    if (seconds > 0) result = std::max(0.0, (last.value - first.value) / seconds);
  }
  samples.push_back({now, value});
  // Now and then, forget the keys nobody asked about lately (queues deleted meanwhile).
  if (++_calls % 4096 == 0) {
    std::erase_if(_samples, [&](const auto& kv) { return now - kv.second.back().at > rate_window; });
  }
  return result;
}

}  // namespace haremq::mgmt
