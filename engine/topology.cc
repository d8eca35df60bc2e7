#include "engine/topology.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <random>
#include <span>

#include "engine/arguments.h"
#include "engine/header_routes.h"

namespace haremq::engine {
namespace {

std::string in_vhost(std::string_view vhost) { return "in vhost '" + std::string(vhost) + "'"; }

topology_error error(amqp::reply_code code, std::string text) {
  return topology_error{code, std::string(amqp::reply_name(code)) + " - " + std::move(text)};
}

topology_error no_exchange(std::string_view vhost, std::string_view name) {
  return error(amqp::reply_code::not_found, "no exchange '" + std::string(name) + "' " + in_vhost(vhost));
}

topology_error no_queue(std::string_view vhost, std::string_view name) {
  return error(amqp::reply_code::not_found, "no queue '" + std::string(name) + "' " + in_vhost(vhost));
}

topology_error default_exchange_refused() {
  return error(amqp::reply_code::access_refused, "operation not permitted on the default exchange");
}

topology_error reserved_name(std::string_view what, std::string_view name) {
  return error(amqp::reply_code::access_refused,
               std::string(what) + " name '" + std::string(name) + "' contains reserved prefix 'amq.*'");
}

topology_error locked(std::string_view vhost, std::string_view name) {
  return error(amqp::reply_code::resource_locked,
               "cannot obtain exclusive access to locked queue '" + std::string(name) + "' " + in_vhost(vhost) +
                   ". It could be originally declared on another connection or the exclusive property value does "
                   "not match that of the original declaration.");
}

std::optional<topology_error> inequivalent(std::string_view what, std::string_view name, std::string_view vhost,
                                           std::string_view arg, std::string_view received, std::string_view current) {
  return error(amqp::reply_code::precondition_failed,
               "inequivalent arg '" + std::string(arg) + "' for " + std::string(what) + " '" + std::string(name) + "' " +
                   in_vhost(vhost) + ": received " + std::string(received) + " but current is " + std::string(current));
}

std::string quoted_bool(bool b) { return b ? "'true'" : "'false'"; }

std::vector<std::byte> owned(const amqp::field_table& t) { return {t.bytes().begin(), t.bytes().end()}; }

bool reserved(std::string_view name) { return name.substr(0, 4) == "amq."; }

// Later than any earlier incarnation of the same name, across restarts (a wall-clock time in
// nanoseconds, never repeated within the process).
std::uint64_t new_incarnation() noexcept {
  static std::atomic<std::uint64_t> last{0};
  const auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::uint64_t prev = last.load(std::memory_order_relaxed);
  std::uint64_t next = 0;
  do {
    next = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return next;
}

// RabbitMQ's server-generated names: "amq.gen-" and 22 characters of URL-safe base64.
std::string generated_queue_name() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name = "amq.gen-";
  for (int i = 0; i < 22; ++i) name += alphabet[rng() % 64];
  return name;
}

bool exclusive_to_other(const queue_record& q, connection_key connection) {
  return q.settings.exclusive && !(q.settings.exclusive_owner == connection);
}

}  // namespace

topology_store::topology_store() {
  add_vhost("/");
  put_user({"guest", access::hash_password("guest"), access::hashing::sha256, {"administrator"}});
  set_permissions("/", "guest", {".*", ".*", ".*"});
}

bool topology_store::add_vhost(std::string_view name) {
  std::lock_guard lock(_mutex);
  if (_vhosts.find(name) != _vhosts.end()) return false;
  vhost_record v;
  v.name = std::string(name);
  // Every vhost has the default exchange and the amq.* ones (RabbitMQ's set).
  struct predeclared {
    const char* name;
    exchange_type type;
    bool internal;
  };
  static constexpr std::array<predeclared, 7> defaults{{{"", exchange_type::direct, false},
                                                         {"amq.direct", exchange_type::direct, false},
                                                         {"amq.fanout", exchange_type::fanout, false},
                                                         {"amq.topic", exchange_type::topic, false},
                                                         {"amq.headers", exchange_type::headers, false},
                                                         {"amq.match", exchange_type::headers, false},
                                                         {"amq.rabbitmq.trace", exchange_type::topic, true}}};
  for (const auto& d : defaults) {
    exchange_record x;
    x.name = d.name;
    x.type = d.type;
    x.durable = true;
    x.internal = d.internal;
    x.id = _next_exchange_id++;
    v.exchanges.emplace(x.name, std::move(x));
  }
  _vhosts.emplace(v.name, std::move(v));
  changed();
  persist();
  return true;
}

std::string topology_store::new_queue_name() const {
  std::lock_guard lock(_mutex);
  return _generate_name ? _generate_name() : generated_queue_name();
}

bool topology_store::delete_vhost(std::string_view name, std::vector<queue_record>& queues) {
  std::lock_guard lock(_mutex);
  const auto v = _vhosts.find(name);
  if (v == _vhosts.end()) return false;
  for (const auto& [_, q] : v->second.queues) queues.push_back(q);
  _vhosts.erase(v);
  std::erase_if(_permissions, [&](const auto& kv) { return kv.first.first == name; });
  changed();
  access_changed();
  persist();
  return true;
}

std::vector<std::string> topology_store::vhost_names() const {
  std::lock_guard lock(_mutex);
  std::vector<std::string> names;
  for (const auto& [name, _] : _vhosts) names.push_back(name);
  return names;
}

std::optional<access::user_record> topology_store::find_user(std::string_view name) const {
  std::lock_guard lock(_mutex);
  const auto it = _users.find(name);
  if (it == _users.end()) return std::nullopt;
  return it->second;
}

std::vector<access::user_record> topology_store::users() const {
  std::lock_guard lock(_mutex);
  std::vector<access::user_record> out;
  for (const auto& [_, u] : _users) out.push_back(u);
  return out;
}

void topology_store::put_user(access::user_record user) {
  std::lock_guard lock(_mutex);
  const std::string name = user.name;
  _users.insert_or_assign(name, std::move(user));
  access_changed();
  persist();
}

bool topology_store::delete_user(std::string_view name) {
  std::lock_guard lock(_mutex);
  const auto it = _users.find(name);
  if (it == _users.end()) return false;
  _users.erase(it);
  std::erase_if(_permissions, [&](const auto& kv) { return kv.first.second == name; });
  access_changed();
  persist();
  return true;
}

std::optional<std::string> topology_store::set_permissions(std::string_view vhost, std::string_view user,
                                                           access::permission_record p) {
  for (const std::string* pattern : {&p.configure, &p.write, &p.read}) {
    std::string error;
    if (!access::valid_pattern(*pattern, error)) return "invalid regular expression '" + *pattern + "': " + error;
  }
  std::lock_guard lock(_mutex);
  if (_vhosts.find(vhost) == _vhosts.end()) return "no_such_vhost: " + std::string(vhost);
  if (_users.find(user) == _users.end()) return "no_such_user: " + std::string(user);
  _permissions.insert_or_assign({std::string(vhost), std::string(user)}, std::move(p));
  access_changed();
  persist();
  return std::nullopt;
}

bool topology_store::clear_permissions(std::string_view vhost, std::string_view user) {
  std::lock_guard lock(_mutex);
  if (_permissions.erase({std::string(vhost), std::string(user)}) == 0) return false;
  access_changed();
  persist();
  return true;
}

std::optional<access::permission_record> topology_store::find_permissions(std::string_view vhost,
                                                                          std::string_view user) const {
  std::lock_guard lock(_mutex);
  const auto it = _permissions.find({std::string(vhost), std::string(user)});
  if (it == _permissions.end()) return std::nullopt;
  return it->second;
}

access::permission_map topology_store::permissions() const {
  std::lock_guard lock(_mutex);
  return _permissions;
}

void topology_store::clear_access() {
  std::lock_guard lock(_mutex);
  _users.clear();
  _permissions.clear();
  access_changed();
}

bool topology_store::vhost_exists(std::string_view vhost) const {
  std::lock_guard lock(_mutex);
  return _vhosts.find(vhost) != _vhosts.end();
}

std::optional<topology_error> topology_store::declare_exchange(std::string_view vhost, const exchange_declaration& d) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return no_exchange(vhost, d.name);
  auto& exchanges = v->second.exchanges;
  // RabbitMQ's order: the default exchange, passive lookups, the type, equivalence with an
  // existing exchange (amq.* included), and only then the reserved prefix of a new name.
  if (d.name.empty()) return default_exchange_refused();
  const auto existing = exchanges.find(d.name);
  if (d.passive) {
    if (existing == exchanges.end()) return no_exchange(vhost, d.name);
    return std::nullopt;
  }
  const auto type = parse_exchange_type(d.type);
  if (!type) {
    return error(amqp::reply_code::command_invalid, "unknown exchange type '" + std::string(d.type) + "'");
  }
  if (existing != exchanges.end()) {
    const exchange_record& x = existing->second;
    if (x.type != *type) {
      return inequivalent("exchange", d.name, vhost, "type", "'" + std::string(d.type) + "'",
                          "'" + std::string(name_of(x.type)) + "'");
    }
    if (x.durable != d.durable) {
      return inequivalent("exchange", d.name, vhost, "durable", quoted_bool(d.durable), quoted_bool(x.durable));
    }
    if (x.auto_delete != d.auto_delete) {
      return inequivalent("exchange", d.name, vhost, "auto_delete", quoted_bool(d.auto_delete),
                          quoted_bool(x.auto_delete));
    }
    if (x.internal != d.internal) {
      return inequivalent("exchange", d.name, vhost, "internal", quoted_bool(d.internal), quoted_bool(x.internal));
    }
    if (auto e = compare_arguments("exchange", d.name, vhost, exchange_equivalence_keys(),
                                   amqp::field_table::trusted(x.arguments), d.arguments)) {
      return e;
    }
    return std::nullopt;
  }
  if (reserved(d.name)) return reserved_name("exchange", d.name);
  if (const auto ae = d.arguments.find("alternate-exchange"); ae && ae->type() != amqp::field_type::long_string) {
    return topology_error{amqp::reply_code::precondition_failed,
                          "PRECONDITION_FAILED - invalid type '" + std::string(rabbit_type_name(ae->type())) +
                              "' for arg 'alternate-exchange' in exchange '" + std::string(d.name) + "' in vhost '" +
                              std::string(vhost) + "'"};
  }
  exchange_record x;
  x.name = std::string(d.name);
  x.type = *type;
  x.durable = d.durable;
  x.auto_delete = d.auto_delete;
  x.internal = d.internal;
  x.arguments = owned(d.arguments);
  x.id = _next_exchange_id++;
  exchanges.emplace(x.name, std::move(x));
  changed();
  if (d.durable) persist();
  return std::nullopt;
}

