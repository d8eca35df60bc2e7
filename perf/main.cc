// haremq-perf: the load-test harness (see perf/README.md).
#include "perf/options.h"
#include "perf/runner.h"

int main(int argc, char** argv) {
  haremq::perf::options o;
  if (auto code = haremq::perf::parse_command_line(argc, argv, o)) return *code;
  return haremq::perf::run(o);
}
