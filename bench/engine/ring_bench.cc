// The cross-worker rings as the broker uses them: producer threads move engine::command
// variants (an enqueue_cmd holding a message_ref, the publish path) in, one consumer drains
// them in bulk, 64 at a time, and drops them (releasing the reference, as the queue owner
// eventually does). Each iteration is one round of 65536 commands split evenly between the
// producers; the producer threads live for the whole run and are released once a round.
// Items are commands; the rate is the consumer's, over wall-clock time.
// - BM_Mailbox_Post/<producers>: engine::mailbox::post, moodycamel's implicit producers
//   (a thread-local lookup per enqueue) and one wake flag exchange per command.
// - BM_Mailbox_PostBatch/<producers>: engine::mailbox::post_batch with a ProducerToken per
//   producer and batches of 64, as app/worker.cc flushes a loop turn's commands.
// - BM_MutexDeque_Post/<producers>, BM_MutexDeque_PostBatch/<producers>: the same behind a
//   std::mutex and a std::deque (one lock per command, or per batch of 64).
// - BM_ConcurrentQueue_Enqueue/<producers>: moodycamel's queue alone, implicit producers:
//   what mailbox::post costs without its size counter and wake flag.
// - BM_SpscRing_Push, BM_SpscRing_PushBatch: a bounded single-producer/single-consumer ring
//   (below), 1 producer, publishing each command or each batch of 64.
// No wake-up callback is set: the eventfd write a real post may pay is not measured.
// The machine may have fewer cores than threads here (consumer + producers): an empty or
// full ring yields the core instead of spinning.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "engine/command.h"
#include "engine/mailbox.h"
#include "engine/message.h"

namespace haremq::engine {
namespace {

constexpr std::size_t round_commands = 65536;
constexpr std::size_t batch_size = 64;
constexpr std::size_t pool_size = 256;  // messages per producer, shared round-robin

// A bounded ring for exactly one producer thread and one consumer thread (folly's
// ProducerConsumerQueue shape): each side owns its index and reads the other's, with
// acquire, only when its cached copy says full or empty. Items are move-constructed into
// raw slots and destroyed when taken. Capacity is a power of two; allocates only in the
// constructor.
template <class T>
class spsc_ring {
 public:
  explicit spsc_ring(std::size_t capacity) : _mask(capacity - 1), _slots(std::make_unique<slot[]>(capacity)) {}
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;
  ~spsc_ring() {
    const std::size_t tail = _tail.load(std::memory_order_acquire);
    for (std::size_t i = _head.load(std::memory_order_relaxed); i != tail; ++i) at(i)->~T();
  }

  // Producer only; false when full.
  bool try_push(T&& v) noexcept {
    const std::size_t tail = _tail.load(std::memory_order_relaxed);
    if (tail - _head_cache > _mask) {
      _head_cache = _head.load(std::memory_order_acquire);
      if (tail - _head_cache > _mask) return false;
    }
    new (_slots[tail & _mask].raw) T(std::move(v));
    _tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Producer only; moves in as many of items[0, n) as fit, published at once; returns how many.
  std::size_t try_push_bulk(T* items, std::size_t n) noexcept {
    const std::size_t tail = _tail.load(std::memory_order_relaxed);
    if (n > _mask + 1 - (tail - _head_cache)) _head_cache = _head.load(std::memory_order_acquire);
    const std::size_t k = std::min(n, _mask + 1 - (tail - _head_cache));
    for (std::size_t i = 0; i < k; ++i) new (_slots[(tail + i) & _mask].raw) T(std::move(items[i]));
    if (k != 0) _tail.store(tail + k, std::memory_order_release);
    return k;
  }

  // Consumer only; moves up to `max` items into `out`, returns how many.
  std::size_t try_pop_bulk(T* out, std::size_t max) noexcept {
    const std::size_t head = _head.load(std::memory_order_relaxed);
    if (_tail_cache == head) {
      _tail_cache = _tail.load(std::memory_order_acquire);
      if (_tail_cache == head) return 0;
    }
    const std::size_t n = std::min(max, _tail_cache - head);
    for (std::size_t i = 0; i < n; ++i) {
      T* item = at(head + i);
      out[i] = std::move(*item);
      item->~T();
    }
    _head.store(head + n, std::memory_order_release);
    return n;
  }

 private:
  struct slot {
    alignas(T) std::byte raw[sizeof(T)];
  };
  T* at(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(_slots[i & _mask].raw)); }

