// Loopback round trips through an echoing reactor, per backend: one message at a time
// (latency-bound: the reactor's turn and the syscalls per message) and 64 KiB bursts of
// small messages (throughput: gathered reads and sends). Every socket call times out, so a
// broken reactor fails the benchmark instead of hanging it.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "net/io/reactor.h"

namespace haremq::io {
namespace {

class echo_handler final : public reactor_handler {
 public:
  reactor* r = nullptr;
  void on_accept(conn_id, const sockaddr_storage&, const sockaddr_storage&) override {}
  std::size_t on_data(conn_id id, std::span<const std::byte> data) override {
    r->send(id, data);
    return data.size();
  }
  void on_closed(conn_id, std::error_code) override {}
  void on_turn() override {}
};

// A reactor echoing on a loopback port, run on its own thread, and one client connected to it.
class echo_fixture {
 public:
  bool start(backend b, std::string& error) {
    auto created = reactor::create(b, _handler);
    if (!created) {
      error = std::string(name_of(b)) + " unavailable: " + created.error().message();
      return false;
    }
    _reactor = std::move(*created);
    _handler.r = _reactor.get();
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 16) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      error = "cannot listen on loopback";
      ::close(listener);
      return false;
    }
    _reactor->listen(listener);
    _thread = std::thread([this] { _reactor->run(); });

    _client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    ::setsockopt(_client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(_client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int on = 1;
    ::setsockopt(_client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (::connect(_client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error = "cannot connect";
      return false;
    }
    return true;
  }

  ~echo_fixture() {
    if (_client >= 0) ::close(_client);
    if (_thread.joinable()) {
      _reactor->stop();
      _thread.join();
    }
  }

  // Sends `message` and reads as many bytes back.
  bool round_trip(const std::string& message, std::string& buffer) {
    for (std::size_t sent = 0; sent < message.size();) {
      const ssize_t n = ::send(_client, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;  // io_uring task work of an earlier ring, not an error
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    for (std::size_t got = 0; got < message.size();) {
      const ssize_t n = ::recv(_client, buffer.data(), buffer.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  echo_handler _handler;
  std::unique_ptr<reactor> _reactor;
  std::thread _thread;
  int _client = -1;
};

backend backend_of(const benchmark::State& state) { return state.range(0) == 0 ? backend::io_uring : backend::epoll; }

// One message of range(1) bytes out and back per iteration.
void BM_Reactor_EchoRoundTrip(benchmark::State& state) {
  echo_fixture f;
  std::string error;
  if (!f.start(backend_of(state), error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string message(static_cast<std::size_t>(state.range(1)), 'm');
  std::string buffer(1 << 16, '\0');
  for (auto _ : state) {
    if (!f.round_trip(message, buffer)) {
      state.SkipWithError("round trip failed");
      return;
    }
  }
  state.SetLabel(std::string(name_of(backend_of(state))));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(1) * 2);
}
BENCHMARK(BM_Reactor_EchoRoundTrip)->ArgsProduct({{0, 1}, {64, 4096}})->UseRealTime();

// 64 KiB of 64-byte messages out and back per iteration.
void BM_Reactor_EchoBurst(benchmark::State& state) {
  echo_fixture f;
  std::string error;
  if (!f.start(backend_of(state), error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string burst(64 * 1024, 'b');
  std::string buffer(1 << 16, '\0');
  for (auto _ : state) {
    if (!f.round_trip(burst, buffer)) {
      state.SkipWithError("burst failed");
      return;
    }
  }
  state.SetLabel(std::string(name_of(backend_of(state))));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(burst.size() / 64));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(burst.size()) * 2);
}
BENCHMARK(BM_Reactor_EchoBurst)->DenseRange(0, 1)->UseRealTime();

}  // namespace
}  // namespace haremq::io
