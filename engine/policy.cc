#include "engine/policy.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace haremq::engine {
namespace {

using json = nlohmann::json;

// --- Erlang's ~p, for the values RabbitMQ quotes in its texts ---

std::string erlang_float(double d) {
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // The shortest digits that read back as `d`, and where the point goes: d = 0.DIGITS × 10^place.
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, std::abs(d), std::chars_format::scientific).ptr;
  const std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  const auto e = text.find('e');
  std::string digits;
  for (const char c : text.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  const auto exp_text = text.substr(e + 1);
  std::from_chars(exp_text.data() + (exp_text.front() == '+' ? 1 : 0), exp_text.data() + exp_text.size(), exponent);
  const int place = exponent + 1;
  const int n = static_cast<int>(digits.size());
  std::string fixed;
  if (place <= 0) {
    fixed = "0." + std::string(static_cast<std::size_t>(-place), '0') + digits;
  } else if (place < n) {
    fixed = digits.substr(0, static_cast<std::size_t>(place)) + "." + digits.substr(static_cast<std::size_t>(place));
  } else {
    fixed = digits + std::string(static_cast<std::size_t>(place - n), '0') + ".0";
  }
  const std::string scientific =
      digits.substr(0, 1) + "." + (n > 1 ? digits.substr(1) : "0") + "e" + std::to_string(exponent);
  // Erlang writes whichever is shorter, the plain form on a tie (100.0, 1.0e3).
  return (d < 0 ? "-" : "") + (scientific.size() < fixed.size() ? scientific : fixed);
}

// Erlang prints a binary as text when it is, its bytes as numbers otherwise.
std::string erlang_binary(const std::string& s) {
  const bool text = std::all_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0x20 || c == '\n' || c == '\t' || c == '\r';
  });
  std::string out = "<<";
  if (text) {
    out += '"';
    for (const char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        out += c;
      }
    }
    out += '"';
  } else {
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i != 0) out += ',';
      out += std::to_string(static_cast<unsigned char>(s[i]));
    }
  }
  return out + ">>";
}

// A JSON value as Erlang's ~p prints the term RabbitMQ decodes it into (<<"text">>, 1.0e3,
// [1,2], #{<<"k">> => v}, null), on one line: RabbitMQ's texts quote values this way.
std::string erlang_term(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(v.get<std::int64_t>());
    case json::value_t::number_unsigned: return std::to_string(v.get<std::uint64_t>());
    case json::value_t::number_float: return erlang_float(v.get<double>());
    case json::value_t::string: return erlang_binary(v.get_ref<const std::string&>());
    case json::value_t::array: {
      // A list of character codes is a string to ~p.
      const bool chars = !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) {
        return x.is_number_integer() && x.get<std::int64_t>() >= 32 && x.get<std::int64_t>() < 127;
      });
      if (chars) {
        std::string s;
        for (const auto& x : v) s += static_cast<char>(x.get<std::int64_t>());
        return json(s).dump();
      }
      std::string out = "[";
      for (const auto& x : v) out += (out.size() > 1 ? "," : "") + erlang_term(x);
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "#{";
      for (const auto& [key, x] : v.items()) out += (out.size() > 2 ? "," : "") + erlang_binary(key) + " => " + erlang_term(x);
      return out + "}";
    }
    default: return "undefined";
  }
}

// --- the pattern: PCRE's reason and offset for one it refuses ---

struct pattern_problem {
  std::string reason;
  std::size_t offset;
};

constexpr long long pcre_max_repeat = 65535;

// A "{m}", "{m,}" or "{m,n}" quantifier at p[open]: the offset of its '}' and its bounds (a huge
// one saturates), or nullopt when the brace is a literal '{' (as PCRE takes "{", "{x}", "{,2}").
struct braces {
  std::size_t close;
  long long low;
  std::optional<long long> high;
};
std::optional<braces> quantifier_at(std::string_view p, std::size_t open) {
  const auto close = p.find('}', open);
  if (close == std::string_view::npos) return std::nullopt;
  const auto inside = p.substr(open + 1, close - open - 1);
  const auto comma = inside.find(',');
  const auto number = [](std::string_view digits) -> std::optional<long long> {
    if (digits.empty()) return std::nullopt;
    long long v = 0;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (r.ptr != digits.data() + digits.size()) return std::nullopt;
    if (r.ec == std::errc::result_out_of_range) return std::numeric_limits<long long>::max();
    return r.ec == std::errc{} ? std::optional(v) : std::nullopt;
  };
  const auto low = number(inside.substr(0, comma));
  if (!low) return std::nullopt;
  if (comma == std::string_view::npos) return braces{close, *low, low};
  const auto rest = inside.substr(comma + 1);
  if (rest.empty()) return braces{close, *low, std::nullopt};
  const auto high = number(rest);
  if (!high) return std::nullopt;
  return braces{close, *low, high};
}