std::optional<topology_error> topology_store::delete_exchange(std::string_view vhost, std::string_view name,
                                                              bool if_unused) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return std::nullopt;
  if (name.empty()) return default_exchange_refused();
  auto& exchanges = v->second.exchanges;
  const auto it = exchanges.find(name);
  if (it == exchanges.end()) return std::nullopt;  // RabbitMQ: deleting what is not there is fine
  if (reserved(name)) {
    return error(amqp::reply_code::access_refused,
                 "deletion of system exchange '" + std::string(name) + "' " + in_vhost(vhost) + " not allowed");
  }
  if (if_unused && !it->second.bindings.empty()) {
    return error(amqp::reply_code::precondition_failed,
                 "exchange '" + std::string(name) + "' " + in_vhost(vhost) + " in use");
  }
  const destination gone{destination::kind::exchange, it->second.id};
  const bool durable = it->second.durable;
  exchanges.erase(it);
  for (auto& [_, x] : exchanges) {
    std::erase_if(x.bindings, [&](const binding_record& b) { return b.to == gone; });
  }
  changed();
  if (durable) persist();
  return std::nullopt;
}

std::variant<queue_record, topology_error> topology_store::declare_queue(std::string_view vhost,
                                                                         const queue_declaration& d, worker_id owner,
                                                                         connection_key connection) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return no_queue(vhost, d.name);
  auto& queues = v->second.queues;
  if (!d.passive && !d.server_named && !d.name.empty() && reserved(d.name)) return reserved_name("queue", d.name);
  const auto existing = d.name.empty() ? queues.end() : queues.find(d.name);
  if (existing != queues.end()) {
    const queue_record& q = existing->second;
    if (exclusive_to_other(q, connection)) return locked(vhost, d.name);
    if (d.passive) return q;
    if (q.settings.durable != d.durable) {
      return *inequivalent("queue", d.name, vhost, "durable", quoted_bool(d.durable), quoted_bool(q.settings.durable));
    }
    if (q.settings.exclusive != d.exclusive) return locked(vhost, d.name);
    if (q.settings.auto_delete != d.auto_delete) {
      return *inequivalent("queue", d.name, vhost, "auto_delete", quoted_bool(d.auto_delete),
                           quoted_bool(q.settings.auto_delete));
    }
    if (auto e = compare_arguments("queue", d.name, vhost, queue_equivalence_keys(),
                                   amqp::field_table::trusted(q.settings.arguments), d.arguments)) {
      return *e;
    }
    return q;
  }
  if (d.passive) return no_queue(vhost, d.name);

  const std::string_view checked_name = !d.name.empty() ? d.name : std::string_view{"amq.gen"};
  if (const auto dlx = d.arguments.find("x-dead-letter-exchange"); dlx && dlx->type() != amqp::field_type::long_string) {
    // RabbitMQ looks at the dead-letter exchange's name before the other arguments.
    return topology_error{amqp::reply_code::precondition_failed,
                          "PRECONDITION_FAILED - invalid type '" + std::string(rabbit_type_name(dlx->type())) +
                              "' for arg 'x-dead-letter-exchange' in queue '" + std::string(checked_name) +
                              "' in vhost '" + std::string(vhost) + "'"};
  }
  if (auto invalid = check_queue_arguments(checked_name, vhost, d.arguments)) return *invalid;
  if (const auto type = d.arguments.find("x-queue-type");
      type && type->type() == amqp::field_type::long_string && type->as_string() == "quorum" && !d.durable) {
    return topology_error{amqp::reply_code::precondition_failed,
                          "PRECONDITION_FAILED - invalid property 'non-durable' for queue '" +
                              std::string(checked_name) + "' in vhost '" + std::string(vhost) + "'"};
  }

  queue_record q;
  q.id = queue_id{_next_queue_id++};
  q.owner = owner;
  q.settings.name = !d.name.empty() ? std::string(d.name) : _generate_name ? _generate_name() : generated_queue_name();
  q.settings.vhost = std::string(vhost);
  q.settings.durable = d.durable;
  q.settings.exclusive = d.exclusive;
  q.settings.auto_delete = d.auto_delete;
  q.settings.exclusive_owner = d.exclusive ? connection : connection_key{};
  q.settings.arguments = owned(d.arguments);
  const policy_record* policy = applicable_policy(v->second, true, q.settings.name);
  q.settings.limits = resolve_limits(d.arguments, policy != nullptr ? &policy->keys : nullptr);
  if (policy != nullptr) q.settings.policy = policy->name;
  if (is_durable(q)) q.settings.incarnation = d.incarnation != 0 ? d.incarnation : new_incarnation();
  queues.emplace(q.settings.name, q);
  changed();
  if (is_durable(q)) persist();
  return q;
}

