#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "engine/queue_limits.h"

// Policies: per vhost, a name pattern, what it applies to, a priority and a definition (JSON
// object) whose keys set queue limits or an exchange's alternate exchange, as RabbitMQ's
// policies do. Of the policies whose pattern matches a name (searched, as RabbitMQ's re:run
// does), the one with the highest priority applies.
// Plain values and free functions; a policy_record is immutable once made, so copies may be
// read from any thread.
namespace haremq::engine {

enum class policy_target : std::uint8_t { queues, exchanges, all };
std::string_view policy_target_name(policy_target t) noexcept;
std::optional<policy_target> parse_policy_target(std::string_view name) noexcept;

struct policy_record {
  std::string name;
  std::string pattern;
  policy_target apply_to = policy_target::all;
  std::int64_t priority = 0;
  std::string definition;  // the JSON object, as given
  policy_keys keys;        // what it sets, parsed from the definition
  std::shared_ptr<const std::regex> compiled;

  bool applies_to(bool is_queue, std::string_view resource) const;
};

// Builds a policy from its parts. On a problem, RabbitMQ's validation text: "Validation
// failed\n\n", one line per problem (the definition's, then apply-to's, then the pattern's),
// and "\n". The definition is checked key by key as RabbitMQ 3.10 checks it (without plugins):
// the keys of features HareMQ does not have (mirroring, queue modes, streams...) are accepted
// when RabbitMQ would accept them, and change nothing.
std::variant<policy_record, std::string> make_policy(std::string name, std::string pattern, std::string_view apply_to,
                                                     std::int64_t priority, std::string_view definition_json);

// The same from a policy's JSON fields, as RabbitMQ takes them in PUT /api/policies/{vhost}/{name}
// and in a definitions file: "pattern" and "definition" (an object), "apply-to" (default
// "all") and "priority" (default 0). Every field is checked, in RabbitMQ's order, so the text
// lists each problem as RabbitMQ's would. Other fields are ignored.
std::variant<policy_record, std::string> policy_from_json(std::string name, const nlohmann::json& fields);

// A policy as RabbitMQ writes it in its API and definitions: vhost, name, pattern, apply-to,
// definition (an object) and priority.
nlohmann::json policy_to_json(std::string_view vhost, const policy_record& p);

}  // namespace haremq::engine