constexpr std::array<std::string_view, 14> posix_classes{"alpha", "lower", "upper", "alnum", "ascii", "blank", "cntrl",
                                                         "digit", "graph", "print", "punct", "space", "word", "xdigit"};

// A character class from p[open] ('['): the offset just past its ']', or the problem in it.
std::variant<std::size_t, pattern_problem> class_at(std::string_view p, std::size_t open) {
  std::size_t i = open + 1;
  if (i < p.size() && p[i] == '^') ++i;
  if (i < p.size() && p[i] == ']') ++i;  // a leading ']' is a member
  int previous = -1;  // the last single member (a range's possible start); -1: none
  while (i < p.size() && p[i] != ']') {
    if (p.substr(i, 2) == "[:") {
      const auto end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        const auto name = p.substr(i + 2, end - i - 2);
        if (std::find(posix_classes.begin(), posix_classes.end(), name) == posix_classes.end()) {
          return pattern_problem{"unknown POSIX class name", i + 2};
        }
        i = end + 2;
        previous = -1;
        continue;
      }
    }
    if (p[i] == '-' && previous >= 0 && i + 1 < p.size() && p[i + 1] != ']') {
      if (p[i + 1] != '\\' && static_cast<unsigned char>(p[i + 1]) < previous) {
        return pattern_problem{"range out of order in character class", i + 1};
      }
      i += p[i + 1] == '\\' ? 3 : 2;
      previous = -1;
      continue;
    }
    if (p[i] == '\\') {
      if (i + 1 >= p.size()) return pattern_problem{"\\ at end of pattern", p.size()};
      previous = static_cast<unsigned char>(p[i + 1]);
      i += 2;
      continue;
    }
    previous = static_cast<unsigned char>(p[i]);
    ++i;
  }
  if (i >= p.size()) return pattern_problem{"missing terminating ] for character class", p.size()};
  return i + 1;
}

// The first problem PCRE finds in the pattern, scanning as it compiles: the errors people
// make in policy patterns (parentheses, classes, quantifiers, braces, group names).
std::optional<pattern_problem> pcre_problem(std::string_view p) {
  std::size_t open_groups = 0;
  bool repeatable = false;        // an atom precedes: a quantifier may follow
  bool after_quantifier = false;  // a '?' or '+' now makes it lazy or possessive
  for (std::size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '*' || c == '+' || c == '?' || (c == '{' && quantifier_at(p, i))) {
      if (after_quantifier && (c == '?' || c == '+')) {
        after_quantifier = false;
        ++i;
        continue;
      }
      if (!repeatable) return pattern_problem{"nothing to repeat", i};
      std::size_t next = i + 1;
      if (c == '{') {
        const auto q = *quantifier_at(p, i);
        if (q.low > pcre_max_repeat || (q.high && *q.high > pcre_max_repeat)) {
          return pattern_problem{"number too big in {} quantifier", q.close};
        }
        if (q.high && *q.high < q.low) return pattern_problem{"numbers out of order in {} quantifier", q.close};
        next = q.close + 1;
      }
      repeatable = false;
      after_quantifier = true;
      i = next;
      continue;
    }
    after_quantifier = false;
    if (c == '\\') {
      if (i + 1 >= p.size()) return pattern_problem{"\\ at end of pattern", p.size()};
      repeatable = true;
      i += 2;
    } else if (c == '[') {
      auto end = class_at(p, i);
      if (auto* problem = std::get_if<pattern_problem>(&end)) return *problem;
      repeatable = true;
      i = std::get<std::size_t>(end);
    } else if (c == '(') {
      ++open_groups;
      repeatable = false;
      ++i;
      if (i < p.size() && p[i] == '?') {
        ++i;
        // A named group's name must end in '>': "(?<name>" or "(?P<name>".
        const bool named = p.substr(i, 1) == "<" && p.substr(i + 1, 1) != "=" && p.substr(i + 1, 1) != "!";
        if (named || p.substr(i, 2) == "P<") {
          const auto close = p.find('>', i);
          if (close == std::string_view::npos) {
            return pattern_problem{"syntax error in subpattern name (missing terminator)", p.size()};
          }
          i = close + 1;
        }
      }
    } else if (c == ')') {
      if (open_groups == 0) return pattern_problem{"unmatched parentheses", i};
      --open_groups;
      repeatable = true;
      ++i;
    } else {
      repeatable = c != '|' && c != '^';
      ++i;
    }
  }
  if (open_groups != 0) return pattern_problem{"missing )", p.size()};
  return std::nullopt;
}

