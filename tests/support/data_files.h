#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace haremq::test {

// The contents of tests/data/<name>; aborts the test binary if the file is missing.
std::vector<std::byte> read_data_file(const std::string& name);
std::string read_data_text(const std::string& name);

}  // namespace haremq::test
