#include "engine/topic_trie.h"

#include <functional>
#include <utility>

namespace haremq::engine {
namespace {

// Calls f(word) for each word of a topic key until f returns false. The empty key has no
// words; otherwise every '.' separates two words, empty ones included — RabbitMQ's
// split_topic_key/1.
template <class F>
void for_each_word(std::string_view key, F&& f) {
  if (key.empty()) return;
  for (;;) {
    const std::size_t dot = key.find('.');
    if (!f(key.substr(0, dot))) return;
    if (dot == std::string_view::npos) return;
    key.remove_prefix(dot + 1);
  }
}

std::size_t hash_word(std::string_view word) noexcept { return std::hash<std::string_view>{}(word); }

}  // namespace

topic_trie::topic_trie() { _nodes.emplace_back(); }

std::uint32_t topic_trie::child(std::uint32_t parent, std::string_view word) const noexcept {
  const node& p = _nodes[parent];
  if (word == "*") return p.star;
  if (word == "#") return p.hash;
  if (p.literal_children == 0) return npos;
  const auto it = _edges.find(edge_ref{parent, hash_word(word), word});
  return it == _edges.end() ? npos : it->second;
}

std::uint32_t topic_trie::new_node(bool hash_edge) {
  std::uint32_t n;
  if (!_free_nodes.empty()) {
    n = _free_nodes.back();
    _free_nodes.pop_back();
    _nodes[n] = node{};
  } else {
    n = static_cast<std::uint32_t>(_nodes.size());
    _nodes.emplace_back();
  }
  _nodes[n].hash_edge = hash_edge;
  return n;
}

std::uint32_t topic_trie::child_or_create(std::uint32_t parent, std::string_view word) {
  // Indices, not references: new_node() may reallocate _nodes.
  if (word == "*") {
    if (_nodes[parent].star == npos) {
      const std::uint32_t c = new_node(false);
      _nodes[parent].star = c;
    }
    return _nodes[parent].star;
  }
  if (word == "#") {
    if (_nodes[parent].hash == npos) {
      const std::uint32_t c = new_node(true);
      _nodes[parent].hash = c;
    }
    return _nodes[parent].hash;
  }
  const std::size_t h = hash_word(word);
  if (const auto it = _edges.find(edge_ref{parent, h, word}); it != _edges.end()) return it->second;
  const std::uint32_t c = new_node(false);
  _edges.emplace(edge_key{parent, h, std::string(word)}, c);
  ++_nodes[parent].literal_children;
  return c;
}

std::uint32_t topic_trie::intern(destination to) {
  if (const auto it = _slot_of.find(to); it != _slot_of.end()) return it->second;
  std::uint32_t s;
  if (!_free_slots.empty()) {
    s = _free_slots.back();
    _free_slots.pop_back();
    _slots[s] = slot{to};
  } else {
    s = static_cast<std::uint32_t>(_slots.size());
    _slots.push_back(slot{to});
  }
  _slot_of.emplace(to, s);
  return s;
}

void topic_trie::release(std::uint32_t slot_index) noexcept {
  slot& s = _slots[slot_index];
  if (--s.nodes != 0) return;
  _slot_of.erase(s.to);
  _free_slots.push_back(slot_index);  // capacity reserved by add()
}

bool topic_trie::add(std::string_view binding_key, destination to) {
  std::uint32_t n = 0;
  for_each_word(binding_key, [&](std::string_view word) {
    n = child_or_create(n, word);
    return true;
  });
  const std::uint32_t s = intern(to);
  ++_bindings;
  for (slot_refs& b : _nodes[n].bindings) {
    if (b.slot == s) {
      ++b.refs;
      return false;
    }
  }
  _nodes[n].bindings.push_back(slot_refs{s, 1});
  ++_slots[s].nodes;
  // Room to free every node and slot later, so that pruning in remove() cannot fail
  // half-way for want of memory.
  _free_slots.reserve(_slots.size());
  _free_nodes.reserve(_nodes.size());
  return true;
}

bool topic_trie::prunable(std::uint32_t n) const noexcept {
  const node& x = _nodes[n];
  return x.bindings.empty() && x.star == npos && x.hash == npos && x.literal_children == 0;
}

void topic_trie::unlink(std::uint32_t parent, std::string_view word, std::uint32_t n) noexcept {
  node& p = _nodes[parent];
  if (p.star == n) {
    p.star = npos;
  } else if (p.hash == n) {
    p.hash = npos;
  } else {
    _edges.erase(_edges.find(edge_ref{parent, hash_word(word), word}));
    --p.literal_children;
  }
  _nodes[n].bindings = {};  // give back its memory
  _free_nodes.push_back(n);
}

bool topic_trie::remove(std::string_view binding_key, destination to) {
  _path.clear();
  std::uint32_t n = 0;
  bool found = true;
  for_each_word(binding_key, [&](std::string_view word) {
    const std::uint32_t c = child(n, word);
    if (c == npos) {
      found = false;
      return false;
    }
    _path.push_back(path_step{n, word, c});
    n = c;
    return true;
  });
  if (!found) return false;
  const auto slot_it = _slot_of.find(to);
  if (slot_it == _slot_of.end()) return false;
  auto& bindings = _nodes[n].bindings;
  std::size_t i = 0;
  while (i < bindings.size() && bindings[i].slot != slot_it->second) ++i;
  if (i == bindings.size()) return false;

  --_bindings;
  if (--bindings[i].refs == 0) {
    const std::uint32_t s = bindings[i].slot;
    bindings[i] = bindings.back();
    bindings.pop_back();
    release(s);
    // Prune the nodes this key alone kept alive, deepest first.
    for (auto step = _path.rbegin(); step != _path.rend() && prunable(step->node); ++step) {
      unlink(step->parent, step->word, step->node);
    }
  }
  return true;
}

std::uint32_t topic_trie::next_generation() const noexcept {
  if (++_generation == 0) {  // wrapped: old marks could collide, clear them all once
    for (const node& x : _nodes) x.mark = 0;
    for (const slot& s : _slots) s.mark = 0;
    _generation = 1;
  }
  return _generation;
}

void topic_trie::enter(std::uint32_t n, std::vector<std::uint32_t>& live, std::uint32_t generation) const noexcept {
  // Entering a node also enters its '#' child (and that one's: "#.#"), since '#' may
  // match zero words.
  for (;;) {
    const node& x = _nodes[n];
    if (x.mark == generation) return;
    x.mark = generation;
    live.push_back(n);
    if (x.hash == npos) return;
    n = x.hash;
  }
}

void topic_trie::match(std::string_view routing_key, std::vector<destination>& out) const noexcept {
  if (_bindings == 0) return;
  _live.clear();
  enter(0, _live, next_generation());
  for_each_word(routing_key, [&](std::string_view word) {
    const std::uint32_t generation = next_generation();
    _next_live.clear();
    std::size_t word_hash = 0;
    bool hashed = false;
    for (const std::uint32_t n : _live) {
      const node& x = _nodes[n];
      if (x.hash_edge) enter(n, _next_live, generation);  // '#' swallows this word too
      if (x.star != npos) enter(x.star, _next_live, generation);
      if (x.literal_children != 0) {
        if (!hashed) {
          word_hash = hash_word(word);
          hashed = true;
        }
        const auto it = _edges.find(edge_ref{n, word_hash, word});
        if (it != _edges.end()) enter(it->second, _next_live, generation);
      }
    }
    _live.swap(_next_live);
    return !_live.empty();
  });
  const std::uint32_t generation = next_generation();
  for (const std::uint32_t n : _live) {
    for (const slot_refs& b : _nodes[n].bindings) {
      const slot& s = _slots[b.slot];
      if (s.mark == generation) continue;
      s.mark = generation;
      out.push_back(s.to);
    }
  }
}

}  // namespace haremq::engine
