#include "engine/policy.h"

#include <nlohmann/json.hpp>

namespace haremq::engine {
namespace {

using json = nlohmann::json;

// RabbitMQ's wording for a definition key whose value is of the wrong kind.
std::string should_be(std::string_view key, std::string_view what) {
  return "<<\"" + std::string(key) + "\">> " + std::string(what);
}

std::optional<std::string> read_key(const std::string& key, const json& value, policy_keys& k) {
  auto non_negative = [&](std::optional<std::int64_t>& into) -> std::optional<std::string> {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
      return should_be(key, "should be a number greater than or equal to 0");
    }
    into = value.get<std::int64_t>();
    return std::nullopt;
  };
  auto text = [&](std::optional<std::string>& into) -> std::optional<std::string> {
    if (!value.is_string()) return should_be(key, "should be a string");
    into = value.get<std::string>();
    return std::nullopt;
  };
  if (key == "message-ttl") return non_negative(k.message_ttl);
  if (key == "expires") {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1) return should_be(key, "should be a number greater than or equal to 1");
    k.expires = value.get<std::int64_t>();
    return std::nullopt;
  }
  if (key == "max-length") return non_negative(k.max_length);
  if (key == "max-length-bytes") return non_negative(k.max_length_bytes);
  if (key == "delivery-limit") return non_negative(k.delivery_limit);
  if (key == "consumer-timeout") return non_negative(k.consumer_timeout);
  if (key == "dead-letter-exchange") return text(k.dead_letter_exchange);
  if (key == "dead-letter-routing-key") return text(k.dead_letter_routing_key);
  if (key == "alternate-exchange") return text(k.alternate_exchange);
  if (key == "overflow") {
    const auto mode = value.is_string() ? parse_overflow(value.get<std::string>()) : std::nullopt;
    if (!mode) return should_be(key, "should be one of drop-head, reject-publish, reject-publish-dlx, block-publishers");
    k.overflow = mode;
    return std::nullopt;
  }
  // Keys of features HareMQ has no use for (mirroring, queue modes, ...) are accepted and kept
  // in the definition, so that RabbitMQ's definitions load; they change nothing here.
  static constexpr std::string_view accepted[] = {"queue-mode", "ha-mode", "ha-params", "ha-sync-mode",
                                                  "ha-promote-on-shutdown", "ha-promote-on-failure", "queue-master-locator",
                                                  "max-in-memory-length", "max-in-memory-bytes", "federation-upstream",
                                                  "federation-upstream-set", "max-age", "queue-leader-locator",
                                                  "initial-cluster-size", "stream-max-segment-size-bytes"};
  for (const auto a : accepted) {
    if (key == a) return std::nullopt;
  }
  return "Unrecognised terms [{<<\"" + key + "\">>," + value.dump() + "}] in policy";
}

}  // namespace

std::string_view policy_target_name(policy_target t) noexcept {
  switch (t) {
    case policy_target::queues: return "queues";
    case policy_target::exchanges: return "exchanges";
    case policy_target::all: return "all";
  }
  return "all";
}

std::optional<policy_target> parse_policy_target(std::string_view name) noexcept {
  for (const auto t : {policy_target::queues, policy_target::exchanges, policy_target::all}) {
    if (policy_target_name(t) == name) return t;
  }
  return std::nullopt;
}

bool policy_record::applies_to(bool is_queue, std::string_view resource) const {
  if (apply_to == (is_queue ? policy_target::exchanges : policy_target::queues)) return false;
  if (!compiled) return false;
  return std::regex_search(resource.begin(), resource.end(), *compiled);
}

std::variant<policy_record, std::string> make_policy(std::string name, std::string pattern, std::string_view apply_to,
                                                     std::int64_t priority, std::string_view definition_json) {
  policy_record p;
  const auto target = parse_policy_target(apply_to);
  if (!target) return "<<\"" + std::string(apply_to) + "\">> was not one of [<<\"queues\">>,<<\"exchanges\">>,<<\"all\">>]";
  try {
    p.compiled = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return "<<\"" + pattern + "\">> is not a valid regular expression";
  }
  const json definition = json::parse(definition_json, nullptr, false);
  if (!definition.is_object()) return std::string("\"definition\" must be a JSON object");
  if (definition.empty()) return std::string("Validation failed\n\nno policy provided");
  for (const auto& [key, value] : definition.items()) {
    if (auto e = read_key(key, value, p.keys)) return "Validation failed\n\n" + *e + "\n";
  }
  p.name = std::move(name);
  p.pattern = std::move(pattern);
  p.apply_to = *target;
  p.priority = priority;
  p.definition = definition.dump();
  return p;
}

}  // namespace haremq::engine