// RabbitMQ's text for a pattern re:compile refuses: the {Reason, Offset} tuple as ~p prints it,
// broken after the comma when it would pass column 78.
std::string invalid_pattern(const pattern_problem& problem) {
  const std::string prefix = "pattern should be regular expression but is invalid: ";
  const std::string head = "{" + json(problem.reason).dump() + ",";
  const std::string tail = std::to_string(problem.offset) + "}";
  if (prefix.size() + head.size() + tail.size() <= 78) return prefix + head + tail;
  return prefix + head + "\n" + std::string(prefix.size() + 1, ' ') + tail;
}

// The compiled pattern, or RabbitMQ's text for why it is refused. A pattern PCRE takes but
// std::regex's ECMAScript grammar does not ("(?i)", lookbehind) is refused with std::regex's
// reason, at the pattern's end.
std::variant<std::shared_ptr<const std::regex>, std::string> compile_pattern(const std::string& pattern) {
  if (auto problem = pcre_problem(pattern)) return invalid_pattern(*problem);
  try {
    return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return invalid_pattern({e.what(), pattern.size()});
  }
}

// --- the definition's keys ---

using problem = std::optional<std::string>;

bool is_integer(const json& v) { return v.is_number_integer(); }
// An integer, saturated to int64 (JSON's non-negative integers are unsigned in nlohmann).
std::int64_t integer_of(const json& v) {
  if (v.is_number_unsigned()) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(v.get<std::uint64_t>(), std::numeric_limits<std::int64_t>::max()));
  }
  return v.get<std::int64_t>();
}
bool at_least(const json& v, std::int64_t low) { return is_integer(v) && integer_of(v) >= low; }
bool one_of(const json& v, std::initializer_list<std::string_view> names) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return std::find(names.begin(), names.end(), s) != names.end();
}

problem unless(bool ok, const json& v, std::string_view what) {
  if (ok) return std::nullopt;
  return erlang_term(v) + " " + std::string(what);
}

bool valid_max_age(const json& v) {
  if (!v.is_string()) return false;
  static const std::regex form("^[0-9]+[YMDhms]$");
  return std::regex_match(v.get_ref<const std::string&>(), form);
}

// rabbit_policies' keys, each with its check and RabbitMQ's words for a bad value.
problem check_core_key(const std::string& key, const json& v) {
  if (key == "alternate-exchange") return unless(v.is_string(), v, "is not a valid alternate exchange name");
  if (key == "dead-letter-exchange") return unless(v.is_string(), v, "is not a valid dead letter exchange name");
  if (key == "dead-letter-routing-key") return unless(v.is_string(), v, "is not a valid dead letter routing key");
  if (key == "delivery-limit") return unless(at_least(v, 0), v, "is not a valid delivery limit");
  if (key == "expires") return unless(at_least(v, 1), v, "is not a valid queue expiry");
  if (key == "initial-cluster-size") return unless(at_least(v, 0), v, "is not a valid cluster size");
  if (key == "max-age") return unless(valid_max_age(v), v, "is not a valid max age");
  if (key == "max-in-memory-bytes" || key == "max-in-memory-length") {
    return unless(at_least(v, 0), v, "is not a valid maximum memory in bytes");
  }
  if (key == "max-length") return unless(at_least(v, 0), v, "is not a valid maximum length");
  if (key == "max-length-bytes") return unless(at_least(v, 0), v, "is not a valid maximum length in bytes");
  if (key == "message-ttl") return unless(at_least(v, 0), v, "is not a valid message TTL");
  // block-publishers is an argument's only: RabbitMQ's policies refuse it.
  if (key == "overflow") {
    return unless(one_of(v, {"drop-head", "reject-publish", "reject-publish-dlx"}), v, "is not a valid overflow value");
  }
  if (key == "queue-leader-locator") {
    return unless(one_of(v, {"client-local", "balanced", "random", "least-leaders"}), v,
                  "is not a valid queue leader locator value");
  }
  if (key == "queue-mode") return unless(one_of(v, {"default", "lazy"}), v, "is not a valid queue-mode value");
  if (key == "queue-version") {
    return unless(is_integer(v) && (integer_of(v) == 1 || integer_of(v) == 2), v,
                  "is not a valid queue-version value");
  }
  if (key == "stream-max-segment-size-bytes") return unless(at_least(v, 0), v, "is not a valid segment size");
  return std::nullopt;
}

