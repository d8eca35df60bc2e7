#include "engine/store/definitions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "engine/exchange_type.h"

namespace haremq::engine::store {
namespace {

// HareMQ's own key in a queue entry of its definitions file: the queue's incarnation, which
// ties it to its messages in the log. RabbitMQ ignores unknown keys on import; exports leave it out.
constexpr const char* incarnation_key = "haremq_incarnation";

using nlohmann::json;

// The RabbitMQ release whose definitions format HareMQ writes: its importer reads the version
// to pick defaults (users without a hashing algorithm are taken as MD5 before 3.6).
constexpr const char* rabbitmq_version = "3.10.0";
constexpr int max_nesting = 64;

// The sections HareMQ keeps without modelling them, and what identifies an entry in each: an
// import replaces the entry with the same identity and appends the others, as RabbitMQ's
// import overwrites a parameter of the same name.
struct retained_section {
  std::string_view name;
  std::array<std::string_view, 3> identity;
};
constexpr std::array<retained_section, 4> retained_sections{{
    {"vhosts", {"name"}},
    {"topic_permissions", {"user", "vhost", "exchange"}},
    {"parameters", {"vhost", "component", "name"}},
    {"global_parameters", {"name"}},
}};

bool predeclared_exchange(std::string_view name) { return name.empty() || name.starts_with("amq."); }

const json* member(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

json value_to_json(const amqp::field_value& v, int depth);

json table_to_json(const amqp::field_table& table, int depth) {
  json out = json::object();
  for (const auto& e : table) out.emplace(std::string(e.name), value_to_json(e.value, depth));
  return out;
}

json value_to_json(const amqp::field_value& v, int depth) {
  using amqp::field_type;
  switch (v.type()) {
    case field_type::boolean: return v.as_bool();
    case field_type::f32: return static_cast<double>(v.as_f32());
    case field_type::f64: return v.as_f64();
    case field_type::decimal: {
      const auto d = v.as_decimal();
      return static_cast<double>(d.value) / std::pow(10.0, d.scale);
    }
    case field_type::long_string:
    case field_type::byte_array: return std::string(v.as_string());
    case field_type::table: return depth < max_nesting ? table_to_json(v.as_table(), depth + 1) : json();
    case field_type::array: {
      if (depth >= max_nesting) return json();
      json out = json::array();
      for (const auto& item : v.as_array()) out.push_back(value_to_json(item, depth + 1));
      return out;
    }
    case field_type::void_value: return json();
    default: return v.as_int();  // every integer type, and timestamps
  }
}

void write_items(amqp::table_writer& t, const json& container, int depth);

// Writes one JSON value as a field value named `name` (ignored inside an array); throws
// std::invalid_argument for what a field table cannot hold.
void write_value(amqp::table_writer& t, std::string_view name, const json& v, int depth) {
  using amqp::field_value;
  using amqp::table_writer;
  switch (v.type()) {
    case json::value_t::null: t.add(name, field_value::void_value()); return;
    case json::value_t::boolean: t.add(name, field_value::boolean(v.get<bool>())); return;
    case json::value_t::number_integer: t.add(name, field_value::i64(v.get<std::int64_t>())); return;
    case json::value_t::number_unsigned: {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw std::invalid_argument("integer " + std::to_string(u) + " does not fit a signed 64-bit long");
      }
      t.add(name, field_value::i64(static_cast<std::int64_t>(u)));
      return;
    }
    case json::value_t::number_float: t.add(name, field_value::f64(v.get<double>())); return;
    case json::value_t::string: t.add(name, field_value::string(v.get_ref<const std::string&>())); return;
    case json::value_t::object:
    case json::value_t::array: {
      auto nested = t.nested(name, v.is_object() ? table_writer::kind::table : table_writer::kind::array);
      write_items(nested, v, depth + 1);
      nested.finish();
      return;
    }
    default: throw std::invalid_argument("a binary JSON value has no field type");
  }
}

// Writes the entries of an object, or the items of an array.
void write_items(amqp::table_writer& t, const json& container, int depth) {
  if (depth > max_nesting) throw std::invalid_argument("nested deeper than " + std::to_string(max_nesting) + " levels");
  for (const auto& [key, item] : container.items()) {
    if (container.is_object() && key.size() > 255) {
      throw std::invalid_argument("name '" + key + "' is longer than 255 bytes");
    }
    write_value(t, key, item, depth);
  }
}

[[noreturn]] void fail(std::string text) { throw std::runtime_error(std::move(text)); }

// One entry of a section ("queues[3]"), its fields read with their JSON types checked.
class entry {
 public:
  entry(const json& fields, std::string where) : _fields(fields), _where(std::move(where)) {}

