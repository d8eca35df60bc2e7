#pragma once

#include <atomic>
#include <mutex>
#include <string>

// The stop flag every load thread polls, and the first failure of the run (a close from the
// broker, a dropped socket). Shared by all threads of a run; thread-safe; lives as long as
// the run.
namespace haremq::perf {

class run_control {
 public:
  bool stopping() const noexcept { return _stop.load(std::memory_order_acquire); }
  void stop() noexcept { _stop.store(true, std::memory_order_release); }

  // Records `what` if it is the first failure, then stops the run.
  void fail(std::string what) {
    {
      const std::lock_guard lock{_mutex};
      if (_failure.empty()) _failure = std::move(what);
    }
    _failed.store(true, std::memory_order_release);
    stop();
  }
  bool failed() const noexcept { return _failed.load(std::memory_order_acquire); }
  std::string failure() const {
    const std::lock_guard lock{_mutex};
    return _failure;
  }

 private:
  std::atomic<bool> _stop{false};
  std::atomic<bool> _failed{false};
  mutable std::mutex _mutex;
  std::string _failure;
};

}  // namespace haremq::perf
