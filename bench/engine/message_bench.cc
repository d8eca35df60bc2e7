// A message's life on the publish path: create (one allocation holding the routing data, the
// properties as received and the body), the body copied in frame by frame, and the last
// release. Items are messages; bytes are body bytes.
// - BM_Message_CreateRelease/<body>/<live>: engine::message, allocated with mi_malloc. <live>
//   messages are created before the first is released: 1 reuses the block just freed (the
//   allocator's best case), 256 is a small backlog.
// - BM_MallocMessage_CreateRelease/<body>/<live>: the same layout and work with std::malloc
//   and std::free. haremq::engine links the shared libmimalloc, which overrides malloc for
//   the whole process: in this binary (and in haremq) std::malloc is mimalloc too.
// - BM_GlibcMessage_CreateRelease/<body>/<live>: the same with glibc's own allocator (its
//   malloc and free looked up in libc.so.6), what malloc would be without mimalloc.
// - BM_MessageRef_ShareRelease: one more reference and its release (two atomic operations on
//   the count); with 2 threads, both on the same message, as when the workers of a fanout's
//   queues release their shares.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include "engine/memory_meter.h"
#include "engine/message.h"
#include "net/amqp/constants.h"
#include "net/amqp/properties.h"

namespace haremq::engine {
namespace {

constexpr std::string_view exchange_name = "";
constexpr std::string_view routing_key = "perf-test-queue";
constexpr std::size_t frame_body_max = amqp::default_frame_max - amqp::frame_overhead;

struct std_allocator {
  static void* allocate(std::size_t n) noexcept { return std::malloc(n); }
  static void deallocate(void* p) noexcept { std::free(p); }
};

// glibc's malloc and free, looked up in libc itself: libmimalloc also overrides the
// __libc_malloc aliases, so naming them would reach mimalloc again.
struct glibc_allocator {
  using malloc_fn = void* (*)(std::size_t);
  using free_fn = void (*)(void*);
  struct functions {
    malloc_fn allocate = nullptr;
    free_fn deallocate = nullptr;
  };
  static const functions& libc() noexcept {
    static const functions f = [] {
      functions found;
      if (void* handle = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD)) {
        found.allocate = reinterpret_cast<malloc_fn>(::dlsym(handle, "malloc"));
        found.deallocate = reinterpret_cast<free_fn>(::dlsym(handle, "free"));
      }
      return found;
    }();
    return f;
  }
  static bool available() noexcept { return libc().allocate != nullptr && libc().deallocate != nullptr; }
  static void* allocate(std::size_t n) noexcept { return libc().allocate(n); }
  static void deallocate(void* p) noexcept { libc().deallocate(p); }
};

// engine::message's layout and work (header, then exchange, routing key, properties and body
// in one block; the properties decoded for the persistent flag; the memory meter counted)
// with another allocator, so that the allocator is the only difference.
template <class Allocator>
class plain_message {
 public:
  static plain_message* create(std::string_view exchange, std::string_view key, amqp::bytes_view properties,
                               std::uint64_t body_size) noexcept {
    if (exchange.size() > 255 || key.size() > 255) return nullptr;
    const std::size_t data_size = exchange.size() + key.size() + properties.size() + body_size;
    void* raw = Allocator::allocate(sizeof(plain_message) + data_size);
    if (raw == nullptr) return nullptr;
    memory_meter::add(static_cast<std::int64_t>(sizeof(plain_message) + data_size));
    auto* m = new (raw) plain_message();
    m->_exchange_size = static_cast<std::uint8_t>(exchange.size());
    m->_routing_key_size = static_cast<std::uint8_t>(key.size());
    m->_properties_size = static_cast<std::uint32_t>(properties.size());
    m->_body_size = body_size;
    std::byte* at = m->bytes();
    std::memcpy(at, exchange.data(), exchange.size());
    at += exchange.size();
    std::memcpy(at, key.data(), key.size());
    at += key.size();
    if (!properties.empty()) std::memcpy(at, properties.data(), properties.size());
    const auto decoded = amqp::decode_properties(properties);
    const auto props = decoded ? *decoded : amqp::basic_properties{};
    m->_flags = props.has(amqp::property::delivery_mode) && props.delivery_mode == 2 ? 1 : 0;
    return m;
  }

