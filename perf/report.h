#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "perf/histogram.h"
#include "perf/machine_info.h"
#include "perf/options.h"

// What a run measured, and its three renderings: the line printed every second, the
// summary at the end, and the JSON file. Filled by the runner's thread only.
namespace haremq::perf {

struct progress_sample {
  double time_s = 0;  // since the start of the measured phase
  double sent_rate = 0;
  double confirmed_rate = 0;
  double received_rate = 0;
  std::uint64_t latency_count = 0;
  std::uint64_t latency_p50_ns = 0;
  std::uint64_t latency_p99_ns = 0;
};

struct phase_rate {
  std::uint64_t messages = 0;
  double seconds = 0;
  double rate() const noexcept { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
};

struct run_report {
  double duration_s = 0;
  std::uint64_t sent = 0;
  std::uint64_t confirmed = 0;
  std::uint64_t nacked = 0;
  std::uint64_t received = 0;
  std::uint64_t expected = 0;  // deliveries -C asked for; 0 without -C
  histogram latency;           // end to end, ns
  histogram confirm_latency;   // publish to basic.ack, ns
  std::optional<double> broker_cpu_us;
  double harness_cpu_us = 0;
  std::optional<phase_rate> prefill;
  std::optional<phase_rate> drain;
  std::uint64_t sink_publishes = 0;  // --sink: what the discard server counted
  std::string end_reason;            // "time", "message count", "max-seconds", "interrupted", "failure"
  std::string failure;
  std::vector<progress_sample> progress;

  double send_rate() const noexcept { return duration_s > 0 ? static_cast<double>(sent) / duration_s : 0; }
  double confirm_rate() const noexcept { return duration_s > 0 ? static_cast<double>(confirmed) / duration_s : 0; }
  double receive_rate() const noexcept { return duration_s > 0 ? static_cast<double>(received) / duration_s : 0; }
};

void print_progress(std::FILE* out, const progress_sample& s);
void print_summary(std::FILE* out, const run_report& r, const options& o);
// Writes the report as JSON; on failure returns why.
std::optional<std::string> write_json(const std::string& path, const run_report& r, const options& o,
                                      const machine_info& m);

}  // namespace haremq::perf
