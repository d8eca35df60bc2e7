#include "tests/support/tshark_render.h"

#include <cctype>
#include <ctime>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"

namespace haremq::test {
namespace {

using namespace haremq::amqp;

std::string hex(bytes_view b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte x : b) {
    out += digits[std::to_integer<unsigned>(x) >> 4];
    out += digits[std::to_integer<unsigned>(x) & 15];
  }
  return out;
}

// "a-b" -> "A-B" (tshark's method names), "routing_key" -> "Routing-Key" (its field labels).
std::string title_case(std::string_view words, char separator) {
  std::string out;
  bool start = true;
  for (char c : words) {
    if (c == separator) {
      out += '-';
      start = true;
    } else {
      out += start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      start = false;
    }
  }
  return out;
}

std::string label_of(std::string_view field) {
  if (field == "no_wait") return "Nowait";  // tshark's spelling
  return title_case(field, '_');
}

std::string class_label(std::uint16_t class_id) {
  switch (class_id) {
    case 10: return "Connection";
    case 20: return "Channel";
    case 40: return "Exchange";
    case 50: return "Queue";
    case 60: return "Basic";
    case 85: return "Confirm";
    case 90: return "Tx";
    default: return "Unknown";
  }
}

std::string type_label(field_type t) {
  switch (t) {
    case field_type::long_string: return "string";
    case field_type::i32: return "integer";
    case field_type::boolean: return "boolean";
    case field_type::table: return "field table";
    case field_type::array: return "array";
    default: return std::string("type ") + static_cast<char>(t);
  }
}

void render_value(std::vector<tshark_line>& out, int indent, const std::string& key, const field_value& v);

void render_table(std::vector<tshark_line>& out, int indent, const field_table& t) {
  for (const auto& entry : t) render_value(out, indent, std::string(entry.name), entry.value);
}

void render_value(std::vector<tshark_line>& out, int indent, const std::string& key, const field_value& v) {
  const std::string head = key + " (" + type_label(v.type()) + ")";
  switch (v.type()) {
    case field_type::table:
      out.push_back({indent, head});
      render_table(out, indent + 4, v.as_table());
      return;
    case field_type::array: {
      out.push_back({indent, head});
      int i = 0;
      for (const auto& item : v.as_array()) render_value(out, indent + 4, "[" + std::to_string(i++) + "]", item);
      return;
    }
    case field_type::boolean: out.push_back({indent, head + ": " + (v.as_bool() ? "true" : "false")}); return;
    case field_type::long_string: out.push_back({indent, head + ": " + std::string(v.as_string())}); return;
    default: out.push_back({indent, head + ": " + std::to_string(v.as_int())}); return;
  }
}

// ".... ...0" with the value at bit `bit` of the octet (bit 0 rightmost).
std::string bit_pattern(unsigned bit, bool value) {
  std::string p = "........";
  p[7 - bit] = value ? '1' : '0';
  return p.substr(0, 4) + " " + p.substr(4);
}

class field_renderer {
 public:
  field_renderer(std::vector<tshark_line>& out, std::string_view method) : _out(out), _method(method) {}

  void operator()(std::string_view name, bool v) {
    _out.push_back({8, bit_pattern(_bit++, v) + " = " + label_of(name) + ": " + (v ? "True" : "False")});
  }
  void operator()(std::string_view name, std::string_view v) { line(name, std::string(v)); }
  void operator()(std::string_view name, const long_string& v) {
    line(name, v.value.empty() ? "<MISSING>" : hex(as_bytes(v.value)));
  }
  void operator()(std::string_view name, const field_table& v) {
    _bit = 0;
    // tshark keeps the 0-8 name "Filter" for basic.consume's arguments.
    _out.push_back({8, _method == "basic.consume" ? "Filter" : label_of(name)});
    render_table(_out, 12, v);
  }
  template <class Integer>
  void operator()(std::string_view name, Integer v) {
    line(name, std::to_string(v));
  }

