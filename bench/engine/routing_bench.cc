// Routing on the publish path: one routing decision per iteration, out vector reused.
// - BM_TopicTrie_Match/<bindings>: a trie with that many bindings shaped like market-data
//   subscriptions ("<region>.<sector>.<symbol>" with '*' and '#' mixed in), matching
//   a rotating set of routing keys; each key reaches a handful of bindings.
// - BM_TopicTrie_MatchManyHashes: one key of 32 words against bindings full of '#'.
// - BM_Headers_Match: one headers binding (x-match all, 3 arguments) against 8 headers.
// - BM_Headers_Route/<bindings>: a headers exchange with that many bindings.
// - BM_Direct_Route/<bindings>: a direct exchange with that many distinct keys.
// - BM_Fanout_Route/<destinations>.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/binding_table.h"
#include "engine/headers_match.h"
#include "engine/topic_trie.h"

namespace haremq::engine {
namespace {

destination queue(std::uint32_t id) { return {destination::kind::queue, id}; }

std::vector<std::byte> table_bytes(const std::vector<std::pair<std::string, amqp::field_value>>& entries) {
  std::vector<std::byte> buffer(4096);
  amqp::byte_writer out{buffer};
  amqp::table_writer table{out};
  for (const auto& [name, value] : entries) table.add(name, value);
  const auto content = table.finish();
  return {content.begin(), content.end()};
}

std::string topic_binding(std::uint32_t i) {
  const std::string region = "r" + std::to_string(i % 7);
  const std::string sector = "s" + std::to_string((i / 7) % 13);
  const std::string symbol = "sym" + std::to_string(i);
  switch (i % 5) {
    case 0: return region + "." + sector + ".*";
    case 1: return region + ".#." + symbol;
    case 2: return "*." + sector + "." + symbol;
    case 3: return region + "." + sector + "." + symbol + ".#";
    default: return region + "." + sector + "." + symbol;
  }
}

void BM_TopicTrie_Match(benchmark::State& state) {
  const auto bindings = static_cast<std::uint32_t>(state.range(0));
  topic_trie trie;
  for (std::uint32_t i = 0; i < bindings; ++i) trie.add(topic_binding(i), queue(i));
  std::vector<std::string> keys;
  for (std::uint32_t i = 0; i < 64; ++i) {
    const std::uint32_t b = (i * 2654435761u) % bindings;
    keys.push_back("r" + std::to_string(b % 7) + ".s" + std::to_string((b / 7) % 13) + ".sym" + std::to_string(b));
  }
  std::vector<destination> out;
  out.reserve(bindings);
  std::size_t i = 0;
  std::size_t routed = 0;
  for (auto _ : state) {
    out.clear();
    trie.match(keys[i++ & 63], out);
    routed += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["destinations_per_match"] =
      benchmark::Counter(static_cast<double>(routed) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_TopicTrie_Match)->Arg(10)->Arg(1000)->Arg(100000);

void BM_TopicTrie_MatchManyHashes(benchmark::State& state) {
  topic_trie trie;
  std::string many = "#";
  for (std::uint32_t i = 0; i < 16; ++i) {
    trie.add(many + ".z", queue(i));
    many += ".#";
  }
  trie.add("#.a.#.a.#.a.#.b", queue(100));
  std::string key;
  for (int i = 0; i < 31; ++i) key += "a.";
  key += "b";
  std::vector<destination> out;
  out.reserve(64);
  for (auto _ : state) {
    out.clear();
    trie.match(key, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_TopicTrie_MatchManyHashes);

std::vector<std::byte> message_headers() {
  return table_bytes({{"content-kind", amqp::field_value::string("invoice")},
                      {"format", amqp::field_value::string("pdf")},
                      {"priority-class", amqp::field_value::i32(2)},
                      {"region", amqp::field_value::string("emea")},
                      {"retries", amqp::field_value::i64(0)},
                      {"tenant", amqp::field_value::string("acme")},
                      {"type", amqp::field_value::string("report")},
                      {"x-trace", amqp::field_value::boolean(true)}});
}

void BM_Headers_Match(benchmark::State& state) {
  const auto arguments = table_bytes({{"x-match", amqp::field_value::string("all")},
                                      {"format", amqp::field_value::string("pdf")},
                                      {"type", amqp::field_value::string("report")},
                                      {"priority-class", amqp::field_value::i64(2)}});
  const headers_pattern pattern{amqp::field_table::trusted(arguments)};
  const auto headers_bytes = message_headers();
  const auto headers = amqp::field_table::trusted(headers_bytes);
  std::vector<amqp::field_entry> sorted;
  bool matched = false;
  for (auto _ : state) {
    sort_entries(headers, sorted);  // once per message in routing
    matched = headers_match(pattern, sorted);
    benchmark::DoNotOptimize(matched);
  }
  if (!matched) state.SkipWithError("expected a match");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Headers_Match);

void BM_Headers_Route(benchmark::State& state) {
  const auto bindings = static_cast<std::uint32_t>(state.range(0));
  binding_table table{exchange_type::headers};
  for (std::uint32_t i = 0; i < bindings; ++i) {
    const auto arguments = table_bytes({{"x-match", amqp::field_value::string(i % 2 ? "any" : "all")},
                                        {"tenant", amqp::field_value::string(i % 10 ? "other" : "acme")},
                                        {"type", amqp::field_value::string("report")}});
    table.add(queue(i), "", amqp::field_table::trusted(arguments));
  }
  const auto headers_bytes = message_headers();
  const auto headers = amqp::field_table::trusted(headers_bytes);
  std::vector<destination> out;
  out.reserve(bindings);
  for (auto _ : state) {
    out.clear();
    table.route("", headers, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Headers_Route)->Arg(10)->Arg(1000);

void BM_Direct_Route(benchmark::State& state) {
  const auto bindings = static_cast<std::uint32_t>(state.range(0));
  binding_table table{exchange_type::direct};
  const std::vector<std::byte> none;
  std::vector<std::string> keys;
  for (std::uint32_t i = 0; i < bindings; ++i) {
    keys.push_back("orders.eu.customer-" + std::to_string(i));
    table.add(queue(i), keys.back(), amqp::field_table::trusted(none));
  }
  std::vector<destination> out;
  out.reserve(16);
  std::size_t i = 0;
  for (auto _ : state) {
    out.clear();
    table.route(keys[(i++ * 7919) % bindings], {}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Direct_Route)->Arg(10)->Arg(1000)->Arg(100000);

void BM_Fanout_Route(benchmark::State& state) {
  const auto bindings = static_cast<std::uint32_t>(state.range(0));
  binding_table table{exchange_type::fanout};
  const std::vector<std::byte> none;
  for (std::uint32_t i = 0; i < bindings; ++i) table.add(queue(i), "", amqp::field_table::trusted(none));
  std::vector<destination> out;
  out.reserve(bindings);
  for (auto _ : state) {
    out.clear();
    table.route("", {}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Fanout_Route)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace haremq::engine
