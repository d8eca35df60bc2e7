#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

// How haremqctl prints what the list_* commands return, in rabbitmqctl's three shapes.
namespace haremq::ctl {

enum class format {
  tsv,    // a header line, then one tab-separated line per row: rabbitmqctl's default output
  table,  // the same, with the columns padded to line up
  json,   // an array of objects, one per line, as `rabbitmqctl --formatter json` prints it
};

std::optional<format> parse_format(std::string_view name);

// How a cell's JSON value (as the management API gives it) is shown.
enum class cell_style {
  plain,      // strings bare, numbers and booleans as JSON writes them, null empty
  arguments,  // an x-arguments object: [{"x-max-length",10}] in text, the object in JSON
  tags,       // user tags, an array or a comma-separated string: [a, b] in text, an array in JSON
  json_text,  // a JSON value (a policy's definition) written compactly: bare in text, a string in JSON
};

struct column {
  std::string name;
  cell_style style = cell_style::plain;
};

struct listing {
  std::vector<column> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // each as long as columns
};

enum class headers { show, hide };

// The text of one cell in tsv and table output; tabs and newlines are escaped as \t and \n.
std::string cell_text(const nlohmann::json& value, cell_style style);

// Prints the listing. With no rows, tsv and table print nothing (as rabbitmqctl does) and
// json prints an empty array.
void print_listing(std::ostream& out, const listing& rows, format how, headers show);

}  // namespace haremq::ctl
