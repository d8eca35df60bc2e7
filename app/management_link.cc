#include "app/management_link.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "engine/memory_meter.h"

namespace haremq::app {
namespace {

// How long an HTTP request waits for the workers: they answer within a loop turn unless stuck.
constexpr std::chrono::seconds task_timeout{5};

// Counts the workers that have run a task; the waiting thread wakes when all have.
struct countdown {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t remaining;
  explicit countdown(std::size_t n) : remaining(n) {}
  void arrive() {
    std::lock_guard lock(mutex);
    if (--remaining == 0) done.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex);
    return done.wait_for(lock, task_timeout, [&] { return remaining == 0; });
  }
};

}  // namespace

management_link::management_link(broker_state& broker, const std::vector<std::unique_ptr<worker>>&,
                                 io::backend backend)
    : _broker(broker),
      _backend(backend),
      _started_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) {}

bool management_link::run(const std::vector<engine::worker_id>& targets, mgmt::worker_task task) {
  if (_broker.shutting_down.load(std::memory_order_relaxed)) return false;
  auto count = std::make_shared<countdown>(targets.size());
  auto shared = std::make_shared<const std::function<void(session::worker_context&)>>(
      [count, task = std::move(task)](session::worker_context& w) {
        task(w);
        count->arrive();
      });
  for (const auto w : targets) _broker.mailboxes[w.value]->post(engine::task_cmd{shared});
  return count->wait();
}

bool management_link::run_on(engine::worker_id w, mgmt::worker_task task) {
  if (w.value >= _broker.mailboxes.size()) return false;
  return run({w}, std::move(task));
}

bool management_link::run_everywhere(mgmt::worker_task task) {
  std::vector<engine::worker_id> all;
  for (std::size_t i = 0; i < _broker.mailboxes.size(); ++i) all.push_back(engine::worker_id{static_cast<std::uint16_t>(i)});
  return run(all, std::move(task));
}

mgmt::broker_facts management_link::facts() const {
  mgmt::broker_facts f;
  f.cluster_name = _broker.settings.session.cluster_name;
  f.product = _broker.settings.session.product;
  f.version = _broker.settings.session.version;
  f.bind = _broker.settings.bind;
  f.data_dir = _broker.settings.data_dir;
  f.amqp_port = _broker.amqp_port;
  f.http_port = _http_port;
  f.io_backend = std::string(io::name_of(_backend));
  f.workers = workers();
  const auto used = engine::memory_meter::total();
  f.memory_used = used > 0 ? static_cast<std::uint64_t>(used) : 0;
  f.memory_limit = _broker.memory_limit;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    unsigned long pages = 0, resident = 0;
    if (std::fscanf(statm, "%lu %lu", &pages, &resident) == 2) {
      f.resident_bytes = static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    }
    std::fclose(statm);
  }
  f.memory_alarm = _broker.memory_alarm.load(std::memory_order_relaxed);
  f.disk_alarm = _broker.failing_stores.load(std::memory_order_relaxed) > 0 || _broker.topology.persistence_failing();
  f.started_at_ms = _started_at_ms;
  return f;
}

engine::worker_id management_link::place_queue() {
  return engine::worker_id{static_cast<std::uint16_t>(_next_owner.fetch_add(1) % workers())};
}

}  // namespace haremq::app
