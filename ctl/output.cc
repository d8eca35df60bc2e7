#include "ctl/output.h"

#include <algorithm>
#include <cstddef>

namespace haremq::ctl {
namespace {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Tags come as an array from RabbitMQ 3.9+, as a comma-separated string from older brokers.
nlohmann::json tags_array(const nlohmann::json& value) {
  if (!value.is_string()) return value.is_array() ? value : nlohmann::json::array();
  auto tags = nlohmann::json::array();
  const auto& text = value.get_ref<const std::string&>();
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string tag = text.substr(start, comma - start);
    tag.erase(0, tag.find_first_not_of(' '));
    tag.erase(tag.find_last_not_of(' ') + 1);
    if (!tag.empty()) tags.push_back(std::move(tag));
    start = comma + 1;
  }
  return tags;
}

std::string plain_text(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// rabbitmqctl shows a field table as Erlang-ish tuples: [{"x-max-length",10},{"k","v"}].
std::string arguments_text(const nlohmann::json& value) {
  if (!value.is_object()) return value.is_null() ? "[]" : value.dump();
  std::string out = "[";
  bool first = true;
  for (const auto& [key, v] : value.items()) {
    if (!first) out += ',';
    first = false;
    out += "{" + nlohmann::json(key).dump() + "," + v.dump() + "}";
  }
  return out + "]";
}

std::string tags_text(const nlohmann::json& value) {
  std::string out = "[";
  bool first = true;
  for (const auto& tag : tags_array(value)) {
    if (!first) out += ", ";
    first = false;
    out += plain_text(tag);
  }
  return out + "]";
}

nlohmann::json cell_json(const nlohmann::json& value, cell_style style) {
  switch (style) {
    case cell_style::plain:
      return value;
    case cell_style::arguments:
      return value.is_null() ? nlohmann::json::object() : value;
    case cell_style::tags:
      return tags_array(value);
    case cell_style::json_text:
      return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return value;
}

// Display width in code points: UTF-8 continuation bytes take no column.
std::size_t width_of(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void print_json(std::ostream& out, const listing& rows) {
  out << "[\n";
  bool first_row = true;
  for (const auto& row : rows.rows) {
    out << (first_row ? "{" : ",{");
    first_row = false;
    for (std::size_t i = 0; i < rows.columns.size(); ++i) {
      if (i != 0) out << ',';
      out << nlohmann::json(rows.columns[i].name).dump() << ':'
          << cell_json(row[i], rows.columns[i].style).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out << "}\n";
  }
  out << "]\n";
}

}  // namespace

std::optional<format> parse_format(std::string_view name) {
  if (name == "tsv") return format::tsv;
  if (name == "table") return format::table;
  if (name == "json") return format::json;
  return std::nullopt;
}

std::string cell_text(const nlohmann::json& value, cell_style style) {
  switch (style) {
    case cell_style::plain:
      return escape(plain_text(value));
    case cell_style::arguments:
      return escape(arguments_text(value));
    case cell_style::tags:
      return escape(tags_text(value));
    case cell_style::json_text:
      return escape(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return {};
}

void print_listing(std::ostream& out, const listing& rows, format how, headers show) {
  if (how == format::json) {
    print_json(out, rows);
    return;
  }
  if (rows.rows.empty()) return;
  std::vector<std::vector<std::string>> lines;
  lines.reserve(rows.rows.size() + 1);
  if (show == headers::show) {
    auto& header = lines.emplace_back();
    for (const auto& c : rows.columns) header.push_back(c.name);
  }
  for (const auto& row : rows.rows) {
    auto& line = lines.emplace_back();
    for (std::size_t i = 0; i < rows.columns.size(); ++i) line.push_back(cell_text(row[i], rows.columns[i].style));
  }
  std::vector<std::size_t> widths(rows.columns.size(), 0);
  if (how == format::table) {
    for (const auto& line : lines) {
      for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], width_of(line[i]));
    }
  }
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (i != 0) text += how == format::table ? "  " : "\t";
      text += line[i];
      // Pad every column but the last, so no line ends in blanks.
      if (how == format::table && i + 1 < line.size()) text.append(widths[i] - width_of(line[i]), ' ');
    }
    out << text << '\n';
  }
}

}  // namespace haremq::ctl
