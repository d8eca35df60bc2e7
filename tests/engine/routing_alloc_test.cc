// Covers: routing allocates nothing once the caller's vector and the scratch space have
// grown (the steady path of a publish), for the trie and for every exchange type.
// This file replaces the global operator new/delete of the test binary with counting
// versions that forward to malloc/free; they count only while a probe is armed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "engine/binding_table.h"
#include "engine/topic_trie.h"
#include "tests/engine/routing_tables.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc{};
}
[[gnu::noinline]] void* operator new[](std::size_t size) { return ::operator new(size); }
// Not inlined: GCC would otherwise see free() of a pointer from `new` at the call sites and
// warn (-Wmismatched-new-delete), not knowing both are replaced together.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace haremq::engine {
namespace {

using namespace routing_test;

// Allocations made by f.
template <class F>
std::size_t allocations_in(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations.load();
}

destination queue(std::uint32_t id) { return {destination::kind::queue, id}; }

TEST(RoutingAllocations, ProbeSeesAllocations) {
  std::vector<std::string> kept;
  EXPECT_GT(allocations_in([&] { kept.emplace_back(100, 'x'); }), 0u);
}

TEST(RoutingAllocations, TopicMatchAllocatesNothingOnceWarm) {
  topic_trie trie;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    trie.add("stock." + std::to_string(i % 50) + ".#", queue(i));
    trie.add("*.*." + std::to_string(i), queue(i));
  }
  trie.add("#", queue(5000));
  std::vector<destination> out;
  out.reserve(4096);
  trie.match("stock.7.x.y", out);  // warms the scratch space
  out.clear();
  EXPECT_EQ(allocations_in([&] {
              for (int i = 0; i < 100; ++i) {
                out.clear();
                trie.match("stock.7.x.y", out);
                out.clear();
                trie.match("a.b.42", out);
              }
            }),
            0u);
  EXPECT_FALSE(out.empty());
}

TEST(RoutingAllocations, BindingTableRouteAllocatesNothingOnceWarm) {
  const auto no_arguments = make_table({});
  const auto headers = make_table({{"format", S("pdf")}, {"type", S("report")}, {"n", I(3)}});
  for (const auto type : {exchange_type::direct, exchange_type::fanout, exchange_type::topic, exchange_type::headers}) {
    SCOPED_TRACE(std::string(name_of(type)));
    binding_table t{type};
    for (std::uint32_t i = 0; i < 200; ++i) {
      t.add(queue(i), "key." + std::to_string(i % 10), no_arguments);
      t.add(queue(i), "key.*", make_table({{"format", S("pdf")}, {"n", I(static_cast<std::int32_t>(i % 5))}}));
    }
    std::vector<destination> out;
    out.reserve(1024);
    t.route("key.3", headers, out);  // warms the scratch space
    EXPECT_EQ(allocations_in([&] {
                for (int i = 0; i < 100; ++i) {
                  out.clear();
                  t.route("key.3", headers, out);
                }
              }),
              0u);
    EXPECT_FALSE(out.empty());
  }
}

}  // namespace
}  // namespace haremq::engine
