#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/ids.h"
#include "engine/topology.h"
#include "net/amqp/field_table.h"

// RabbitMQ's definitions JSON (what `rabbitmqctl export_definitions` and the management
// API's /api/definitions write and read) for the durable part of the topology: vhosts,
// users and permissions, policies, durable exchanges, durable queues and the bindings between
// them. Topic permissions, parameters and vhost metadata are carried through unread
// (topology_store::retained_definitions).
// Free functions; thread-safe as the topology_store they are given is.
namespace haremq::engine::store {

// A field table as RabbitMQ writes it into JSON: every integer type and timestamps as
// integers, floats and decimals as numbers, strings and byte arrays as strings, tables as
// objects, arrays as arrays, void as null. Containers nested deeper than 64 levels come out
// as null (JSON writers recurse; such arguments are no real client's).
nlohmann::json arguments_to_json(const amqp::field_table& table);

// A JSON object as a field table's bytes, by RabbitMQ's rules for definitions: integers are
// longs ('l'), other numbers doubles ('d'), strings long strings ('S'), booleans 't',
// objects tables ('F'), arrays 'A', and null void ('V', which RabbitMQ itself refuses).
// Otherwise the reason the JSON cannot be a field table.
using table_bytes = std::variant<std::vector<std::byte>, std::string>;
[[nodiscard]] table_bytes arguments_from_json(const nlohmann::json& object);

// The definitions document for the store's view (its `retained` sections a JSON object's text;
// empty for none): RabbitMQ 3.10's top-level keys, the durable entities only, the default
// and amq.* exchanges left out as RabbitMQ leaves them out.
// `incarnations`: with each durable queue's incarnation (the data directory's own file).
// `transient`: non-durable exchanges and queues too (not exclusive ones), as the management
// API's export lists them; the data directory's file keeps only what outlives a restart.
std::string write_definitions(const definitions_view& definitions, bool incarnations, bool transient = false);
std::string export_definitions(const topology_store& topology, bool transient = false);

// A vhost's description and tags, kept in the definitions' "vhosts" entries (RabbitMQ's metadata).
struct vhost_metadata {
  std::string description;
  std::vector<std::string> tags;
};
vhost_metadata metadata_of(const topology_store& topology, std::string_view vhost);
// Sets a vhost's metadata; nullopt forgets it (the vhost was deleted).
void set_metadata(topology_store& topology, std::string_view vhost, const std::optional<vhost_metadata>& m);

struct import_counts {
  std::size_t vhosts = 0;
  std::size_t exchanges = 0;
  std::size_t queues = 0;
  std::size_t bindings = 0;
  std::size_t users = 0;
  std::size_t permissions = 0;
  std::size_t policies = 0;
};

struct import_result {
  import_counts applied;  // entries created or found equivalent, skipped ones not counted
  std::string error;      // empty on success; otherwise the failing entry and why
  bool ok() const noexcept { return error.empty(); }
};

// Picks the worker that owns a queue the import creates (called for every queue entry).
using queue_placement = std::function<worker_id()>;

// Applies a definitions document to `topology`, additively as RabbitMQ does: vhosts first,
// then users, permissions, policies (one of the same name is replaced; an invalid one fails
// the import with RabbitMQ's validation text), exchanges, queues and bindings, each through
// the store's own declare and bind, so an existing entity must be equivalent. Entries before
// a failing one stay applied (as in RabbitMQ); the hook is called once at the end. Queues and
// exchanges named amq.* are skipped with a warning, as RabbitMQ skips them. A missing
// "durable" means durable; a missing "auto_delete" or "internal" means false. Never throws.
// Queue objects that already run on their workers must take a changed policy's limits
// afterwards (shard::reapply_policies).
[[nodiscard]] import_result import_definitions(std::string_view json_text, topology_store& topology,
                                               const queue_placement& place);

}  // namespace haremq::engine::store
