#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/exchange_type.h"

// The bindings of one topic exchange, as a trie of binding-key words, matched the way
// RabbitMQ's topic exchange matches (rabbit_exchange_type_topic, 3.10):
//   - keys split on '.'; the empty key has no words, "a." is ["a", ""], ".." is three empty
//     words (empty words are ordinary words);
//   - '*' in a binding key matches exactly one word (so never the empty routing key);
//   - '#' matches zero or more words ("#" matches every key, "a.#" matches "a");
//   - '*' and '#' in a routing key are ordinary words.
//
// Matching simulates the pattern automaton breadth-first, one routing-key word at a time:
// the set of live trie nodes is deduplicated per word by a generation mark, so a key of n
// words costs O(n × live nodes) whatever the number of '#' (no backtracking), and never
// scans bindings that cannot match. Literal children sit in one hash map keyed by (parent,
// word), with the word's hash cached, as RabbitMQ keys its trie edges.
//
// Owned by one thread at a time; not thread-safe, not even for concurrent match() calls:
// match() is const but reuses scratch space and marks held here (mutable).
namespace haremq::engine {

class topic_trie {
 public:
  topic_trie();

  // Adds one binding of `binding_key` to `to`. A pair may be added more than once (two
  // RabbitMQ bindings may differ only by their arguments); each add is undone by one
  // remove. Returns true if the pair was not bound before. Allocates.
  bool add(std::string_view binding_key, destination to);

  // Undoes one add of the pair; false (and no change) if the pair is not bound. Frees the
  // trie nodes the key no longer needs.
  bool remove(std::string_view binding_key, destination to);

  // Appends to `out` every destination with a binding key matching `routing_key`, each
  // once. Allocates only if `out` must grow or the first time the scratch space grows to
  // the trie's size.
  void match(std::string_view routing_key, std::vector<destination>& out) const noexcept;

  // Bindings held, each add counted.
  std::size_t size() const noexcept { return _bindings; }
  bool empty() const noexcept { return _bindings == 0; }
  // Trie nodes in use, the root included (tests check that remove prunes).
  std::size_t node_count() const noexcept { return _nodes.size() - _free_nodes.size(); }

 private:
  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  struct slot_refs {
    std::uint32_t slot;  // index into _slots
    std::uint32_t refs;  // adds of this (key, destination) pair
  };
  struct node {
    std::uint32_t star = npos;  // child for a '*' word
    std::uint32_t hash = npos;  // child for a '#' word
    std::uint32_t literal_children = 0;
    mutable std::uint32_t mark = 0;  // generation that last entered this node
    bool hash_edge = false;          // reached by '#': stays live while words are consumed
    std::vector<slot_refs> bindings;
  };
  // A destination interned as a dense slot, so match() can deduplicate with a mark.
  struct slot {
    destination to;
    std::uint32_t nodes = 0;  // nodes whose bindings name this slot
    mutable std::uint32_t mark = 0;
  };

  struct edge_key {
    std::uint32_t parent;
    std::size_t word_hash;
    std::string word;
  };
  struct edge_ref {
    std::uint32_t parent;
    std::size_t word_hash;
    std::string_view word;
  };
  struct edge_hasher {
    using is_transparent = void;
    static std::size_t mix(std::uint32_t parent, std::size_t word_hash) noexcept {
      return word_hash ^ (static_cast<std::size_t>(parent) * 0x9E3779B97F4A7C15ull);
    }
    std::size_t operator()(const edge_key& k) const noexcept { return mix(k.parent, k.word_hash); }
    std::size_t operator()(const edge_ref& k) const noexcept { return mix(k.parent, k.word_hash); }
  };
  struct edge_equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.parent == b.parent && std::string_view{a.word} == std::string_view{b.word};
    }
  };

  std::uint32_t child(std::uint32_t parent, std::string_view word) const noexcept;
  std::uint32_t child_or_create(std::uint32_t parent, std::string_view word);
  std::uint32_t new_node(bool hash_edge);
  bool prunable(std::uint32_t n) const noexcept;
  void unlink(std::uint32_t parent, std::string_view word, std::uint32_t n) noexcept;
  std::uint32_t intern(destination to);
  void release(std::uint32_t slot_index) noexcept;
  void enter(std::uint32_t n, std::vector<std::uint32_t>& live, std::uint32_t generation) const noexcept;
  std::uint32_t next_generation() const noexcept;

  std::vector<node> _nodes;  // _nodes[0] is the root
  std::vector<std::uint32_t> _free_nodes;
  std::unordered_map<edge_key, std::uint32_t, edge_hasher, edge_equal> _edges;
  std::vector<slot> _slots;
  std::vector<std::uint32_t> _free_slots;
  std::unordered_map<destination, std::uint32_t> _slot_of;
  std::size_t _bindings = 0;

  // Scratch for match() and remove(); kept to avoid allocating per call.
  mutable std::vector<std::uint32_t> _live;
  mutable std::vector<std::uint32_t> _next_live;
  mutable std::uint32_t _generation = 0;
  struct path_step {
    std::uint32_t parent;
    std::string_view word;
    std::uint32_t node;
  };
  std::vector<path_step> _path;
};

}  // namespace haremq::engine
