#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/ids.h"
#include "engine/topology.h"
#include "engine/session/worker_context.h"

// What the management layer needs from the running broker, implemented by app/. The HTTP
// threads never touch a worker's objects: they read the topology store (its own mutex) and
// run tasks on the workers, which post them through the workers' rings.
namespace haremq::mgmt {

using worker_task = std::function<void(session::worker_context&)>;

struct broker_facts {
  std::string node = "haremq@localhost";
  std::string cluster_name;
  std::string product;
  std::string version;
  std::string bind;
  std::string data_dir;
  std::uint16_t amqp_port = 0;
  std::uint16_t http_port = 0;
  std::string io_backend;  // "io_uring" or "epoll"
  unsigned workers = 0;
  std::uint64_t memory_used = 0;   // bytes held by messages
  std::uint64_t resident_bytes = 0;  // the process's RSS
  std::uint64_t memory_limit = 0;  // the memory alarm's watermark
  bool memory_alarm = false;
  bool disk_alarm = false;
  std::int64_t started_at_ms = 0;  // Unix time
};

class broker_link {
 public:
  virtual ~broker_link() = default;
  virtual engine::topology_store& topology() = 0;
  virtual unsigned workers() const noexcept = 0;
  // Runs `task` on worker `w` (or on every worker) and waits until it has run; false if a
  // worker did not get to it within a few seconds (the task may still run later).
  virtual bool run_on(engine::worker_id w, worker_task task) = 0;
  virtual bool run_everywhere(worker_task task) = 0;
  virtual broker_facts facts() const = 0;
  // The worker that owns a queue declared over HTTP.
  virtual engine::worker_id place_queue() = 0;
};

}  // namespace haremq::mgmt
