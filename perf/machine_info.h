#pragma once

#include <string>

// Where a run happened, for the JSON report: host, cores, CPU model, kernel, and the git
// commit of the source tree (the command is meaningless without it). Gathered once.
namespace haremq::perf {

struct machine_info {
  std::string hostname;
  unsigned cores = 0;
  std::string cpu_model;
  std::string kernel;
  std::string commit = "unknown";  // `git rev-parse --short HEAD`
  bool dirty = false;              // tracked files differ from the commit
};

// Runs git (in the current directory, else next to the executable); never throws on a
// missing git or repository.
machine_info gather_machine_info();

}  // namespace haremq::perf