const policy_record* applicable_policy(const vhost_record& vhost, bool is_queue, std::string_view name) {
  const policy_record* best = nullptr;
  for (const auto& [_, p] : vhost.policies) {
    if ((best == nullptr || p.priority > best->priority) && p.applies_to(is_queue, name)) best = &p;
  }
  return best;
}

namespace {

// A policy change: every queue of the vhost takes its limits again.
void resolve_policies(vhost_record& v) {
  for (auto& [name, q] : v.queues) {
    const policy_record* policy = applicable_policy(v, true, name);
    q.settings.limits = resolve_limits(amqp::field_table::trusted(q.settings.arguments),
                                       policy != nullptr ? &policy->keys : nullptr);
    q.settings.policy = policy != nullptr ? policy->name : std::string{};
  }
}

}  // namespace

std::optional<std::string> topology_store::put_policy(std::string_view vhost, policy_record p) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return "no vhost '" + std::string(vhost) + "'";
  const std::string name = p.name;
  v->second.policies.insert_or_assign(name, std::move(p));
  resolve_policies(v->second);
  changed();
  persist();
  return std::nullopt;
}

bool topology_store::delete_policy(std::string_view vhost, std::string_view name) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return false;
  const auto it = v->second.policies.find(name);
  if (it == v->second.policies.end()) return false;
  v->second.policies.erase(it);
  resolve_policies(v->second);
  changed();
  persist();
  return true;
}

