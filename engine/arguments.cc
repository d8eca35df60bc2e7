#include "engine/arguments.h"

#include "engine/headers_match.h"

#include <array>
#include <charconv>
#include <string>

namespace haremq::engine {
namespace {

constexpr std::array<std::string_view, 18> queue_keys{
    "x-expires",          "x-message-ttl",           "x-dead-letter-exchange", "x-dead-letter-routing-key",
    "x-max-length",       "x-max-length-bytes",      "x-max-in-memory-length", "x-max-in-memory-bytes",
    "x-max-priority",     "x-overflow",              "x-queue-mode",           "x-queue-type",
    "x-queue-master-locator", "x-single-active-consumer", "x-delivery-limit", "x-queue-leader-locator",
    "x-max-age",          "x-stream-max-segment-size-bytes"};
constexpr std::array<std::string_view, 1> exchange_keys{"alternate-exchange"};

// A float as Erlang's ~p prints it: the shortest digits that read back, in fixed notation
// ("100.0") unless scientific is shorter ("1.0e3").
std::string erlang_float(double d) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  if (ec != std::errc{}) return std::to_string(d);
  std::string sci(buf.data(), end);  // "1e+03", "1.5e-04"
  const auto e_at = sci.find('e');
  std::string mantissa = sci.substr(0, e_at);
  const int exponent = std::stoi(sci.substr(e_at + 1));
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  std::string scientific = mantissa + "e" + std::to_string(exponent);
  auto [fend, fec] = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::fixed);
  std::string fixed = fec == std::errc{} ? std::string(buf.data(), fend) : scientific;
  if (fixed.find('.') == std::string::npos) fixed += ".0";
  return scientific.size() < fixed.size() ? scientific : fixed;
}

std::string value_text(const amqp::field_value& v) {
  using amqp::field_type;
  switch (v.type()) {
    case field_type::boolean: return v.as_bool() ? "true" : "false";
    case field_type::long_string:
    case field_type::byte_array: return std::string(v.as_string());
    case field_type::f32: return erlang_float(v.as_f32());
    case field_type::f64: return erlang_float(v.as_f64());
    case field_type::void_value: return "undefined";
    default:
      if (v.is_integer() || v.type() == field_type::timestamp) return std::to_string(v.as_int());
      return "...";
  }
}

// RabbitMQ takes a missing x-queue-type for "classic" (rabbit_misc:assert_field_equivalence):
// a queue declared with it (as the management UI does) matches one declared without.
bool classic_queue_type(const std::optional<amqp::field_value>& v) {
  return !v || (v->type() == amqp::field_type::long_string && v->as_string() == "classic");
}

std::string described(const std::optional<amqp::field_value>& v) {
  if (!v) return "none";
  return "the value '" + value_text(*v) + "' of type '" + std::string(rabbit_type_name(v->type())) + "'";
}

}  // namespace

std::span<const std::string_view> queue_equivalence_keys() noexcept { return queue_keys; }
std::span<const std::string_view> exchange_equivalence_keys() noexcept { return exchange_keys; }

std::string_view rabbit_type_name(amqp::field_type t) noexcept {
  using amqp::field_type;
  switch (t) {
    case field_type::boolean: return "bool";
    case field_type::i8: return "byte";
    case field_type::u8: return "unsignedbyte";
    case field_type::i16: return "short";
    case field_type::u16: return "unsignedshort";
    case field_type::i32: return "signedint";
    case field_type::u32: return "unsignedint";
    case field_type::i64: return "long";
    case field_type::f32: return "float";
    case field_type::f64: return "double";
    case field_type::decimal: return "decimal";
    case field_type::long_string: return "longstr";
    case field_type::byte_array: return "binary";
    case field_type::array: return "array";
    case field_type::timestamp: return "timestamp";
    case field_type::table: return "table";
    case field_type::void_value: return "void";
  }
  return "unknown";
}

std::optional<reply_error> compare_arguments(std::string_view what, std::string_view name, std::string_view vhost,
                                             std::span<const std::string_view> keys, const amqp::field_table& current,
                                             const amqp::field_table& received) {
  for (const std::string_view key : keys) {
    const auto was = current.find(key);
    const auto now = received.find(key);
    if (!was && !now) continue;
    if (key == "x-queue-type" && classic_queue_type(was) && classic_queue_type(now)) continue;
    std::string received_text, current_text;
    if (was && now) {
      // Integers of any width, and timestamps, compare by value, as RabbitMQ does.
      auto numeric = [](const amqp::field_value& v) { return v.is_integer() || v.type() == amqp::field_type::timestamp; };
      const bool comparable = was->type() == now->type() || (numeric(*was) && numeric(*now));
      if (comparable && (numeric(*was) ? was->as_int() == now->as_int() : *was == *now)) continue;
      // Both present: RabbitMQ names the two values alone, whatever their types.
      // A void value reads as no value at all.
      auto named = [](const amqp::field_value& v) {
        return v.type() == amqp::field_type::void_value ? std::string("none") : "'" + value_text(v) + "'";
      };
      received_text = named(*now);
      current_text = named(*was);
    } else {
      received_text = described(now);
      current_text = described(was);
    }
    return reply_error{amqp::reply_code::precondition_failed,
                       "PRECONDITION_FAILED - inequivalent arg '" + std::string(key) + "' for " + std::string(what) +
                           " '" + std::string(name) + "' in vhost '" + std::string(vhost) + "': received " +
                           received_text + " but current is " + current_text};
  }
  return std::nullopt;
}

std::vector<std::byte> canonical_arguments(const amqp::field_table& arguments) {
  if (arguments.empty()) return {};
  std::vector<amqp::field_entry> entries;
  sort_entries(arguments, entries);
  // Integers are widened to long: a definitions file (JSON) keeps no integer width, so a binding
  // read back from one must still be the one a client names with, say, a signed int.
  std::vector<std::byte> out(arguments.bytes().size() + 4 + 7 * entries.size());
  amqp::byte_writer w{out};
  amqp::table_writer t{w};
  for (const auto& e : entries) {
    t.add(e.name, e.value.is_integer() ? amqp::field_value::i64(e.value.as_int()) : e.value);
  }
  const auto content = t.finish();
  return {content.begin(), content.end()};
}

std::optional<reply_error> check_x_match(const amqp::field_table& arguments) {
  if (parse_x_match(arguments)) return std::nullopt;
  const auto mode = arguments.find("x-match");
  std::string text = "PRECONDITION_FAILED - ";
  if (mode && mode->type() == amqp::field_type::long_string) {
    text += "Invalid x-match field value <<\"" + std::string(mode->as_string()) +
            "\">>; expected all, any, all-with-x, or any-with-x";
  } else if (mode) {
    text += "Invalid x-match field type " + std::string(rabbit_type_name(mode->type())) + " (value " +
            value_text(*mode) + "); expected longstr";
  } else {
    text += "Invalid x-match field";
  }
  return reply_error{amqp::reply_code::precondition_failed, std::move(text)};
}

}  // namespace haremq::engine