  const std::size_t _mask;
  std::unique_ptr<slot[]> _slots;
  alignas(64) std::atomic<std::size_t> _head{0};  // written by the consumer
  std::size_t _tail_cache = 0;                     // the consumer's view of _tail
  alignas(64) std::atomic<std::size_t> _tail{0};  // written by the producer
  std::size_t _head_cache = 0;                     // the producer's view of _head
};

// The obvious alternative: a lock around a deque. Drained like mailbox::drain.
class locked_deque {
 public:
  void post(command&& c) {
    std::lock_guard lock(_mutex);
    _queue.push_back(std::move(c));
  }
  void post_batch(std::vector<command>& batch) {
    {
      std::lock_guard lock(_mutex);
      for (auto& c : batch) _queue.push_back(std::move(c));
    }
    batch.clear();
  }
  template <class F>
  std::size_t drain(F&& handle) {
    std::array<command, batch_size> batch;
    std::size_t n = 0;
    {
      std::lock_guard lock(_mutex);
      n = std::min(batch.size(), _queue.size());
      std::move(_queue.begin(), _queue.begin() + static_cast<std::ptrdiff_t>(n), batch.begin());
      _queue.erase(_queue.begin(), _queue.begin() + static_cast<std::ptrdiff_t>(n));
    }
    for (std::size_t i = 0; i < n; ++i) handle(std::move(batch[i]));
    return n;
  }

 private:
  std::mutex _mutex;
  std::deque<command> _queue;
};

// Producer threads started once and released for one round at a time.
class producer_crew {
 public:
  // produce(index) pushes producer `index`'s share of one round.
  producer_crew(int producers, std::function<void(int)> produce) : _produce(std::move(produce)) {
    for (int i = 0; i < producers; ++i) _threads.emplace_back([this, i] { run(i); });
  }
  producer_crew(const producer_crew&) = delete;
  producer_crew& operator=(const producer_crew&) = delete;
  ~producer_crew() {
    _stop.store(true, std::memory_order_relaxed);
    _round.fetch_add(1, std::memory_order_release);
    _round.notify_all();
    for (auto& t : _threads) t.join();
  }

  void start_round() {
    _finished.store(0, std::memory_order_relaxed);
    _round.fetch_add(1, std::memory_order_release);
    _round.notify_all();
  }
  void wait_round() const {
    while (_finished.load(std::memory_order_acquire) < static_cast<int>(_threads.size())) std::this_thread::yield();
  }

 private:
  void run(int index) {
    std::uint32_t seen = 0;
    for (;;) {
      _round.wait(seen, std::memory_order_acquire);
      seen = _round.load(std::memory_order_acquire);
      if (_stop.load(std::memory_order_relaxed)) return;
      _produce(index);
      _finished.fetch_add(1, std::memory_order_release);
    }
  }

  std::function<void(int)> _produce;
  std::atomic<std::uint32_t> _round{0};
  std::atomic<int> _finished{0};
  std::atomic<bool> _stop{false};
  std::vector<std::thread> _threads;
};

// What each producer owns (its messages, its count of commands sent, its batch), on lines of
// its own. The consumer checks that each producer's commands arrive in the order sent (the
// guarantee the broker relies on).
struct alignas(64) lane {
  std::vector<message_ref> pool;
  std::uint64_t sent = 0;
  std::vector<command> batch;
};

struct traffic {
  explicit traffic(int producers) : lanes(static_cast<std::size_t>(producers)), expected(lanes.size(), 1) {
    const std::array<std::byte, 16> body{};
    for (auto& l : lanes) {
      for (std::size_t i = 0; i < pool_size; ++i) {
        message* m = message::create("", "perf-test-queue", {}, body.size());
        m->append_body(body);
        l.pool.emplace_back(m);
      }
      l.batch.reserve(batch_size);
    }
  }

