#include "tests/support/tshark_capture.h"

#include <cctype>
#include <sstream>

namespace haremq::test {

std::string tshark_block::header_value(const std::string& name) const {
  const std::string prefix = name + ": ";
  for (const auto& line : lines) {
    if (line.indent == 4 && line.text.rfind(prefix, 0) == 0) return line.text.substr(prefix.size());
  }
  return {};
}

bool tshark_block::is_protocol_header() const {
  return !lines.empty() && lines.front().text == "Protocol: AMQP";
}

std::vector<tshark_block> parse_tshark_dissection(const std::string& text) {
  std::vector<tshark_block> blocks;
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    if (raw == "Advanced Message Queuing Protocol") {
      blocks.emplace_back();
      continue;
    }
    const auto first = raw.find_first_not_of(' ');
    if (first == std::string::npos || blocks.empty()) continue;
    std::string body = raw.substr(first);
    while (!body.empty() && (body.back() == ' ' || body.back() == '\r')) body.pop_back();
    // Annotations are bracketed; array items ("[0] (integer): 1") are data.
    const bool array_item = body.size() > 1 && std::isdigit(static_cast<unsigned char>(body[1])) != 0;
    if (body.front() == '[' && !array_item) continue;
    blocks.back().lines.push_back({static_cast<int>(first), body});
  }
  return blocks;
}

}  // namespace haremq::test
