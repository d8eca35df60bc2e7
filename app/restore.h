#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/data_directory.h"
#include "app/worker.h"

// Start-up, before any worker runs: puts back what the data directory holds. The durable
// topology comes from definitions.json (then from a --definitions file, imported on top), each
// durable queue gets its object on its worker, and the persistent messages the earlier run left
// in its message logs go back into their queues, written again into this run's logs, after
// which the old segments are deleted. Logs what it recovered and how long it took.
namespace haremq::app {

// False (with the reason) when the broker must not start: a definitions file that cannot be
// read, or a message log that cannot be read or written.
bool restore(broker_state& broker, std::vector<std::unique_ptr<worker>>& workers, const data_directory& dir,
             const config& c, std::string& why);

// The end of a clean stop, once the workers' loops have ended: marks what was delivered,
// flushes every log, and leaves the clean-shutdown mark if all of it reached the disk.
void finish_clean_stop(std::vector<std::unique_ptr<worker>>& workers, const data_directory& dir);

}  // namespace haremq::app