  // Producer p's next command: one more reference to one of its messages.
  command next(int p) {
    lane& l = lanes[static_cast<std::size_t>(p)];
    const std::uint64_t seq = ++l.sent;
    return enqueue_cmd{queue_id{static_cast<std::uint32_t>(p)}, l.pool[seq % pool_size].share(),
                       enqueue_receipt{{}, 0, seq}};
  }

  std::size_t per_producer() const { return round_commands / lanes.size(); }
  std::size_t per_round() const { return per_producer() * lanes.size(); }

  // Consumer side; false when a producer's order was broken.
  bool take(command&& c) {
    const auto& e = std::get<enqueue_cmd>(c);
    auto& want = expected[e.queue.value];
    if (e.receipt.seq != want) return false;
    ++want;
    benchmark::DoNotOptimize(e.msg.get());
    return true;
  }

  std::vector<lane> lanes;
  std::vector<std::uint64_t> expected;  // per producer, touched by the consumer only
};

// Runs rounds until the benchmark has timed enough; `drain(handle)` is one bulk drain.
template <class Drain>
void consume_rounds(benchmark::State& state, traffic& t, producer_crew& crew, Drain&& drain) {
  bool in_order = true;
  auto handle = [&](command&& c) { in_order = t.take(std::move(c)) && in_order; };
  for (auto _ : state) {
    crew.start_round();
    for (std::size_t got = 0; got < t.per_round();) {
      const std::size_t n = drain(handle);
      if (n == 0) std::this_thread::yield();
      got += n;
    }
    crew.wait_round();
  }
  if (!in_order) state.SkipWithError("a producer's commands arrived out of order");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(t.per_round()));
}

void BM_Mailbox_Post(benchmark::State& state) {
  const auto producers = static_cast<int>(state.range(0));
  mailbox box;
  traffic t{producers};
  producer_crew crew{producers, [&](int p) {
                       for (std::size_t i = 0; i < t.per_producer(); ++i) box.post(t.next(p));
                     }};
  consume_rounds(state, t, crew, [&](auto& handle) { return box.drain(handle, batch_size); });
}
BENCHMARK(BM_Mailbox_Post)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

void BM_Mailbox_PostBatch(benchmark::State& state) {
  const auto producers = static_cast<int>(state.range(0));
  mailbox box;
  traffic t{producers};
  std::vector<mailbox::producer> tokens;
  for (int p = 0; p < producers; ++p) tokens.push_back(box.make_producer());
  producer_crew crew{producers, [&](int p) {
                       auto& token = tokens[static_cast<std::size_t>(p)];
                       auto& batch = t.lanes[static_cast<std::size_t>(p)].batch;
                       for (std::size_t i = 0; i < t.per_producer(); ++i) {
                         batch.push_back(t.next(p));
                         if (batch.size() == batch_size) box.post_batch(token, batch);
                       }
                       box.post_batch(token, batch);
                     }};
  consume_rounds(state, t, crew, [&](auto& handle) { return box.drain(handle, batch_size); });
}
BENCHMARK(BM_Mailbox_PostBatch)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

void BM_MutexDeque_Post(benchmark::State& state) {
  const auto producers = static_cast<int>(state.range(0));
  locked_deque box;
  traffic t{producers};
  producer_crew crew{producers, [&](int p) {
                       for (std::size_t i = 0; i < t.per_producer(); ++i) box.post(t.next(p));
                     }};
  consume_rounds(state, t, crew, [&](auto& handle) { return box.drain(handle); });
}
BENCHMARK(BM_MutexDeque_Post)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

void BM_MutexDeque_PostBatch(benchmark::State& state) {
  const auto producers = static_cast<int>(state.range(0));
  locked_deque box;
  traffic t{producers};
  producer_crew crew{producers, [&](int p) {
                       auto& batch = t.lanes[static_cast<std::size_t>(p)].batch;
                       for (std::size_t i = 0; i < t.per_producer(); ++i) {
                         batch.push_back(t.next(p));
                         if (batch.size() == batch_size) box.post_batch(batch);
                       }
                       box.post_batch(batch);
                     }};
  consume_rounds(state, t, crew, [&](auto& handle) { return box.drain(handle); });
}
BENCHMARK(BM_MutexDeque_PostBatch)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

// The raw queue under mailbox::post: implicit producers, without the mailbox's size counter
// and wake flag (two atomic read-modify-writes a post on lines the consumer writes too).
void BM_ConcurrentQueue_Enqueue(benchmark::State& state) {
  const auto producers = static_cast<int>(state.range(0));
  moodycamel::ConcurrentQueue<command> queue;
  traffic t{producers};
  producer_crew crew{producers, [&](int p) {
                       for (std::size_t i = 0; i < t.per_producer(); ++i) queue.enqueue(t.next(p));
                     }};
  std::array<command, batch_size> batch;
  consume_rounds(state, t, crew, [&](auto& handle) {
    const std::size_t n = queue.try_dequeue_bulk(batch.data(), batch.size());
    for (std::size_t i = 0; i < n; ++i) {
      handle(std::move(batch[i]));
      batch[i] = command{};
    }
    return n;
  });
}
BENCHMARK(BM_ConcurrentQueue_Enqueue)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

// Capacity 8192 commands: a full ring makes the producer yield, which the others never do.
// The consumer takes what is there, up to 64, as from the other rings.
template <class Push>
void run_spsc(benchmark::State& state, Push push) {
  spsc_ring<command> ring{8192};
  traffic t{1};
  producer_crew crew{1, [&](int) { push(ring, t); }};
  std::array<command, batch_size> batch;
  consume_rounds(state, t, crew, [&](auto& handle) {
    const std::size_t n = ring.try_pop_bulk(batch.data(), batch.size());
    for (std::size_t i = 0; i < n; ++i) {
      handle(std::move(batch[i]));
      batch[i] = command{};  // release what was taken, as mailbox::drain does
    }
    return n;
  });
}

// Each command published on its own.
void BM_SpscRing_Push(benchmark::State& state) {
  run_spsc(state, [](spsc_ring<command>& ring, traffic& t) {
    for (std::size_t i = 0; i < t.per_producer(); ++i) {
      command c = t.next(0);
      while (!ring.try_push(std::move(c))) std::this_thread::yield();
    }
  });
}
BENCHMARK(BM_SpscRing_Push)->UseRealTime();

// Batches of 64 published at once, as post_batch hands over a loop turn's commands.
void BM_SpscRing_PushBatch(benchmark::State& state) {
  run_spsc(state, [](spsc_ring<command>& ring, traffic& t) {
    auto& batch = t.lanes[0].batch;
    auto flush = [&] {
      for (std::size_t done = 0; done < batch.size();) {
        const std::size_t n = ring.try_push_bulk(batch.data() + done, batch.size() - done);
        if (n == 0) std::this_thread::yield();
        done += n;
      }
      batch.clear();
    };
    for (std::size_t i = 0; i < t.per_producer(); ++i) {
      batch.push_back(t.next(0));
      if (batch.size() == batch_size) flush();
    }
    flush();
  });
}
BENCHMARK(BM_SpscRing_PushBatch)->UseRealTime();

}  // namespace
}  // namespace haremq::engine
