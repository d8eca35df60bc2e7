#include "net/io/socket_ops.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>

namespace haremq::io::detail {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

void set_nodelay(int fd) noexcept {
  const int on = 1;
  // Best effort: a socket that refuses it still works, only with Nagle's delays.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

sockaddr_storage peer_address(int fd) noexcept {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) peer = {};
  return peer;
}

std::error_code socket_error(int fd, std::error_code fallback) noexcept {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0) return fallback;
  return {error, std::system_category()};
}

void drain_and_close(int fd) noexcept {
  std::array<std::byte, 4096> sink;
  for (int i = 0; i < 16; ++i) {
    if (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) <= 0) break;
  }
  ::close(fd);
}

}  // namespace haremq::io::detail
