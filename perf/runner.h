#pragma once

#include "perf/options.h"

// Runs what the options describe: a load test (declare, optional prefill and drain, the
// measured phase with a progress line a second, summary, JSON, clean-up) or the standalone
// discard server. Returns the process exit code: 0, or 1 when the broker could not be
// reached, refused us, or closed a channel or the connection during the run.
namespace haremq::perf {

int run(const options& o);

}  // namespace haremq::perf
