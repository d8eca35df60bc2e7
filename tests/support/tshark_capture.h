#pragma once

#include <string>
#include <vector>

// tshark's text dissection of AMQP (the `*.decoded.txt` captures): one block per frame.
namespace haremq::test {

struct tshark_line {
  int indent = 0;
  std::string text;  // without indentation or trailing blanks
  friend bool operator==(const tshark_line&, const tshark_line&) = default;
};

struct tshark_block {
  std::vector<tshark_line> lines;  // after "Advanced Message Queuing Protocol"
  // The value after "Name: " on the first line at indent 4 that starts with it, or "".
  std::string header_value(const std::string& name) const;
  bool is_protocol_header() const;
};

// Splits a dissection into blocks, dropping tshark's own annotations ("[Expert Info ...]",
// "[Publish-Number: 1]", ...), which are not on the wire.
std::vector<tshark_block> parse_tshark_dissection(const std::string& text);

}  // namespace haremq::test