  bool append_body(amqp::bytes_view part) noexcept {
    if (part.size() > _body_size - _body_filled) return false;
    if (!part.empty()) std::memcpy(bytes() + body_offset() + _body_filled, part.data(), part.size());
    _body_filled += part.size();
    return true;
  }

  void release() noexcept {
    if (_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      memory_meter::add(-static_cast<std::int64_t>(sizeof(plain_message) + body_offset() + _body_size));
      this->~plain_message();
      Allocator::deallocate(this);
    }
  }

 private:
  plain_message() = default;
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  std::size_t body_offset() const noexcept { return std::size_t{_exchange_size} + _routing_key_size + _properties_size; }

  std::atomic<std::uint32_t> _refs{1};
  std::uint8_t _exchange_size = 0;
  std::uint8_t _routing_key_size = 0;
  std::uint8_t _flags = 0;
  std::uint8_t _priority = 0;
  std::uint32_t _properties_size = 0;
  std::uint32_t _bcc_size = 0;
  std::uint64_t _body_size = 0;
  std::uint64_t _body_filled = 0;
  std::int64_t _published_at = turn_clock::now();
  std::int64_t _ttl_ms = -1;
};
static_assert(sizeof(plain_message<std_allocator>) == sizeof(message));

// message::create, or the same layout with another allocator.
template <class M>
M* create_message(amqp::bytes_view properties, std::uint64_t body_size) noexcept {
  return M::create(exchange_name, routing_key, properties, body_size);
}

// A transient message's properties as pika sends them: delivery-mode 1.
std::vector<std::byte> transient_properties() {
  std::array<std::byte, 16> buffer{};
  amqp::byte_writer out{buffer};
  amqp::basic_properties p;
  p.delivery_mode = 1;
  p.set(amqp::property::delivery_mode);
  amqp::write_properties(out, p);
  return {out.written().begin(), out.written().end()};
}

template <class M>
void run_create_release(benchmark::State& state) {
  const auto body_size = static_cast<std::size_t>(state.range(0));
  const auto live = static_cast<std::size_t>(state.range(1));
  const auto properties = transient_properties();
  const std::vector<std::byte> body(body_size, std::byte{'x'});
  std::vector<M*> made(live, nullptr);
  bool complete = true;
  for (auto _ : state) {
    for (auto& m : made) {
      m = create_message<M>(properties, body_size);
      for (std::size_t at = 0; at < body_size; at += frame_body_max) {
        complete = m->append_body(amqp::bytes_view{body}.subspan(at, std::min(frame_body_max, body_size - at))) && complete;
      }
      benchmark::DoNotOptimize(m);
    }
    for (M* m : made) m->release();
  }
  if (!complete) state.SkipWithError("body did not fit");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(live));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(live * body_size));
}

void create_release_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{16, 1024, 64 * 1024}, {1, 256}})->ArgNames({"body", "live"});
}

void BM_Message_CreateRelease(benchmark::State& state) { run_create_release<message>(state); }
BENCHMARK(BM_Message_CreateRelease)->Apply(create_release_args);

void BM_MallocMessage_CreateRelease(benchmark::State& state) { run_create_release<plain_message<std_allocator>>(state); }
BENCHMARK(BM_MallocMessage_CreateRelease)->Apply(create_release_args);

void BM_GlibcMessage_CreateRelease(benchmark::State& state) {
  if (!glibc_allocator::available()) {
    state.SkipWithError("glibc's malloc not found");
    return;
  }
  run_create_release<plain_message<glibc_allocator>>(state);
}
BENCHMARK(BM_GlibcMessage_CreateRelease)->Apply(create_release_args);

// Shared by the benchmark's threads; never released (a static's release at exit would count
// in the memory meter of a thread that has already gone).
const message_ref& shared_message() {
  static const message_ref* m = new message_ref{message::create(exchange_name, routing_key, {}, 0)};
  return *m;
}

void BM_MessageRef_ShareRelease(benchmark::State& state) {
  const message_ref& m = shared_message();
  for (auto _ : state) {
    message_ref r = m.share();
    benchmark::DoNotOptimize(r.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageRef_ShareRelease)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace haremq::engine
