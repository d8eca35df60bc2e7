#include "engine/store/definitions_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>

#include "base/file_io.h"

namespace haremq::engine::store {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

std::error_code write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code replace_file(const std::filesystem::path& file, std::string_view text) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  // 0600: the retained users carry password hashes.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_error();
  std::error_code e = write_all(fd, text);
  if (!e && ::fsync(fd) != 0) e = last_error();
  if (::close(fd) != 0 && !e) e = last_error();
  if (!e && ::rename(tmp.c_str(), file.c_str()) != 0) e = last_error();
  if (e) {
    ::unlink(tmp.c_str());
    return e;
  }
  // The rename is durable only once the directory entry is.
  const auto directory = file.parent_path();
  return sync_directory(directory.empty() ? "." : directory);
}

}  // namespace

import_result definitions_file::load(topology_store& topology, const queue_placement& place,
                                     if_missing missing) const {
  const int fd = ::open(_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && missing == if_missing::empty) return {};
  import_result failed;
  if (fd < 0) {
    failed.error = "cannot open " + _file.string() + ": " + last_error().message();
    return failed;
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failed.error = "cannot read " + _file.string() + ": " + last_error().message();
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!failed.ok()) return failed;
  auto result = import_definitions(text, topology, place);
  if (!result.ok()) result.error = _file.string() + ": " + result.error;
  return result;
}

bool definitions_file::save(const definitions_view& definitions) const noexcept {
  try {
    const auto e = replace_file(_file, write_definitions(definitions, true));
    if (!e) return true;
    spdlog::error("cannot save the definitions to {}: {}", _file.string(), e.message());
  } catch (const std::exception& e) {
    spdlog::error("cannot save the definitions to {}: {}", _file.string(), e.what());
  }
  return false;
}

}  // namespace haremq::engine::store
