#pragma once

#include <sys/socket.h>

#include <system_error>

// The plain socket calls both backends make on accepted sockets.
namespace haremq::io::detail {

// errno as an error code.
std::error_code last_error() noexcept;

// Sets TCP_NODELAY: the reactor already gathers a turn's output into one send, so Nagle's
// delay would only add latency.
void set_nodelay(int fd) noexcept;

// The peer's address (zeroed when the socket has none any more).
sockaddr_storage peer_address(int fd) noexcept;

// The pending error of a socket (SO_ERROR), or `fallback` when it has none.
std::error_code socket_error(int fd, std::error_code fallback) noexcept;

// Reads and discards what the peer sent that nobody will read, then closes `fd`; without
// the drain, close(2) would answer the unread bytes with a RST, and a RST makes the peer's
// kernel discard our output still in flight. Bounded: a peer that keeps sending gets the RST.
void drain_and_close(int fd) noexcept;

}  // namespace haremq::io::detail
