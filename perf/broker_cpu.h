#pragma once

#include <optional>
#include <sys/types.h>

// CPU time of a process, read from /proc/PID/stat (utime + stime), and of this process
// (getrusage). Sampled at the start and end of a run to charge the broker's CPU to the
// messages it moved. Thread-safe (no state).
namespace haremq::perf {

// User plus system CPU time of `pid` in microseconds; nullopt if the process is gone.
// Resolution is one clock tick (10 ms at the usual 100 Hz): fine over runs of seconds.
std::optional<double> process_cpu_us(pid_t pid);
// This process, all threads.
double self_cpu_us() noexcept;

}  // namespace haremq::perf
