#include "perf/report.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "perf/topology.h"

namespace haremq::perf {
namespace {

double us(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1000.0; }

// 1234567.8 -> "1,234,568"
std::string grouped(double value) {
  auto n = static_cast<long long>(value + 0.5);
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

void print_latency(std::FILE* out, const char* what, const histogram& h) {
  if (h.count() == 0) {
    std::fprintf(out, "  %-17s none recorded\n", what);
    return;
  }
  std::fprintf(out, "  %-17s min %.1f  p50 %.1f  p75 %.1f  p95 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  µs  (n=%s)\n", what,
               us(h.min()), us(h.percentile(50)), us(h.percentile(75)), us(h.percentile(95)), us(h.percentile(99)),
               us(h.percentile(99.9)), us(h.max()), grouped(static_cast<double>(h.count())).c_str());
}

nlohmann::ordered_json latency_json(const histogram& h) {
  nlohmann::ordered_json j;
  j["count"] = h.count();
  j["min_us"] = us(h.min());
  j["mean_us"] = h.mean() / 1000.0;
  j["p50_us"] = us(h.percentile(50));
  j["p75_us"] = us(h.percentile(75));
  j["p95_us"] = us(h.percentile(95));
  j["p99_us"] = us(h.percentile(99));
  j["p99_9_us"] = us(h.percentile(99.9));
  j["max_us"] = us(h.max());
  return j;
}

}  // namespace

void print_progress(std::FILE* out, const progress_sample& s) {
  std::fprintf(out, "time %6.1f s, sent %10s msg/s, confirmed %10s msg/s, received %10s msg/s", s.time_s,
               grouped(s.sent_rate).c_str(), grouped(s.confirmed_rate).c_str(), grouped(s.received_rate).c_str());
  if (s.latency_count > 0) {
    std::fprintf(out, ", latency p50 %.0f µs p99 %.0f µs", us(s.latency_p50_ns), us(s.latency_p99_ns));
  }
  std::fputc('\n', out);
  std::fflush(out);
}

void print_summary(std::FILE* out, const run_report& r, const options& o) {
  std::fprintf(out, "\nsummary: %.2f s (ended by %s), %zu producer(s), %zu consumer(s), %zu B, %s exchange, %zu queue(s)\n",
               r.duration_s, r.end_reason.c_str(), o.has_producers() ? o.producers : 0,
               o.has_consumers() ? o.consumers : 0, o.body_size, std::string(name_of(o.exchange_type)).c_str(),
               o.queues);
  if (r.prefill) {
    std::fprintf(out, "  prefill           %s msgs in %.2f s, %s msg/s\n", grouped(static_cast<double>(r.prefill->messages)).c_str(),
                 r.prefill->seconds, grouped(r.prefill->rate()).c_str());
  }
  if (r.drain) {
    std::fprintf(out, "  drain             %s msgs in %.2f s, %s msg/s\n", grouped(static_cast<double>(r.drain->messages)).c_str(),
                 r.drain->seconds, grouped(r.drain->rate()).c_str());
  }
  std::fprintf(out, "  sending rate      %s msg/s   (%s sent)\n", grouped(r.send_rate()).c_str(),
               grouped(static_cast<double>(r.sent)).c_str());
  if (o.confirm > 0) {
    std::fprintf(out, "  confirm rate      %s msg/s   (%s confirmed, %s nacked)\n", grouped(r.confirm_rate()).c_str(),
                 grouped(static_cast<double>(r.confirmed)).c_str(), grouped(static_cast<double>(r.nacked)).c_str());
  }
  std::fprintf(out, "  receiving rate    %s msg/s   (%s received", grouped(r.receive_rate()).c_str(),
               grouped(static_cast<double>(r.received)).c_str());
  if (r.expected > 0) std::fprintf(out, " of %s expected", grouped(static_cast<double>(r.expected)).c_str());
  std::fprintf(out, ")\n");
  if (o.sink) std::fprintf(out, "  sink counted      %s publishes\n", grouped(static_cast<double>(r.sink_publishes)).c_str());
  print_latency(out, "latency", r.latency);
  if (o.confirm > 0) print_latency(out, "confirm latency", r.confirm_latency);
  if (r.broker_cpu_us) {
    const double moved = static_cast<double>(r.sent > 0 ? r.sent : r.received);
    std::fprintf(out, "  broker CPU        %.2f s (%.0f%% of a core), %.2f µs/msg %s\n", *r.broker_cpu_us / 1e6,
                 r.duration_s > 0 ? *r.broker_cpu_us / 1e4 / r.duration_s : 0.0, moved > 0 ? *r.broker_cpu_us / moved : 0.0,
                 r.sent > 0 ? "sent" : "received");
  }
  const double moved = static_cast<double>(r.sent + r.received);
  std::fprintf(out, "  harness CPU       %.2f s (%.0f%% of a core), %.3f µs per message sent or received\n",
               r.harness_cpu_us / 1e6, r.duration_s > 0 ? r.harness_cpu_us / 1e4 / r.duration_s : 0.0,
               moved > 0 ? r.harness_cpu_us / moved : 0.0);
  std::fflush(out);
}

std::optional<std::string> write_json(const std::string& path, const run_report& r, const options& o,
                                      const machine_info& m) {
  nlohmann::ordered_json j;
  j["tool"] = "haremq-perf";
  j["command"] = o.command_line;
  j["commit"] = m.commit;
  j["commit_dirty"] = m.dirty;
  j["machine"] = {{"hostname", m.hostname}, {"cores", m.cores}, {"cpu_model", m.cpu_model}, {"kernel", m.kernel}};
  j["settings"] = {
      {"uri_host", o.uri.endpoint()},
      {"vhost", o.uri.vhost},
      {"producers", o.has_producers() ? o.producers : 0},
      {"consumers", o.has_consumers() ? o.consumers : 0},
      {"size", o.body_size},
      {"time_s", o.time_s},
      {"pmessages", o.pmessages},
      {"rate", o.rate},
      {"confirm", o.confirm},
      {"qos", o.qos},
      {"autoack", o.autoack},
      {"multi_ack_every", o.multi_ack_every},
      {"queue", o.queue},
      {"queues", o.queues},
      {"exchange", o.exchange},
      {"exchange_type", std::string(name_of(o.exchange_type))},
      {"persistent", o.persistent},
      {"prefill", o.prefill},
      {"consume_only", o.consume_only},
      {"publish_only", o.publish_only},
      {"connections", o.connections},
      {"broker_pid", o.broker_pid},
      {"max_seconds", o.max_seconds},
      {"sink", o.sink},
  };
  nlohmann::ordered_json res;
  res["duration_s"] = r.duration_s;
  res["end_reason"] = r.end_reason;
  if (!r.failure.empty()) res["failure"] = r.failure;
  res["sent"] = r.sent;
  res["send_rate"] = r.send_rate();
  res["confirmed"] = r.confirmed;
  res["nacked"] = r.nacked;
  res["confirm_rate"] = r.confirm_rate();
  res["received"] = r.received;
  res["receive_rate"] = r.receive_rate();
  res["expected"] = r.expected;
  if (o.sink) res["sink_publishes"] = r.sink_publishes;
  res["latency"] = latency_json(r.latency);
  res["confirm_latency"] = latency_json(r.confirm_latency);
  if (r.broker_cpu_us) {
    res["broker_cpu_s"] = *r.broker_cpu_us / 1e6;
    res["broker_cpu_us_per_sent"] = r.sent > 0 ? *r.broker_cpu_us / static_cast<double>(r.sent) : 0.0;
    res["broker_cpu_us_per_received"] = r.received > 0 ? *r.broker_cpu_us / static_cast<double>(r.received) : 0.0;
  }
  res["harness_cpu_s"] = r.harness_cpu_us / 1e6;
  if (r.prefill) res["prefill"] = {{"messages", r.prefill->messages}, {"seconds", r.prefill->seconds}, {"rate", r.prefill->rate()}};
  if (r.drain) res["drain"] = {{"messages", r.drain->messages}, {"seconds", r.drain->seconds}, {"rate", r.drain->rate()}};
  nlohmann::ordered_json progress = nlohmann::ordered_json::array();
  for (const progress_sample& s : r.progress) {
    progress.push_back({{"time_s", s.time_s},
                        {"sent_rate", s.sent_rate},
                        {"confirmed_rate", s.confirmed_rate},
                        {"received_rate", s.received_rate},
                        {"latency_count", s.latency_count},
                        {"latency_p50_us", us(s.latency_p50_ns)},
                        {"latency_p99_us", us(s.latency_p99_ns)}});
  }
  res["progress"] = std::move(progress);
  j["results"] = std::move(res);

  std::ofstream file(path);
  if (!file) return "cannot write " + path;
  file << j.dump(2) << "\n";
  if (!file) return "cannot write " + path;
  return std::nullopt;
}

}  // namespace haremq::perf
