#include "engine/memory_meter.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

namespace haremq::engine::memory_meter {
namespace {

struct alignas(64) slot {
  std::atomic<std::int64_t> bytes{0};
};

struct registry {
  std::mutex mutex;
  std::vector<slot*> live;
  std::int64_t retired = 0;  // what ended threads left counted
};

registry& the_registry() {
  static registry* r = new registry;  // never destroyed: threads may end after main's statics
  return *r;
}

// A thread's slot, listed while the thread lives.
struct thread_slot {
  slot s;
  thread_slot() {
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    r.live.push_back(&s);
  }
  ~thread_slot() {
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    r.retired += s.bytes.load(std::memory_order_relaxed);
    r.live.erase(std::remove(r.live.begin(), r.live.end(), &s), r.live.end());
  }
};

thread_local thread_slot mine;

}  // namespace

void add(std::int64_t bytes) noexcept {
  // One writer per slot: a load and a store, no read-modify-write.
  mine.s.bytes.store(mine.s.bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
}

std::int64_t total() noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  std::int64_t sum = r.retired;
  for (const slot* s : r.live) sum += s->bytes.load(std::memory_order_relaxed);
  return sum;
}

}  // namespace haremq::engine::memory_meter
