// Covers: topic matching as RabbitMQ 3.10 does it — every (binding key, routing key, routed?)
// case below was run against RabbitMQ 3.10.8 with pika, including tutorial 5's examples and
// the edge cases of '#', '*', empty words and the empty key; a randomised cross-check
// against a direct recursive reading of the rules; each destination once; add/remove
// counting and pruning; no exponential blow-up with many '#'; no allocation once warm.
// Not yet: RabbitMQ's per-binding-key results (return_binding_keys, 3.13+).
#include "engine/topic_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace haremq::engine {
namespace {

destination queue(std::uint32_t id) { return {destination::kind::queue, id}; }
destination exchange(std::uint32_t id) { return {destination::kind::exchange, id}; }

std::vector<destination> match(const topic_trie& trie, std::string_view key) {
  std::vector<destination> out;
  trie.match(key, out);
  return out;
}

bool routes(std::string_view binding_key, std::string_view routing_key) {
  topic_trie trie;
  trie.add(binding_key, queue(1));
  return !match(trie, routing_key).empty();
}

struct topic_case {
  const char* binding;
  const char* routing;
  bool routed;
};

// Observed on RabbitMQ 3.10.8 (one queue bound to a topic exchange, one publish).
constexpr topic_case rabbitmq_cases[] = {
    {"#", "", true},
    {"#", "a", true},
    {"#", "a.b.c", true},
    {"#", ".", true},
    {"*", "", false},
    {"*", "a", true},
    {"*", "a.b", false},
    {"*", ".", false},
    {"", "", true},
    {"", "a", false},
    {"a.#", "a", true},
    {"a.#", "a.b", true},
    {"a.#", "a.b.c", true},
    {"a.#", "b", false},
    {"a.#", "a.", true},
    {"#.a", "a", true},
    {"#.a", "b.a", true},
    {"#.a", "a.a.a", true},
    {"#.#", "", true},
    {"#.#", "a.b", true},
    {"a.*.c", "a.b.c", true},
    {"a.*.c", "a..c", true},
    {"a.*.c", "a.c", false},
    {"a..b", "a..b", true},
    {"a..b", "a.b", false},
    {"a.*.b", "a..b", true},
    {"*.", "a.", true},
    {"*.", "a", false},
    {".", ".", true},
    {".", "", false},
    {"*.*", ".", true},
    {"#.*", "", false},
    {"#.*", "a", true},
    {"*.#", "", false},
    {"*.#", "a", true},
    {"a.#.b", "a.b", true},
    {"a.#.b", "a.x.y.b", true},
    {"a.#.#.b", "a.b", true},
    {"#.b.#", "b", true},
    {"#.b.#", "a.b.c", true},
    {"*", "*", true},
    {"a", "*", false},
    {"a", "#", false},
    {"#", "#", true},
    // RabbitMQ tutorial 5 ("Topics").
    {"*.orange.*", "quick.orange.rabbit", true},
    {"*.*.rabbit", "quick.orange.rabbit", true},
    {"lazy.#", "lazy.orange.male.rabbit", true},
    {"*.orange.*", "quick.orange.male.rabbit", false},
    {"lazy.#", "lazy", true},
    {"*.*.rabbit", "quick.brown.fox", false},
};

TEST(TopicTrie, MatchesAsRabbitMqDoes) {
  for (const auto& c : rabbitmq_cases) {
    EXPECT_EQ(routes(c.binding, c.routing), c.routed) << "binding '" << c.binding << "', routing key '" << c.routing << "'";
  }
}

TEST(TopicTrie, MatchesAllCasesInOneTrie) {
  // The same cases with every binding in one trie: shared prefixes must not leak matches.
  topic_trie trie;
  for (std::uint32_t i = 0; i < std::size(rabbitmq_cases); ++i) trie.add(rabbitmq_cases[i].binding, queue(i));
  for (std::uint32_t i = 0; i < std::size(rabbitmq_cases); ++i) {
    const auto& c = rabbitmq_cases[i];
    const auto got = match(trie, c.routing);
    EXPECT_EQ(std::count(got.begin(), got.end(), queue(i)), c.routed ? 1 : 0)
        << "binding '" << c.binding << "', routing key '" << c.routing << "'";
  }
}

TEST(TopicTrie, TutorialFiveRoutesToTheRightQueues) {
  // Q1 binds "*.orange.*"; Q2 binds "*.*.rabbit" and "lazy.#".
  topic_trie trie;
  trie.add("*.orange.*", queue(1));
  trie.add("*.*.rabbit", queue(2));
  trie.add("lazy.#", queue(2));
  auto sorted = [&](std::string_view key) {
    auto got = match(trie, key);
    std::sort(got.begin(), got.end(), [](destination a, destination b) { return a.id < b.id; });
    return got;
  };
  EXPECT_EQ(sorted("quick.orange.rabbit"), (std::vector{queue(1), queue(2)}));
  EXPECT_EQ(sorted("lazy.orange.elephant"), (std::vector{queue(1), queue(2)}));
  EXPECT_EQ(sorted("quick.orange.fox"), (std::vector{queue(1)}));
  EXPECT_EQ(sorted("lazy.brown.fox"), (std::vector{queue(2)}));
  EXPECT_EQ(sorted("lazy.pink.rabbit"), (std::vector{queue(2)}));  // two bindings, delivered once
  EXPECT_TRUE(sorted("quick.brown.fox").empty());
  EXPECT_TRUE(sorted("orange").empty());
  EXPECT_TRUE(sorted("quick.orange.male.rabbit").empty());
  EXPECT_EQ(sorted("lazy.orange.male.rabbit"), (std::vector{queue(2)}));
}

TEST(TopicTrie, AppendsEachDestinationOnce) {
  topic_trie trie;
  trie.add("a.*", queue(1));
  trie.add("#", queue(1));
  trie.add("a.#", queue(1));
  trie.add("*.b", queue(1));
  trie.add("a.b", queue(1));
  trie.add("#.#", queue(1));
  trie.add("a.b", exchange(1));  // same id, other kind: another destination
  std::vector<destination> out{queue(99)};
  trie.match("a.b", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], queue(99));  // appended after what the caller had
  EXPECT_EQ(std::count(out.begin(), out.end(), queue(1)), 1);
  EXPECT_EQ(std::count(out.begin(), out.end(), exchange(1)), 1);
  // And again: the marks of the previous match must not hide anything.
  out.clear();
  trie.match("a.b", out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(TopicTrie, AddCountsAndRemoveUndoesOneAdd) {
  topic_trie trie;
  EXPECT_TRUE(trie.add("a.b", queue(1)));
  EXPECT_FALSE(trie.add("a.b", queue(1)));  // same pair again: another binding (other arguments)
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_TRUE(trie.remove("a.b", queue(1)));
  EXPECT_EQ(match(trie, "a.b").size(), 1u);
  EXPECT_TRUE(trie.remove("a.b", queue(1)));
  EXPECT_TRUE(match(trie, "a.b").empty());
  EXPECT_FALSE(trie.remove("a.b", queue(1)));
  EXPECT_TRUE(trie.empty());
}

TEST(TopicTrie, RemovingAbsentPairIsANoOp) {
  topic_trie trie;
  trie.add("a.*.c", queue(1));
  EXPECT_FALSE(trie.remove("a.*.c", queue(2)));
  EXPECT_FALSE(trie.remove("a.*", queue(1)));   // a prefix of a bound key
  EXPECT_FALSE(trie.remove("a.b.c", queue(1)));  // matches, but is not the binding key
  EXPECT_FALSE(trie.remove("x.y", queue(1)));
  EXPECT_FALSE(trie.remove("", queue(1)));
  EXPECT_EQ(trie.size(), 1u);
  EXPECT_EQ(match(trie, "a.b.c").size(), 1u);
}

TEST(TopicTrie, RemovePrunesNodesNoLongerNeeded) {
  topic_trie trie;
  trie.add("a.b.c", queue(1));
  trie.add("a.#.d", queue(2));
  trie.add("a.*", queue(3));
  trie.add("", queue(4));
  trie.add("#", queue(5));
  EXPECT_GT(trie.node_count(), 1u);
  EXPECT_TRUE(trie.remove("a.b.c", queue(1)));
  EXPECT_TRUE(match(trie, "a.b.c").empty() == false);  // "#" still matches
  EXPECT_TRUE(trie.remove("a.#.d", queue(2)));
  EXPECT_TRUE(trie.remove("a.*", queue(3)));
  EXPECT_TRUE(trie.remove("", queue(4)));
  EXPECT_TRUE(trie.remove("#", queue(5)));
  EXPECT_EQ(trie.node_count(), 1u);  // the root
  // Freed nodes are reused correctly.
  trie.add("x.y", queue(6));
  EXPECT_EQ(match(trie, "x.y"), std::vector{queue(6)});
  EXPECT_TRUE(match(trie, "a.b.c").empty());
}

TEST(TopicTrie, ManyHashesDoNotBacktrackExponentially) {
  // A backtracking matcher tries every split of 60 words over 30 '#': C(89, 30) paths.
  std::string binding;
  for (int i = 0; i < 30; ++i) binding += "#.";
  binding += "z";  // never present: every path fails, so a backtracker explores them all
  std::string key;
  for (int i = 0; i < 60; ++i) key += "a.";
  key += "b";
  topic_trie trie;
  trie.add(binding, queue(1));
  trie.add("#.a.#.a.#.a.#.a.#.a.#.a.#.b", queue(2));
  const auto start = std::chrono::steady_clock::now();
  const auto got = match(trie, key);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got, std::vector{queue(2)});
  EXPECT_LT(took, std::chrono::seconds(1));
}

// The rules read directly: a recursive matcher, memoised on (pattern word, key word).
class reference_matcher {
 public:
  static std::vector<std::string> words(std::string_view key) {
    std::vector<std::string> out;
    if (key.empty()) return out;
    std::size_t start = 0;
    for (;;) {
      const std::size_t dot = key.find('.', start);
      out.emplace_back(key.substr(start, dot - start));
      if (dot == std::string_view::npos) return out;
      start = dot + 1;
    }
  }
  static bool matches(std::string_view pattern, std::string_view key) {
    reference_matcher m{words(pattern), words(key)};
    return m.at(0, 0);
  }

