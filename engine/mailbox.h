#pragma once

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

#include "engine/command.h"

// A worker's inbound ring: any thread posts (workers in batches, once a loop turn), the
// owning worker drains. moodycamel's queue
// keeps each producer's items in order (one sub-queue per producing thread), which is the
// order guarantee commands rely on. A post wakes the worker only when it may be asleep:
// the first post after a drain pays the wake-up (an eventfd write), the rest ride along.
namespace haremq::engine {

class mailbox {
 public:
  // Back-pressure marks, in commands: over the high one the mailbox is congested and its
  // publishers stop reading; they go on once every mailbox is under the low one.
  static constexpr std::size_t high_mark = 64 * 1024;
  static constexpr std::size_t low_mark = 16 * 1024;

  // `wake` is called from the posting thread; it must be thread-safe (reactor::wake).
  void set_wake(std::function<void()> wake) { _wake = std::move(wake); }

  // Thread-safe; allocates only when the ring grows a block.
  void post(command&& c) {
    _queue.enqueue(std::move(c));
    _size.fetch_add(1, std::memory_order_relaxed);
    if (!_wake_pending.exchange(true, std::memory_order_seq_cst) && _wake) _wake();
  }

  // One sending thread's handle on this mailbox: its commands go into a sub-queue of its own
  // (moodycamel's explicit producer), cheaper than the implicit one post() looks up.
  using producer = moodycamel::ProducerToken;
  producer make_producer() { return producer{_queue}; }

  // Moves a whole batch in with at most one wake-up; `batch` is left empty.
  void post_batch(producer& p, std::vector<command>& batch) {
    if (batch.empty()) return;
    const std::size_t n = batch.size();
    // Item by item through the token: enqueue_bulk trips a false -Wstringop-overflow in
    // GCC 12, and the token already makes each enqueue a few stores.
    for (auto& c : batch) _queue.enqueue(p, std::move(c));
    batch.clear();
    _size.fetch_add(n, std::memory_order_relaxed);
    if (!_wake_pending.exchange(true, std::memory_order_seq_cst) && _wake) _wake();
  }

  // Owner only: handles up to `max` commands; returns how many.
  template <class F>
  std::size_t drain(F&& handle, std::size_t max = 4096) {
    // An exchange, not a store: the queue must not be read before the flag is down, or a
    // post in between would see the flag still up, skip the wake-up, and wait for the tick.
    _wake_pending.exchange(false, std::memory_order_seq_cst);
    command batch[64];
    std::size_t done = 0;
    while (done < max) {
      const std::size_t n = _queue.try_dequeue_bulk(batch, std::min<std::size_t>(64, max - done));
      if (n == 0) break;
      _size.fetch_sub(n, std::memory_order_relaxed);
      for (std::size_t i = 0; i < n; ++i) handle(std::move(batch[i]));
      for (std::size_t i = 0; i < n; ++i) batch[i] = command{};  // release what was moved from
      done += n;
    }
    return done;
  }

  // Commands waiting (approximate): the back-pressure signal for publishers.
  std::size_t size_approx() const noexcept { return _size.load(std::memory_order_relaxed); }

 private:
  moodycamel::ConcurrentQueue<command> _queue;
  std::atomic<std::size_t> _size{0};
  std::atomic<bool> _wake_pending{false};
  std::function<void()> _wake;
};

}  // namespace haremq::engine