std::vector<std::pair<std::string, policy_record>> topology_store::policies() const {
  std::lock_guard lock(_mutex);
  std::vector<std::pair<std::string, policy_record>> out;
  for (const auto& [vname, v] : _vhosts) {
    for (const auto& [_, p] : v.policies) out.emplace_back(vname, p);
  }
  return out;
}

std::optional<queue_record> topology_store::queue_named(std::string_view vhost, std::string_view name) const {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return std::nullopt;
  const auto q = v->second.queues.find(name);
  if (q == v->second.queues.end()) return std::nullopt;
  return q->second;
}

std::variant<queue_record, topology_error> topology_store::find_queue(std::string_view vhost, std::string_view name,
                                                                      connection_key connection) const {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return no_queue(vhost, name);
  const auto it = v->second.queues.find(name);
  if (it == v->second.queues.end()) return no_queue(vhost, name);
  if (exclusive_to_other(it->second, connection)) return locked(vhost, name);
  return it->second;
}

bool topology_store::remove_queue(std::string_view vhost, queue_id id) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return false;
  auto& queues = v->second.queues;
  const auto it = std::find_if(queues.begin(), queues.end(), [&](const auto& kv) { return kv.second.id == id; });
  if (it == queues.end()) return false;
  bool durable = is_durable(it->second);
  queues.erase(it);
  const destination gone{destination::kind::queue, id.value};
  for (auto x = v->second.exchanges.begin(); x != v->second.exchanges.end();) {
    const std::size_t before = x->second.bindings.size();
    std::erase_if(x->second.bindings, [&](const binding_record& b) { return b.to == gone; });
    // An auto-delete exchange goes with its last binding (RabbitMQ semantics).
    if (x->second.auto_delete && before > 0 && x->second.bindings.empty()) {
      durable = durable || x->second.durable;
      x = v->second.exchanges.erase(x);
    } else {
      ++x;
    }
  }
  changed();
  if (durable) persist();
  return true;
}

