#pragma once

#include <span>
#include <string_view>

// The web console's files (mgmt/console/), embedded into the binary at build time so that the
// broker serves them with nothing installed beside it.
namespace haremq::mgmt {

struct console_asset {
  std::string_view path;  // where it is served: "/", "/console.js", ...
  std::string_view content_type;
  std::string_view content;
};

std::span<const console_asset> console_assets();

}  // namespace haremq::mgmt