  [[noreturn]] void fail(std::string_view what) const { store::fail(_where + ": " + std::string(what)); }
  const json& fields() const noexcept { return _fields; }

  std::string text(std::string_view key, const char* fallback = nullptr) const {
    const json* v = member(_fields, key);
    if (v == nullptr && fallback != nullptr) return fallback;
    if (v == nullptr) fail("\"" + std::string(key) + "\" is missing");
    if (!v->is_string()) fail("\"" + std::string(key) + "\" must be a string");
    return v->get<std::string>();
  }

  std::uint64_t unsigned_number(std::string_view key, std::uint64_t fallback) const {
    const json* v = member(_fields, key);
    if (v == nullptr) return fallback;
    if (!v->is_number_unsigned()) fail("\"" + std::string(key) + "\" must be a non-negative integer");
    return v->get<std::uint64_t>();
  }

  bool flag(std::string_view key, bool fallback) const {
    const json* v = member(_fields, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail("\"" + std::string(key) + "\" must be true or false");
    return v->get<bool>();
  }

  // "arguments" as a field table's bytes; missing, null or [] (RabbitMQ's empty) is none.
  std::vector<std::byte> arguments() const {
    const json* v = member(_fields, "arguments");
    if (v == nullptr || v->is_null() || (v->is_array() && v->empty())) return {};
    auto bytes = arguments_from_json(*v);
    if (auto* why = std::get_if<std::string>(&bytes)) fail("\"arguments\": " + *why);
    return std::get<std::vector<std::byte>>(std::move(bytes));
  }

  // "tags": an array of strings, or one comma-separated string (both are RabbitMQ's).
  std::vector<std::string> tags() const {
    const json* v = member(_fields, "tags");
    if (v == nullptr || v->is_null()) return {};
    if (v->is_string()) return access::split_tags(v->get<std::string>());
    if (!v->is_array()) fail("\"tags\" must be an array or a string");
    std::vector<std::string> out;
    for (const auto& t : *v) {
      if (!t.is_string()) fail("\"tags\" must hold strings");
      out.push_back(t.get<std::string>());
    }
    return out;
  }

  // "vhost", which must exist by now (the "vhosts" section is applied first).
  std::string vhost(const topology_store& topology) const {
    std::string name = text("vhost");
    if (!topology.vhost_exists(name)) fail("vhost '" + name + "' does not exist and is not listed in \"vhosts\"");
    return name;
  }

 private:
  const json& _fields;
  std::string _where;
};

// Calls `apply` for each entry of `section`, an array of objects when present.
template <class F>
void for_each_entry(const json& doc, std::string_view section, F&& apply) {
  const json* list = member(doc, section);
  if (list == nullptr || list->is_null()) return;
  if (!list->is_array()) fail("\"" + std::string(section) + "\" must be an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const entry e{(*list)[i], std::string(section) + "[" + std::to_string(i) + "]"};
    if (!(*list)[i].is_object()) e.fail("must be an object");
    apply(e);
  }
}

bool same_entity(const json& a, const json& b, const retained_section& section) {
  for (const std::string_view key : section.identity) {
    if (key.empty()) break;
    const json* x = member(a, key);
    const json* y = member(b, key);
    if ((x == nullptr) != (y == nullptr) || (x != nullptr && *x != *y)) return false;
  }
  return true;
}

json parse_retained(std::string_view text) {
  json retained = json::parse(text, nullptr, false);
  return retained.is_object() ? retained : json::object();
}

// The retained sections with the file's merged in.
json merged_retained(const json& doc, std::string_view retained_text) {
  json retained = parse_retained(retained_text);
  for (const auto& section : retained_sections) {
    json& kept = retained[std::string(section.name)];
    if (!kept.is_array()) kept = json::array();
    for_each_entry(doc, section.name, [&](const entry& e) {
      const auto same = std::find_if(kept.begin(), kept.end(),
                                     [&](const json& k) { return same_entity(k, e.fields(), section); });
      if (same != kept.end()) {
        *same = e.fields();
      } else {
        kept.push_back(e.fields());
      }
    });
  }
  return retained;
}

binding_kind parse_destination_type(const entry& e) {
  const std::string type = e.text("destination_type");
  if (type == "queue") return binding_kind::queue;
  if (type == "exchange") return binding_kind::exchange;
  e.fail("\"destination_type\" must be \"queue\" or \"exchange\", not \"" + type + "\"");
}

// In RabbitMQ's order: what the other sections name exists before they are applied.
void apply(const json& doc, topology_store& topology, const queue_placement& place, import_counts& applied) {
  for_each_entry(doc, "vhosts", [&](const entry& e) {
    topology.add_vhost(e.text("name"));
    ++applied.vhosts;
  });
  topology.set_retained_definitions(merged_retained(doc, topology.retained_definitions()).dump());
  for_each_entry(doc, "users", [&](const entry& e) {
    access::user_record u;
    u.name = e.text("name");
    u.password_hash = e.text("password_hash", "");
    const auto algorithm = access::parse_hashing(e.text("hashing_algorithm", ""));
    if (!algorithm) e.fail("unknown \"hashing_algorithm\" '" + e.text("hashing_algorithm") + "'");
    u.algorithm = *algorithm;
    u.tags = e.tags();
    topology.put_user(std::move(u));
    ++applied.users;
  });
  for_each_entry(doc, "permissions", [&](const entry& e) {
    const std::string vhost = e.vhost(topology);
    if (auto error = topology.set_permissions(vhost, e.text("user"),
                                              {e.text("configure"), e.text("write"), e.text("read")})) {
      e.fail(*error);
    }
    ++applied.permissions;
  });
  // Before the queues and exchanges, so that they are declared under them.
  for_each_entry(doc, "policies", [&](const entry& e) {
    const std::string vhost = e.vhost(topology);
    const std::string name = e.text("name");
    auto made = policy_from_json(name, e.fields());
    // RabbitMQ's validation text, and which policy it is about as RabbitMQ names it.
    if (auto* why = std::get_if<std::string>(&made)) e.fail(*why + " (" + vhost + "/" + name + ")");
    if (auto error = topology.put_policy(vhost, std::get<policy_record>(std::move(made)))) e.fail(*error);
    ++applied.policies;
  });
  for_each_entry(doc, "exchanges", [&](const entry& e) {
    const std::string vhost = e.vhost(topology);
    const std::string name = e.text("name");
    if (predeclared_exchange(name)) {
      spdlog::warn("definitions: exchange '{}' in vhost '{}' skipped: the default and amq.* exchanges are built in",
                   name, vhost);
      return;
    }
    const std::string type = e.text("type");
    const auto arguments = e.arguments();
    const exchange_declaration d{name,
                                 type,
                                 false,
                                 e.flag("durable", true),
                                 e.flag("auto_delete", false),
                                 e.flag("internal", false),
                                 amqp::field_table::trusted(arguments)};
    if (auto error = topology.declare_exchange(vhost, d)) e.fail(error->text);
    ++applied.exchanges;
  });
  for_each_entry(doc, "queues", [&](const entry& e) {
    const std::string vhost = e.vhost(topology);
    const std::string name = e.text("name");
    if (name.starts_with("amq.")) {
      spdlog::warn("definitions: queue '{}' in vhost '{}' skipped: amq.* names are reserved", name, vhost);
      return;
    }
    const auto arguments = e.arguments();
    queue_declaration d;
    d.name = name;
    d.durable = e.flag("durable", true);
    d.auto_delete = e.flag("auto_delete", false);
    d.arguments = amqp::field_table::trusted(arguments);
    d.incarnation = e.unsigned_number(incarnation_key, 0);
    const auto declared = topology.declare_queue(vhost, d, place(), connection_key{});
    if (const auto* error = std::get_if<topology_error>(&declared)) e.fail(error->text);
    ++applied.queues;
  });
  for_each_entry(doc, "bindings", [&](const entry& e) {
    const std::string vhost = e.vhost(topology);
    const std::string source = e.text("source");
    const std::string destination = e.text("destination");
    const binding_kind kind = parse_destination_type(e);
    const std::string routing_key = e.text("routing_key", "");
    const auto arguments = e.arguments();
    if (auto error = topology.bind(vhost, kind, destination, source, routing_key,
                                   amqp::field_table::trusted(arguments), connection_key{})) {
      e.fail(error->text);
    }
    ++applied.bindings;
  });
}

}  // namespace

json arguments_to_json(const amqp::field_table& table) { return table_to_json(table, 0); }

table_bytes arguments_from_json(const json& object) {
  if (!object.is_object()) return std::string("must be an object");
  // The encoded size is not known up front (a one-digit JSON number is nine bytes): grow the
  // buffer until the table fits.
  for (std::size_t size = 256;; size *= 2) {
    std::vector<std::byte> buffer(size);
    amqp::byte_writer w{buffer};
    amqp::table_writer t{w};
    try {
      write_items(t, object, 0);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    const auto content = t.finish();
    if (w.ok()) return std::vector<std::byte>(content.begin(), content.end());
    if (w.error() != amqp::errc::buffer_too_small) return std::string("cannot be encoded as a field table");
  }
}

std::string write_definitions(const definitions_view& d, bool incarnations, bool transient) {
  const vhost_map& vhosts = d.vhosts;
  const json retained = parse_retained(d.retained);
  json doc = json::object();
  doc["rabbit_version"] = rabbitmq_version;
  doc["rabbitmq_version"] = rabbitmq_version;
  doc["product_name"] = "HareMQ";
  doc["product_version"] = HAREMQ_VERSION;
  for (const auto& section : retained_sections) {
    const json* kept = member(retained, section.name);
    doc[std::string(section.name)] = kept != nullptr && kept->is_array() ? *kept : json::array();
  }
  json& users = doc["users"] = json::array();
  for (const auto& [name, u] : d.users) {
    users.push_back({{"name", name},
                     {"password_hash", u.password_hash},
                     {"hashing_algorithm", access::name_of(u.algorithm)},
                     {"tags", u.tags},
                     {"limits", json::object()}});
  }
  json& permissions = doc["permissions"] = json::array();
  for (const auto& [key, p] : d.permissions) {
    permissions.push_back({{"user", key.second},
                           {"vhost", key.first},
                           {"configure", p.configure},
                           {"write", p.write},
                           {"read", p.read}});
  }
  // Every vhost, as an import described it (limits, metadata) or with RabbitMQ's defaults.
  const json listed = std::move(doc["vhosts"]);
  json& out_vhosts = doc["vhosts"] = json::array();
  json& exchanges = doc["exchanges"] = json::array();
  json& queues = doc["queues"] = json::array();
  json& bindings = doc["bindings"] = json::array();
  json& policies = doc["policies"] = json::array();
  for (const auto& [vhost, v] : vhosts) {
    for (const auto& [name, p] : v.policies) policies.push_back(policy_to_json(vhost, p));
    const std::string& vhost_name = vhost;  // clang 14 cannot capture a structured binding
    const auto it = std::find_if(listed.begin(), listed.end(), [&](const json& l) {
      const json* n = l.is_object() ? member(l, "name") : nullptr;
      return n != nullptr && *n == vhost_name;
    });
    if (it != listed.end()) {
      out_vhosts.push_back(*it);
    } else {
      const char* description = vhost == "/" ? "Default virtual host" : "";
      out_vhosts.push_back({{"name", vhost},
                            {"limits", json::array()},
                            {"metadata", {{"description", description}, {"tags", json::array()}}}});
    }

    // Binding destinations are ids; the names, for the durable ones.
    // With `transient`, the non-durable ones too (not exclusive queues: they die with their
    // connection), as RabbitMQ's export lists them.
    std::map<std::uint32_t, std::string_view> durable_exchanges, durable_queues;
    for (const auto& [name, x] : v.exchanges) {
      if (x.durable || transient) durable_exchanges.emplace(x.id, name);
    }
    for (const auto& [name, q] : v.queues) {
      if (!is_durable(q) && !(transient && !q.settings.exclusive)) continue;
      durable_queues.emplace(q.id.value, name);
      queues.push_back({{"name", name},
                        {"vhost", vhost},
                        {"type", "classic"},
                        {"durable", q.settings.durable},
                        {"auto_delete", q.settings.auto_delete},
                        {"arguments", arguments_to_json(amqp::field_table::trusted(q.settings.arguments))}});
      if (incarnations) queues.back()[incarnation_key] = q.settings.incarnation;
    }
    for (const auto& [name, x] : v.exchanges) {
      if (!x.durable && !transient) continue;
      if (!predeclared_exchange(name)) {
        exchanges.push_back({{"name", name},
                             {"vhost", vhost},
                             {"type", name_of(x.type)},
                             {"durable", x.durable},
                             {"auto_delete", x.auto_delete},
                             {"internal", x.internal},
                             {"arguments", arguments_to_json(amqp::field_table::trusted(x.arguments))}});
      }
      for (const auto& b : x.bindings) {
        const bool to_queue = b.to.what == destination::kind::queue;
        const auto& durable = to_queue ? durable_queues : durable_exchanges;
        const auto to = durable.find(b.to.id);
        if (to == durable.end()) continue;
        bindings.push_back({{"source", name},
                            {"vhost", vhost},
                            {"destination", to->second},
                            {"destination_type", to_queue ? "queue" : "exchange"},
                            {"routing_key", b.routing_key},
                            {"arguments", arguments_to_json(amqp::field_table::trusted(b.arguments))}});
      }
    }
  }
  // Strings that are not UTF-8 (byte arrays, say) are written with U+FFFD, not refused.
  return doc.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string export_definitions(const topology_store& topology, bool transient) {
  const auto vhosts = topology.snapshot().first;
  const auto users = topology.users();
  access::user_map by_name;
  for (const auto& u : users) by_name.emplace(u.name, u);
  const auto permissions = topology.permissions();
  const auto retained = topology.retained_definitions();
  return write_definitions(definitions_view{vhosts, by_name, permissions, retained}, false, transient);
}

vhost_metadata metadata_of(const topology_store& topology, std::string_view vhost) {
  vhost_metadata m;
  if (vhost == "/") m.description = "Default virtual host";
  const json retained = parse_retained(topology.retained_definitions());
  const json* listed = member(retained, "vhosts");
  if (listed == nullptr || !listed->is_array()) return m;
  for (const auto& entry : *listed) {
    const json* name = entry.is_object() ? member(entry, "name") : nullptr;
    if (name == nullptr || *name != vhost) continue;
    const json* metadata = member(entry, "metadata");
    if (metadata == nullptr || !metadata->is_object()) break;
    if (const json* d = member(*metadata, "description"); d != nullptr && d->is_string()) m.description = d->get<std::string>();
    if (const json* t = member(*metadata, "tags")) {
      if (t->is_string()) m.tags = access::split_tags(t->get<std::string>());
      if (t->is_array()) {
        for (const auto& tag : *t) {
          if (tag.is_string()) m.tags.push_back(tag.get<std::string>());
        }
      }
    }
  }
  return m;
}

void set_metadata(topology_store& topology, std::string_view vhost, const std::optional<vhost_metadata>& m) {
  json retained = parse_retained(topology.retained_definitions());
  json& listed = retained["vhosts"];
  if (!listed.is_array()) listed = json::array();
  json kept = json::array();
  for (auto& e : listed) {
    if (!(e.is_object() && e.contains("name") && e["name"] == vhost)) kept.push_back(std::move(e));
  }
  listed = std::move(kept);
  if (m) {
    listed.push_back({{"name", vhost}, {"limits", json::array()}, {"metadata", {{"description", m->description}, {"tags", m->tags}}}});
  }
  topology.set_retained_definitions(retained.dump());
}

import_result import_definitions(std::string_view json_text, topology_store& topology, const queue_placement& place) {
  import_result result;
  try {
    const json doc = json::parse(json_text);
    if (!doc.is_object()) fail("the definitions must be a JSON object");
    const topology_store::persistence_batch batch{topology};
    apply(doc, topology, place, result.applied);
  } catch (const json::parse_error& e) {
    result.error = std::string("not valid JSON: ") + e.what();
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace haremq::engine::store