 private:
  void line(std::string_view name, const std::string& value) {
    _bit = 0;
    _out.push_back({8, label_of(name) + ": " + value});
  }
  std::vector<tshark_line>& _out;
  std::string_view _method;
  unsigned _bit = 0;
};

template <class M>
void render_arguments(std::vector<tshark_line>& out, const M& m) {
  // field_names is "a, b, c", in the order of fields().
  std::vector<std::string_view> names;
  std::string_view rest = M::field_names;
  while (!rest.empty()) {
    const auto comma = rest.find(", ");
    names.push_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
  }
  field_renderer render(out, M::name);
  std::size_t i = 0;
  std::apply([&](const auto&... f) { (render(names[i++], f), ...); }, m.fields());
}

std::string timestamp_text(std::uint64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%b %d, %Y %H:%M:%S.000000000 UTC", &tm);
  return buf;
}

void render_properties(std::vector<tshark_line>& out, const basic_properties& p) {
  auto text = [&](property flag, const char* label, std::string_view v) {
    if (p.has(flag)) out.push_back({8, std::string(label) + ": " + std::string(v)});
  };
  auto number = [&](property flag, const char* label, std::uint64_t v) {
    if (p.has(flag)) out.push_back({8, std::string(label) + ": " + std::to_string(v)});
  };
  text(property::content_type, "Content-Type", p.content_type);
  text(property::content_encoding, "Content-Encoding", p.content_encoding);
  if (p.has(property::headers)) {
    out.push_back({8, "Headers"});
    render_table(out, 12, p.headers);
  }
  number(property::delivery_mode, "Delivery-Mode", p.delivery_mode);
  number(property::priority, "Priority", p.priority);
  text(property::correlation_id, "Correlation-Id", p.correlation_id);
  text(property::reply_to, "Reply-To", p.reply_to);
  text(property::expiration, "Expiration", p.expiration);
  text(property::message_id, "Message-Id", p.message_id);
  if (p.has(property::timestamp)) out.push_back({8, "Timestamp: " + timestamp_text(p.timestamp)});
  text(property::type, "Type", p.type);
  text(property::user_id, "User-Id", p.user_id);
  text(property::app_id, "App-Id", p.app_id);
  text(property::cluster_id, "Cluster-Id", p.cluster_id);
}

}  // namespace

std::vector<tshark_line> render_tshark(const owned_frame& frame) {
  std::vector<tshark_line> out;
  auto header = [&](const std::string& type) {
    out.push_back({4, "Type: " + type});
    out.push_back({4, "Channel: " + std::to_string(frame.channel)});
    out.push_back({4, "Length: " + std::to_string(frame.payload.size())});
  };
  switch (frame.type) {
    case frame_type::method: {
      header("Method (1)");
      auto decoded = decode_method(frame.payload);
      if (!decoded) {
        out.push_back({4, "DECODE ERROR: " + decoded.error().message()});
        break;
      }
      const method_id id = id_of(*decoded);
      const std::string_view dotted = name_of(*decoded);
      out.push_back({4, "Class: " + class_label(id.class_id) + " (" + std::to_string(id.class_id) + ")"});
      out.push_back({4, "Method: " + title_case(dotted.substr(dotted.find('.') + 1), '-') + " (" +
                            std::to_string(id.method) + ")"});
      out.push_back({4, "Arguments"});
      std::visit([&](const auto& m) { render_arguments(out, m); }, *decoded);
      break;
    }
    case frame_type::header: {
      header("Content header (2)");
      auto decoded = decode_content_header(frame.payload);
      if (!decoded) {
        out.push_back({4, "DECODE ERROR: " + decoded.error().message()});
        break;
      }
      out.push_back({4, "Class ID: " + class_label(decoded->class_id) + " (" + std::to_string(decoded->class_id) + ")"});
      out.push_back({4, "Weight: " + std::to_string(decoded->weight)});
      out.push_back({4, "Body size: " + std::to_string(decoded->body_size)});
      char flags[16];
      std::snprintf(flags, sizeof flags, "0x%04x", decoded->properties.flags);
      out.push_back({4, std::string("Property flags: ") + flags});
      out.push_back({4, "Properties"});
      render_properties(out, decoded->properties);
      break;
    }
    case frame_type::body: {
      header("Content body (3)");
      constexpr std::size_t shown = 36;  // tshark abbreviates longer payloads with "…"
      const bytes_view payload{frame.payload};
      out.push_back({4, "Payload: " + hex(payload.first(std::min(shown, payload.size()))) +
                            (payload.size() > shown ? "\u2026" : "")});
      break;
    }
    case frame_type::heartbeat:
      header("Heartbeat (8)");
      break;
  }
  for (auto& line : out) {  // tshark's text has no trailing blanks ("Exchange: " reads "Exchange:")
    while (!line.text.empty() && line.text.back() == ' ') line.text.pop_back();
  }
  return out;
}

}  // namespace haremq::test
