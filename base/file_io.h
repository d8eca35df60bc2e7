#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <system_error>

// Blocking file writes that must reach the disk, shared by the layers that make data durable
// (the message store's recovery and shutdown, the epoll reactor, the data directory).
namespace haremq {

struct synced_write {
  std::size_t written = 0;  // below the size with no error: the file took no more (the sync was not done)
  std::error_code error;
};

// pwrite of all of `bytes` at `offset` (retrying EINTR and partial writes), then fdatasync.
inline synced_write write_and_sync(int fd, std::span<const std::byte> bytes, std::uint64_t offset) noexcept {
  synced_write r;
  while (r.written < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + r.written, bytes.size() - r.written, static_cast<off_t>(offset + r.written));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = std::error_code(errno, std::system_category());
      return r;
    }
    if (n == 0) return r;
    r.written += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) r.error = std::error_code(errno, std::system_category());
  return r;
}

// fsync of a directory: makes the creation, removal or renaming of its entries durable.
inline std::error_code sync_directory(const std::filesystem::path& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {errno, std::system_category()};
  std::error_code e;
  if (::fsync(fd) != 0) e = std::error_code(errno, std::system_category());
  ::close(fd);
  return e;
}

}  // namespace haremq