std::optional<topology_error> topology_store::bind(std::string_view vhost, binding_kind kind,
                                                   std::string_view destination_name, std::string_view source,
                                                   std::string_view routing_key, amqp::field_table arguments,
                                                   connection_key connection) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return no_exchange(vhost, source);
  auto& exchanges = v->second.exchanges;
  if (source.empty() || (kind == binding_kind::exchange && destination_name.empty())) {
    return default_exchange_refused();
  }
  const auto src = exchanges.find(source);
  if (src == exchanges.end()) return no_exchange(vhost, source);
  destination to;
  bool durable = src->second.durable;
  if (kind == binding_kind::queue) {
    const auto q = v->second.queues.find(destination_name);
    if (q == v->second.queues.end()) return no_queue(vhost, destination_name);
    if (exclusive_to_other(q->second, connection)) return locked(vhost, destination_name);
    to = destination{destination::kind::queue, q->second.id.value};
    durable = durable && is_durable(q->second);
  } else {
    const auto dst = exchanges.find(destination_name);
    if (dst == exchanges.end()) return no_exchange(vhost, destination_name);
    to = destination{destination::kind::exchange, dst->second.id};
    durable = durable && dst->second.durable;
  }
  if (src->second.type == exchange_type::headers) {
    if (auto e = check_x_match(arguments)) return e;
  }
  auto& bindings = src->second.bindings;
  auto canonical = canonical_arguments(arguments);
  const auto same = [&](const binding_record& b) { return b.is(to, routing_key, canonical); };
  if (std::none_of(bindings.begin(), bindings.end(), same)) {
    bindings.push_back(binding_record{to, std::string(routing_key), std::move(canonical)});
    changed();
    if (durable) persist();
  }
  return std::nullopt;
}