 private:
  reference_matcher(std::vector<std::string> p, std::vector<std::string> k) : _p(std::move(p)), _k(std::move(k)) {}
  bool at(std::size_t i, std::size_t j) {
    const auto memo = _memo.find({i, j});
    if (memo != _memo.end()) return memo->second;
    bool r;
    if (i == _p.size()) {
      r = j == _k.size();
    } else if (_p[i] == "#") {
      r = at(i + 1, j) || (j < _k.size() && at(i, j + 1));
    } else {
      r = j < _k.size() && (_p[i] == "*" || _p[i] == _k[j]) && at(i + 1, j + 1);
    }
    _memo[{i, j}] = r;
    return r;
  }
  std::vector<std::string> _p, _k;
  std::map<std::pair<std::size_t, std::size_t>, bool> _memo;
};

std::string random_key(std::mt19937& rng, bool pattern) {
  static constexpr const char* plain[] = {"a", "b", "", "ab"};
  static constexpr const char* wild[] = {"a", "b", "", "ab", "*", "#", "#"};
  const int n = std::uniform_int_distribution<int>(0, 5)(rng);
  std::string key;
  for (int i = 0; i < n; ++i) {
    if (i > 0) key += '.';
    key += pattern ? wild[std::uniform_int_distribution<int>(0, 6)(rng)] : plain[std::uniform_int_distribution<int>(0, 3)(rng)];
  }
  return key;
}

TEST(TopicTrie, AgreesWithReferenceMatcherOnRandomKeys) {
  std::mt19937 rng(20240601);
  topic_trie trie;
  std::vector<std::string> patterns;
  for (std::uint32_t i = 0; i < 300; ++i) {
    patterns.push_back(random_key(rng, true));
    trie.add(patterns.back(), queue(i));
  }
  // Remove a third, to exercise pruning alongside matching.
  for (std::uint32_t i = 0; i < patterns.size(); i += 3) ASSERT_TRUE(trie.remove(patterns[i], queue(i)));
  std::vector<destination> out;
  for (int round = 0; round < 2000; ++round) {
    const std::string key = random_key(rng, false);
    out.clear();
    trie.match(key, out);
    std::vector<bool> got(patterns.size());
    for (const destination d : out) {
      ASSERT_FALSE(got[d.id]) << "duplicate";
      got[d.id] = true;
    }
    for (std::uint32_t i = 0; i < patterns.size(); ++i) {
      const bool expected = i % 3 != 0 && reference_matcher::matches(patterns[i], key);
      ASSERT_EQ(got[i], expected) << "binding '" << patterns[i] << "', routing key '" << key << "'";
    }
  }
}

}  // namespace
}  // namespace haremq::engine
