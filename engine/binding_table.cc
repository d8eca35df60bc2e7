#include "engine/binding_table.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "net/amqp/byte_writer.h"

namespace haremq::engine {
namespace {

// The arguments in the order RabbitMQ stores and compares them (rabbit_binding sorts them
// with rabbit_misc:sort_field_table/1, a stable sort by name): the same entries, re-encoded
// exactly as they came, reordered.
std::vector<std::byte> sorted_arguments(const amqp::field_table& arguments) {
  std::vector<amqp::field_entry> entries;
  sort_entries(arguments, entries);
  std::vector<std::byte> out(arguments.bytes().size());
  amqp::byte_writer writer{out};
  for (const amqp::field_entry& e : entries) {
    writer.short_string(e.name);
    e.value.write(writer);
  }
  // Every value re-encodes to its own bytes (booleans keep their octet), so the sizes agree.
  HAREMQ_ASSERT(writer.ok() && writer.position() == out.size());
  return out;
}

template <class T>
void swap_pop(std::vector<T>& v, std::size_t i) noexcept {
  if (i + 1 != v.size()) v[i] = std::move(v.back());
  v.pop_back();
}

}  // namespace

std::size_t binding_table::binding_hasher::operator()(const binding_ref& b) const noexcept {
  std::size_t h = std::hash<destination>{}(b.to);
  h ^= std::hash<std::string_view>{}(b.routing_key) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= std::hash<std::string_view>{}(amqp::as_chars(b.arguments)) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

binding_table::binding_table(exchange_type type) : _type(type) {}

bool binding_table::add(destination to, std::string_view routing_key, const amqp::field_table& arguments) {
  std::vector<std::byte> sorted = sorted_arguments(arguments);
  if (_bindings.find(binding_ref{to, routing_key, sorted}) != _bindings.end()) return false;
  const auto [it, inserted] = _bindings.insert(binding{to, std::string(routing_key), std::move(sorted)});
  HAREMQ_ASSERT(inserted);
  per_destination& d = _by_destination[to];
  d.bindings.push_back(&*it);
  index(*it, d);
  return true;
}

void binding_table::index(const binding& b, per_destination& d) {
  switch (_type) {
    case exchange_type::direct: {
      auto key = _direct.find(std::string_view{b.routing_key});
      if (key == _direct.end()) key = _direct.emplace(b.routing_key, std::vector<destination_count>{}).first;
      auto& list = key->second;
      const auto same = std::find_if(list.begin(), list.end(), [&](const destination_count& c) { return c.to == b.to; });
      if (same != list.end()) {
        ++same->bindings;
      } else {
        list.push_back(destination_count{b.to, 1});
      }
      break;
    }
    case exchange_type::fanout:
      if (d.fanout_slot == npos) {
        d.fanout_slot = static_cast<std::uint32_t>(_fanout.size());
        _fanout.push_back(b.to);
      }
      break;
    case exchange_type::topic:
      _topic.add(b.routing_key, b.to);
      break;
    case exchange_type::headers:
      if (d.headers_slot == npos) {
        d.headers_slot = static_cast<std::uint32_t>(_headers.size());
        _headers.push_back(headers_group{b.to, {}});
      }
      _headers[d.headers_slot].bindings.push_back(
          headers_binding{&b, headers_pattern{amqp::field_table::trusted(b.arguments)}});
      break;
  }
}

void binding_table::unindex_key(const binding& b) {
  if (_type == exchange_type::topic) {
    const bool removed = _topic.remove(b.routing_key, b.to);
    HAREMQ_ASSERT(removed);
    return;
  }
  if (_type != exchange_type::direct) return;
  const auto key = _direct.find(std::string_view{b.routing_key});
  HAREMQ_ASSERT(key != _direct.end());
  auto& list = key->second;
  const auto same = std::find_if(list.begin(), list.end(), [&](const destination_count& c) { return c.to == b.to; });
  HAREMQ_ASSERT(same != list.end());
  if (--same->bindings == 0) swap_pop(list, static_cast<std::size_t>(same - list.begin()));
  if (list.empty()) _direct.erase(key);
}

void binding_table::drop_fanout_slot(per_destination& d) noexcept {
  if (d.fanout_slot == npos) return;
  const std::uint32_t slot = d.fanout_slot;
  d.fanout_slot = npos;
  if (slot + 1 != _fanout.size()) _by_destination.find(_fanout.back())->second.fanout_slot = slot;
  swap_pop(_fanout, slot);
}

void binding_table::drop_headers_group(per_destination& d) noexcept {
  if (d.headers_slot == npos) return;
  const std::uint32_t slot = d.headers_slot;
  d.headers_slot = npos;
  if (slot + 1 != _headers.size()) _by_destination.find(_headers.back().to)->second.headers_slot = slot;
  swap_pop(_headers, slot);
}

bool binding_table::remove(destination to, std::string_view routing_key, const amqp::field_table& arguments) {
  const auto d = _by_destination.find(to);
  if (d == _by_destination.end()) return false;
  const std::vector<std::byte> sorted = sorted_arguments(arguments);
  const auto it = _bindings.find(binding_ref{to, routing_key, sorted});
  if (it == _bindings.end()) return false;
  const binding* b = &*it;

  auto& mine = d->second.bindings;
  swap_pop(mine, static_cast<std::size_t>(std::find(mine.begin(), mine.end(), b) - mine.begin()));
  switch (_type) {
    case exchange_type::direct:
    case exchange_type::topic:
      unindex_key(*b);
      break;
    case exchange_type::fanout:
      if (mine.empty()) drop_fanout_slot(d->second);
      break;
    case exchange_type::headers: {
      auto& group = _headers[d->second.headers_slot].bindings;
      const auto p = std::find_if(group.begin(), group.end(), [&](const headers_binding& h) { return h.source == b; });
      HAREMQ_ASSERT(p != group.end());
      swap_pop(group, static_cast<std::size_t>(p - group.begin()));
      if (group.empty()) drop_headers_group(d->second);
      break;
    }
  }
  _bindings.erase(it);
  if (mine.empty()) _by_destination.erase(d);
  return true;
}

std::size_t binding_table::remove_destination(destination to) {
  const auto d = _by_destination.find(to);
  if (d == _by_destination.end()) return 0;
  drop_fanout_slot(d->second);
  drop_headers_group(d->second);
  const std::size_t removed = d->second.bindings.size();
  for (const binding* b : d->second.bindings) {
    unindex_key(*b);
    _bindings.erase(_bindings.find(binding_ref{b->to, b->routing_key, b->arguments}));
  }
  _by_destination.erase(d);
  return removed;
}

void binding_table::route(std::string_view routing_key, const amqp::field_table& headers,
                          std::vector<destination>& out) const noexcept {
  switch (_type) {
    case exchange_type::direct: {
      const auto key = _direct.find(routing_key);
      if (key == _direct.end()) return;
      for (const destination_count& c : key->second) out.push_back(c.to);
      return;
    }
    case exchange_type::fanout:
      out.insert(out.end(), _fanout.begin(), _fanout.end());
      return;
    case exchange_type::topic:
      _topic.match(routing_key, out);
      return;
    case exchange_type::headers:
      if (_headers.empty()) return;
      sort_entries(headers, _sorted_headers);
      for (const headers_group& group : _headers) {
        for (const headers_binding& h : group.bindings) {
          if (headers_match(h.pattern, _sorted_headers)) {
            out.push_back(group.to);
            break;
          }
        }
      }
      return;
  }
}

}  // namespace haremq::engine
