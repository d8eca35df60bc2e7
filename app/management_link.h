#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "app/config.h"
#include "app/worker.h"
#include "mgmt/broker_link.h"

// The management layer's way into the running broker: tasks go into the workers' mailboxes as
// task_cmd and the HTTP thread waits for them to have run.
namespace haremq::app {

class management_link final : public mgmt::broker_link {
 public:
  management_link(broker_state& broker, const std::vector<std::unique_ptr<worker>>& workers, io::backend backend);

  engine::topology_store& topology() override { return _broker.topology; }
  unsigned workers() const noexcept override { return static_cast<unsigned>(_broker.mailboxes.size()); }
  bool run_on(engine::worker_id w, mgmt::worker_task task) override;
  bool run_everywhere(mgmt::worker_task task) override;
  mgmt::broker_facts facts() const override;
  engine::worker_id place_queue() override;
  void set_http_port(std::uint16_t port) noexcept { _http_port = port; }

 private:
  bool run(const std::vector<engine::worker_id>& targets, mgmt::worker_task task);

  broker_state& _broker;
  io::backend _backend;
  std::uint16_t _http_port = 0;
  std::int64_t _started_at_ms;
  std::atomic<unsigned> _next_owner{0};
};

}  // namespace haremq::app