std::optional<topology_error> topology_store::unbind(std::string_view vhost, binding_kind kind,
                                                     std::string_view destination_name, std::string_view source,
                                                     std::string_view routing_key, amqp::field_table arguments,
                                                     connection_key connection) {
  std::lock_guard lock(_mutex);
  auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return no_exchange(vhost, source);
  auto& exchanges = v->second.exchanges;
  if (source.empty()) return default_exchange_refused();
  const auto src = exchanges.find(source);
  if (src == exchanges.end()) return no_exchange(vhost, source);
  destination to;
  const queue_record* queue = nullptr;
  bool durable = src->second.durable;
  if (kind == binding_kind::queue) {
    const auto q = v->second.queues.find(destination_name);
    if (q == v->second.queues.end()) return std::nullopt;  // RabbitMQ: unbind-ok, nothing to remove
    queue = &q->second;
    to = destination{destination::kind::queue, q->second.id.value};
    durable = durable && is_durable(q->second);
  } else {
    const auto dst = exchanges.find(destination_name);
    if (dst == exchanges.end()) return std::nullopt;
    to = destination{destination::kind::exchange, dst->second.id};
    durable = durable && dst->second.durable;
  }
  auto& bindings = src->second.bindings;
  const auto canonical = canonical_arguments(arguments);
  const auto it = std::find_if(bindings.begin(), bindings.end(),
                               [&](const binding_record& b) { return b.is(to, routing_key, canonical); });
  // A binding that does not exist is answered unbind-ok before exclusivity is checked.
  if (it == bindings.end()) return std::nullopt;
  if (queue != nullptr && exclusive_to_other(*queue, connection)) return locked(vhost, destination_name);
  bindings.erase(it);
  if (src->second.auto_delete && bindings.empty()) {
    durable = durable || src->second.durable;
    exchanges.erase(src);
  }
  changed();
  if (durable) persist();
  return std::nullopt;
}

std::pair<vhost_map, std::uint64_t> topology_store::snapshot() const {
  std::lock_guard lock(_mutex);
  return {_vhosts, _version.load(std::memory_order_acquire)};
}

std::string topology_store::retained_definitions() const {
  std::lock_guard lock(_mutex);
  return _retained;
}

void topology_store::set_retained_definitions(std::string json) {
  std::lock_guard lock(_mutex);
  _retained = std::move(json);
  persist();
}

void topology_store::set_persistence(persistence save) {
  std::lock_guard lock(_mutex);
  _save = std::move(save);
}

void topology_store::persist() {
  if (!_save) return;
  if (_open_batches > 0) {
    _unsaved = true;
    return;
  }
  _save_failing.store(!_save(definitions_view{_vhosts, _users, _permissions, _retained}), std::memory_order_release);
}

void topology_store::retry_persistence() {
  std::lock_guard lock(_mutex);
  if (_save_failing.load(std::memory_order_relaxed) && _open_batches == 0) persist();
}

topology_store::persistence_batch::persistence_batch(topology_store& store) : _store(store) {
  std::lock_guard lock(_store._mutex);
  ++_store._open_batches;
}

topology_store::persistence_batch::~persistence_batch() {
  std::lock_guard lock(_store._mutex);
  if (--_store._open_batches > 0 || !_store._unsaved) return;
  _store._unsaved = false;
  _store.persist();
}

void topology_replica::refresh() {
  if (_store.version() == _version) return;
  auto [vhosts, version] = _store.snapshot();
  _vhosts.clear();
  for (auto& [name, record] : vhosts) {
    vhost_view& view = _vhosts[name];
    for (auto& [xname, x] : record.exchanges) {
      auto [it, _] = view.exchanges.emplace(xname, exchange_view{exchange_record{}, binding_table{x.type}, {}});
      for (const auto& b : x.bindings) {
        it->second.table.add(b.to, b.routing_key, amqp::field_table::trusted(b.arguments));
      }
      x.bindings.clear();
      if (const auto ae = amqp::field_table::trusted(x.arguments).find("alternate-exchange");
          ae && ae->type() == amqp::field_type::long_string) {
        it->second.alternate = std::string(ae->as_string());  // the argument wins over a policy
      } else if (const policy_record* p = applicable_policy(record, false, xname); p && p->keys.alternate_exchange) {
        it->second.alternate = *p->keys.alternate_exchange;
      }
      it->second.record = std::move(x);
      view.exchanges_by_id[it->second.record.id] = &it->second;
    }
    view.queues = std::move(record.queues);
    for (const auto& [_, q] : view.queues) view.queues_by_id[q.id.value] = &q;
  }
  _version = version;
}

