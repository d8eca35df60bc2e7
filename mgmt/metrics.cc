#include "mgmt/metrics.h"

#include <fmt/format.h>

namespace haremq::mgmt {
namespace {

// A label value with Prometheus' escapes.
std::string escaped(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

class exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(_text), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(_text), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(_text), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  void histogram(std::string_view name, const std::string& labels, const engine::latency_histogram& h) {
    std::uint64_t cumulative = 0;
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t i = 0; i < engine::latency_histogram::bounds.size(); ++i) {
      cumulative += h.count_in(i);
      fmt::format_to(std::back_inserter(_text), "{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix,
                     engine::latency_histogram::bounds[i], cumulative);
    }
    cumulative += h.count_in(engine::latency_histogram::bounds.size());
    fmt::format_to(std::back_inserter(_text), "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, cumulative);
    fmt::format_to(std::back_inserter(_text), "{}_sum{{{}}} {}\n", name, labels, h.sum());
    fmt::format_to(std::back_inserter(_text), "{}_count{{{}}} {}\n", name, labels, cumulative);
  }
  std::string take() { return std::move(_text); }

 private:
  std::string _text;
};

}  // namespace

std::string prometheus_text(api_context& c) {
  const auto facts = c.broker.facts();
  const auto live = gather(c.broker);
  exposition out;

  out.family("haremq_build_info", "gauge", "The broker's version and I/O back end");
  out.sample("haremq_build_info",
             fmt::format("version=\"{}\",io_backend=\"{}\"", escaped(facts.version), escaped(facts.io_backend)), 1);
  out.family("haremq_workers", "gauge", "Worker threads (one event loop each)");
  out.sample("haremq_workers", "", facts.workers);
  out.family("haremq_worker_cpu_seconds_total", "counter",
             "CPU time used by each worker's thread; its rate is the loop's utilisation");
  for (std::size_t i = 0; i < live.worker_cpu_seconds.size(); ++i) {
    out.sample("haremq_worker_cpu_seconds_total", fmt::format("worker=\"{}\"", i), live.worker_cpu_seconds[i]);
  }
  out.family("haremq_memory_used_bytes", "gauge", "Bytes held by messages");
  out.sample("haremq_memory_used_bytes", "", static_cast<double>(facts.memory_used));
  out.family("haremq_process_resident_memory_bytes", "gauge", "The broker process's resident memory");
  out.sample("haremq_process_resident_memory_bytes", "", static_cast<double>(facts.resident_bytes));
  out.family("haremq_memory_limit_bytes", "gauge", "The memory alarm's watermark");
  out.sample("haremq_memory_limit_bytes", "", static_cast<double>(facts.memory_limit));
  out.family("haremq_alarm", "gauge", "1 while a resource alarm blocks publishers");
  out.sample("haremq_alarm", "resource=\"memory\"", facts.memory_alarm ? 1 : 0);
  out.sample("haremq_alarm", "resource=\"disk\"", facts.disk_alarm ? 1 : 0);

  std::size_t channels = 0, consumers = 0;
  for (const auto& conn : live.connections) {
    channels += conn.session.channels.size();
    for (const auto& ch : conn.session.channels) consumers += ch.consumers.size();
  }
  out.family("haremq_connections", "gauge", "Open client connections");
  out.sample("haremq_connections", "", static_cast<double>(live.connections.size()));
  out.family("haremq_channels", "gauge", "Open channels");
  out.sample("haremq_channels", "", static_cast<double>(channels));
  out.family("haremq_consumers", "gauge", "Consumers on all queues");
  out.sample("haremq_consumers", "", static_cast<double>(consumers));
  out.family("haremq_queues", "gauge", "Queues");
  out.sample("haremq_queues", "", static_cast<double>(live.queues.size()));

  const auto labels_of = [](const queue_snapshot& q) {
    return fmt::format("vhost=\"{}\",queue=\"{}\"", escaped(q.vhost), escaped(q.name));
  };
  struct per_queue {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const queue_snapshot&);
  };
  static constexpr per_queue families[] = {
      {"haremq_queue_messages_ready", "gauge", "Messages ready for delivery", [](const queue_snapshot& q) { return double(q.ready); }},
      {"haremq_queue_messages_unacked", "gauge", "Messages delivered and not yet acknowledged",
       [](const queue_snapshot& q) { return double(q.unacked); }},
      {"haremq_queue_messages", "gauge", "Messages ready and unacknowledged",
       [](const queue_snapshot& q) { return double(q.ready) + double(q.unacked); }},
      {"haremq_queue_consumers", "gauge", "Consumers of the queue", [](const queue_snapshot& q) { return double(q.consumers); }},
      {"haremq_queue_messages_published_total", "counter", "Messages enqueued",
       [](const queue_snapshot& q) { return double(q.stats.published); }},
      {"haremq_queue_messages_delivered_total", "counter", "Messages delivered to consumers or fetched with basic.get",
       [](const queue_snapshot& q) {
         return double(q.stats.delivered + q.stats.delivered_no_ack + q.stats.got + q.stats.got_no_ack);
       }},
      {"haremq_queue_messages_redelivered_total", "counter", "Deliveries with redelivered=true",
       [](const queue_snapshot& q) { return double(q.stats.redelivered); }},
      {"haremq_queue_messages_acked_total", "counter", "Messages acknowledged",
       [](const queue_snapshot& q) { return double(q.stats.acked); }},
  };
  for (const auto& f : families) {
    out.family(f.name, f.type, f.help);
    for (const auto& q : live.queues) out.sample(f.name, labels_of(q), f.value(q));
  }
  out.family("haremq_queue_time_in_queue_seconds", "histogram", "Time from publish to first delivery");
  for (const auto& q : live.queues) out.histogram("haremq_queue_time_in_queue_seconds", labels_of(q), q.stats.time_in_queue);
  out.family("haremq_queue_end_to_end_latency_seconds", "histogram",
             "Time from publish to acknowledgement (to delivery for consumers that do not ack)");
  for (const auto& q : live.queues) {
    out.histogram("haremq_queue_end_to_end_latency_seconds", labels_of(q), q.stats.end_to_end);
  }
  return out.take();
}

}  // namespace haremq::mgmt