constexpr std::array<std::string_view, 17> core_keys{
    "alternate-exchange", "dead-letter-exchange", "dead-letter-routing-key", "delivery-limit", "expires",
    "initial-cluster-size", "max-age", "max-in-memory-bytes", "max-in-memory-length", "max-length",
    "max-length-bytes", "message-ttl", "overflow", "queue-leader-locator", "queue-mode", "queue-version",
    "stream-max-segment-size-bytes"};
constexpr std::array<std::string_view, 6> mirroring_keys{"ha-mode", "ha-params", "ha-sync-mode", "ha-sync-batch-size",
                                                         "ha-promote-on-shutdown", "ha-promote-on-failure"};

template <std::size_t N>
bool among(const std::array<std::string_view, N>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Classic mirroring's keys, checked together as rabbit_mirror_queue_misc checks them.
problem check_mirroring(const json& d) {
  const auto get = [&](const char* key) -> const json* { return d.contains(key) ? &d.at(key) : nullptr; };
  const json* mode = get("ha-mode");
  const json* params = get("ha-params");
  if (mode == nullptr) {
    for (const auto key : mirroring_keys) {
      if (d.contains(key)) {
        return std::string("ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown");
      }
    }
    return std::nullopt;
  }
  if (one_of(*mode, {"all"})) {
    if (params != nullptr) return std::string("ha-mode=\"all\" does not take parameters");
  } else if (one_of(*mode, {"exactly"})) {
    if (params == nullptr) return std::string("ha-mode=\"exactly\" takes an integer, none given");
    if (!at_least(*params, 1)) return "ha-mode=\"exactly\" takes an integer, " + erlang_term(*params) + " given";
  } else if (one_of(*mode, {"nodes"})) {
    if (params == nullptr) return std::string("ha-mode=\"nodes\" takes a list, none given");
    if (!params->is_array()) return "ha-mode=\"nodes\" takes a list, " + erlang_term(*params) + " given";
    if (params->empty()) return std::string("ha-mode=\"nodes\" list must be non-empty");
    for (const auto& node : *params) {
      if (!node.is_string()) return "ha-mode=\"nodes\" takes a list of strings, " + erlang_term(*params) + " given";
    }
  } else {
    return erlang_term(*mode) + " is not a valid ha-mode value";
  }
  if (const json* v = get("ha-sync-mode"); v && !one_of(*v, {"manual", "automatic"})) {
    return "ha-sync-mode must be \"manual\" or \"automatic\", got " + erlang_term(*v);
  }
  if (const json* v = get("ha-sync-batch-size"); v && !at_least(*v, 1)) {
    return "ha-sync-batch-size takes an integer greater than 0, " + erlang_term(*v) + " given";
  }
  for (const char* key : {"ha-promote-on-shutdown", "ha-promote-on-failure"}) {
    if (const json* v = get(key); v && !one_of(*v, {"always", "when-synced"})) {
      return std::string(key) + " must be \"always\" or \"when-synced\", got " + erlang_term(*v);
    }
  }
  return std::nullopt;
}

// The definition's one problem, as RabbitMQ finds it: its validators in turn (the master
// locator's, rabbit_policies', mirroring's), each reporting its first bad key in key order; then
// every key no validator knows.
problem check_definition(const json& d) {
  if (const auto it = d.find("queue-master-locator"); it != d.end()) {
    if (!one_of(*it, {"min-masters", "client-local", "random"})) {
      return erlang_term(*it) + " invalid queue-master-locator value";
    }
  }
  for (const auto& [key, value] : d.items()) {
    if (auto p = check_core_key(key, value)) return p;
  }
  if (auto p = check_mirroring(d)) return p;
  std::string unknown;
  for (const auto& [key, value] : d.items()) {
    if (key == "queue-master-locator" || among(core_keys, key) || among(mirroring_keys, key)) continue;
    unknown += (unknown.empty() ? "" : ",") + std::string("{") + erlang_binary(key) + "," + erlang_term(value) + "}";
  }
  if (!unknown.empty()) return "[" + unknown + "] are not recognised policy settings";
  return std::nullopt;
}

// What a valid definition asks of queues and exchanges.
policy_keys keys_of(const json& d) {
  policy_keys k;
  const auto number = [&](const char* key, std::optional<std::int64_t>& into) {
    if (const auto it = d.find(key); it != d.end()) into = integer_of(*it);
  };
  const auto text = [&](const char* key, std::optional<std::string>& into) {
    if (const auto it = d.find(key); it != d.end()) into = it->get<std::string>();
  };
  number("message-ttl", k.message_ttl);
  number("expires", k.expires);
  number("max-length", k.max_length);
  number("max-length-bytes", k.max_length_bytes);
  number("delivery-limit", k.delivery_limit);
  text("dead-letter-exchange", k.dead_letter_exchange);
  text("dead-letter-routing-key", k.dead_letter_routing_key);
  text("alternate-exchange", k.alternate_exchange);
  if (const auto it = d.find("overflow"); it != d.end()) k.overflow = parse_overflow(it->get<std::string>());
  return k;
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

std::variant<policy_record, std::string> policy_from_json(std::string name, const json& fields) {
  policy_record p;
  // RabbitMQ checks priority, pattern, apply-to and definition in that order and lists the
  // problems the other way round.
  std::vector<std::string> problems;

  if (const auto it = fields.find("priority"); it != fields.end()) {
    if (it->is_number_integer()) {
      p.priority = integer_of(*it);
    } else if (it->is_number_float() && std::trunc(it->get<double>()) == it->get<double>() &&
               std::abs(it->get<double>()) < 9e18) {
      p.priority = static_cast<std::int64_t>(it->get<double>());
    } else if (it->is_number_float()) {
      // RabbitMQ keeps 1.5; HareMQ's priorities are integers.
      problems.push_back("priority should be an integer, actually was " + erlang_term(*it));
    } else {
      problems.push_back("priority should be a number, actually was " + erlang_term(*it));
    }
  }

  if (const auto it = fields.find("pattern"); it == fields.end()) {
    problems.emplace_back("pattern should be a binary but was undefined");
  } else if (!it->is_string()) {
    problems.push_back("pattern should be a binary but was " + erlang_term(*it));
  } else {
    p.pattern = it->get<std::string>();
    auto compiled = compile_pattern(p.pattern);
    if (auto* why = std::get_if<std::string>(&compiled)) {
      problems.push_back(std::move(*why));
    } else {
      p.compiled = std::get<std::shared_ptr<const std::regex>>(std::move(compiled));
    }
  }

  if (const auto it = fields.find("apply-to"); it != fields.end()) {
    const std::string given = it->is_string() ? it->get<std::string>() : it->dump();
    if (const auto target = parse_policy_target(given); target && it->is_string()) {
      p.apply_to = *target;
    } else {
      problems.push_back("apply-to '" + given + "' unrecognised; should be 'queues', 'exchanges' or 'all'");
    }
  }

  if (const auto it = fields.find("definition"); it == fields.end()) {
    problems.emplace_back("parse error while reading policy definition: undefined. Validator: policy_validator.");
  } else if (!it->is_object()) {
    problems.push_back("definition must be a dictionary: " + erlang_term(*it));
  } else if (it->empty()) {
    problems.emplace_back("no policy provided");
  } else if (auto bad = check_definition(*it)) {
    problems.push_back(std::move(*bad));
  } else {
    p.keys = keys_of(*it);
    p.definition = it->dump();
  }

  if (!problems.empty()) {
    std::string text = "Validation failed\n\n";
    for (auto it = problems.rbegin(); it != problems.rend(); ++it) text += *it + "\n";
    return text;
  }
  p.name = std::move(name);
  return p;
}

std::variant<policy_record, std::string> make_policy(std::string name, std::string pattern, std::string_view apply_to,
                                                     std::int64_t priority, std::string_view definition_json) {
  const json definition = json::parse(definition_json, nullptr, false);
  // rabbitmqctl's words for a definition that is not JSON.
  if (definition.is_discarded()) return std::string("JSON decoding error. Reason: badarg");
  const json fields{{"pattern", std::move(pattern)},
                    {"apply-to", std::string(apply_to)},
                    {"priority", priority},
                    {"definition", definition}};
  return policy_from_json(std::move(name), fields);
}

json policy_to_json(std::string_view vhost, const policy_record& p) {
  return json{{"vhost", std::string(vhost)},
              {"name", p.name},
              {"pattern", p.pattern},
              {"apply-to", std::string(policy_target_name(p.apply_to))},
              {"definition", json::parse(p.definition, nullptr, false)},
              {"priority", p.priority}};
}

}  // namespace haremq::engine
