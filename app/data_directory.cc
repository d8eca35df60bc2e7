#include "app/data_directory.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/file_io.h"

namespace haremq::app {
namespace {

constexpr const char* clean_mark = "clean-shutdown";

}  // namespace

result<data_directory> data_directory::open(const std::filesystem::path& root, std::string& why) {
  std::error_code ec;
  std::filesystem::create_directories(root / "messages", ec);
  if (ec) {
    why = "cannot create " + (root / "messages").string() + ": " + ec.message();
    return ec;
  }
  const auto lock_path = root / "LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    const std::error_code error(errno, std::system_category());
    why = "cannot open " + lock_path.string() + ": " + error.message();
    return error;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const std::error_code error(errno, std::system_category());
    why = errno == EWOULDBLOCK ? "another haremq is using " + root.string()
                               : "cannot lock " + lock_path.string() + ": " + error.message();
    ::close(fd);
    return error;
  }
  // The mark is consumed now, durably: a crash in this run must not pass for a clean stop.
  const bool was_clean = std::filesystem::remove(root / clean_mark, ec);
  if (was_clean) (void)sync_directory(root);
  return data_directory(root, fd, was_clean);
}

data_directory::data_directory(data_directory&& other) noexcept
    : _root(std::move(other._root)), _lock_fd(std::exchange(other._lock_fd, -1)), _was_clean(other._was_clean) {}

data_directory::~data_directory() {
  if (_lock_fd >= 0) ::close(_lock_fd);
}

void data_directory::mark_clean_shutdown() const {
  const auto path = _root / clean_mark;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    spdlog::warn("cannot write {}: {}", path.string(), std::strerror(errno));
    return;
  }
  (void)::fsync(fd);
  ::close(fd);
  (void)sync_directory(_root);
}

}  // namespace haremq::app