const queue_record* topology_replica::find_queue(std::string_view vhost, queue_id id) const {
  const auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return nullptr;
  const auto q = v->second.queues_by_id.find(id.value);
  return q == v->second.queues_by_id.end() ? nullptr : q->second;
}

const exchange_record* topology_replica::find_exchange(std::string_view vhost, std::string_view name) const {
  const exchange_handle x = find_exchange_handle(vhost, name);
  return x ? &x.record() : nullptr;
}

const exchange_record& topology_replica::exchange_handle::record() const noexcept { return _exchange->record; }

topology_replica::exchange_handle topology_replica::find_exchange_handle(std::string_view vhost,
                                                                         std::string_view name) const {
  const auto v = _vhosts.find(vhost);
  if (v == _vhosts.end()) return {};
  const auto x = v->second.exchanges.find(name);
  return x == v->second.exchanges.end() ? exchange_handle{} : exchange_handle{&v->second, &x->second};
}

bool topology_replica::route(std::string_view vhost, const message& msg, std::vector<queue_target>& out) {
  const exchange_handle from = find_exchange_handle(vhost, msg.exchange());
  if (!from) return false;
  route(from, msg, out);
  return true;
}

void topology_replica::route(exchange_handle from, const message& msg, std::vector<queue_target>& out) {
  const vhost_view& view = *from._vhost;
  const std::string_view exchange = msg.exchange();
  // Most messages have one key; CC and BCC headers add more.
  const std::string_view own_key = msg.routing_key();
  std::span<const std::string_view> keys(&own_key, 1);
  if (msg.header_routes()) [[unlikely]] {
    routing_keys_of(msg, _keys);
    keys = _keys;
  }

  auto add_queue = [&](const queue_record& q) {
    const queue_target t{q.id, q.owner};
    if (std::none_of(out.begin(), out.end(), [&](const queue_target& o) { return o.queue == t.queue; })) {
      out.push_back(t);
    }
  };

  if (exchange.empty()) {  // the default exchange: every queue, bound by its own name
    for (const std::string_view key : keys) {
      if (const auto q = view.queues.find(key); q != view.queues.end()) add_queue(q->second);
    }
    return;
  }

  // Exchange-to-exchange bindings are followed breadth-first, each exchange once.
  _pending.clear();
  _visited_exchanges.clear();
  _pending.push_back(from._exchange);
  _visited_exchanges.push_back(from._exchange->record.id);
  amqp::field_table headers;
  bool headers_decoded = false;
  for (std::size_t i = 0; i < _pending.size(); ++i) {
    _scratch.clear();
    if (_pending[i]->record.type == exchange_type::headers && !headers_decoded) {
      headers = msg.decode_properties().headers;
      headers_decoded = true;
    }
    _pending[i]->table.route(keys[0], headers, _scratch);
    if (keys.size() > 1) [[unlikely]] {
      // Fanout and headers exchanges route the same whatever the key: once.
      const exchange_type type = _pending[i]->record.type;
      if (type == exchange_type::direct || type == exchange_type::topic) {
        for (const std::string_view key : keys.subspan(1)) _pending[i]->table.route(key, headers, _scratch);
      }
    }
    if (_scratch.empty() && !_pending[i]->alternate.empty()) {
      // Routed nowhere: its alternate exchange takes the message (each exchange once, so an
      // alternate-exchange cycle ends).
      const auto alternate = view.exchanges.find(_pending[i]->alternate);
      if (alternate != view.exchanges.end() &&
          std::find(_visited_exchanges.begin(), _visited_exchanges.end(), alternate->second.record.id) ==
              _visited_exchanges.end()) {
        _visited_exchanges.push_back(alternate->second.record.id);
        _pending.push_back(&alternate->second);
      }
      continue;
    }
    for (const destination& d : _scratch) {
      if (d.what == destination::kind::queue) {
        if (const auto q = view.queues_by_id.find(d.id); q != view.queues_by_id.end()) add_queue(*q->second);
      } else if (std::find(_visited_exchanges.begin(), _visited_exchanges.end(), d.id) == _visited_exchanges.end()) {
        _visited_exchanges.push_back(d.id);
        const auto next = view.exchanges_by_id.find(d.id);
        if (next != view.exchanges_by_id.end()) _pending.push_back(next->second);
      }
    }
  }
}

}  // namespace haremq::engine
