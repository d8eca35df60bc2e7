#include "tests/support/data_files.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace haremq::test {

std::string read_data_text(const std::string& name) {
  const std::string path = std::string(HAREMQ_TEST_DATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "missing test data file %s\n", path.c_str());
    std::abort();
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::byte> read_data_file(const std::string& name) {
  const std::string text = read_data_text(name);
  std::vector<std::byte> out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out[i] = static_cast<std::byte>(text[i]);
  return out;
}

}  // namespace haremq::test
