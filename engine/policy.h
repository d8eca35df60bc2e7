#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <variant>

#include "engine/queue_limits.h"

// Policies: per vhost, a name pattern, what it applies to, a priority and a definition (JSON
// object) whose keys set queue limits or an exchange's alternate exchange, as RabbitMQ's
// policies do. Of the policies whose pattern matches a name (searched, as RabbitMQ's re:run
// does), the one with the highest priority applies.
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

// Builds a policy from its parts; RabbitMQ's validation text when the pattern does not compile,
// apply-to is unknown, or a key of the definition is unknown or has a value of the wrong kind.
std::variant<policy_record, std::string> make_policy(std::string name, std::string pattern, std::string_view apply_to,
                                                     std::int64_t priority, std::string_view definition_json);

}  // namespace haremq::engine
