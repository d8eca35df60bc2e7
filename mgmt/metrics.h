#pragma once

#include <string>

#include "mgmt/api.h"

// Prometheus' text exposition format (version 0.0.4) of the broker: per-queue depth, message
// counters (rates are the scraper's rate() of them), consumers, connections, channels, memory,
// the I/O back end, each worker's CPU time (its loop utilisation, as a rate), and per-queue
// histograms of time in queue and of end-to-end latency.
namespace haremq::mgmt {

std::string prometheus_text(api_context& c);

}  // namespace haremq::mgmt
