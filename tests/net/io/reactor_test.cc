// Covers, on every backend (each test runs once on io_uring and once on epoll; the io_uring
// runs are skipped, with the reason, where io_uring cannot be set up):
// - echo over loopback, small and 1 MiB;
// - on_data gets every unconsumed byte: length-prefixed frames written 1 byte at a time and
//   consumed only when whole, one of them larger than the receive buffer;
// - an 8 MiB reply (copied, reserved and external bytes mixed) to a slow reader: in order,
//   pending_output back to 0, keepalives released once;
// - keepalives released exactly once: sent, aborted with output pending, stale id, reactor
//   destroyed with output pending (and no handler call from the destructor);
// - pause_reading: no on_data while paused, buffered bytes offered again on resume with nothing
//   new arriving, the peer held back by TCP once the kernel's buffers are full;
// - close() flushes then closes (the peer reads everything, then EOF), send after close is
//   ignored; abort() closes at once;
// - peer reset (ECONNRESET) and peer close (errc::peer_closed) reach on_closed once;
// - wake() and stop() from another thread act promptly; the idle tick runs on_turn;
// - stale ids are ignored, also once their slot is reused;
// - 200 connections at once; the handler acting on other connections from its callbacks.
// Not yet: EMFILE on accept; io_uring refused by seccomp (create() returning the error is
// exercised only where the kernel refuses it); kernels without multishot accept.

#include "net/io/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace haremq::io {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Every wait in these tests gives up after this long, so a bug fails a test instead of
// hanging it.
constexpr auto patience = 10s;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = patience) {
  const auto deadline = clock_type::now() + timeout;
  while (!pred()) {
    if (clock_type::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string_view text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Bytes that show any loss, duplication or reordering: the position of every 4-byte word,
// little-endian.
std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>(static_cast<std::uint32_t>(i / 4) >> (8 * (i % 4)));
  }
  return s;
}

struct release_counter {
  std::atomic<int> released{0};
  keepalive keep() {
    return {this, [](void* owner) noexcept { static_cast<release_counter*>(owner)->released.fetch_add(1); }};
  }
};

// A blocking loopback client; every call gives up after `patience`.
class client {
 public:
  explicit client(std::uint16_t port, int receive_buffer = 0) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(patience).count();
    ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int on = 1;
    ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    // Before connect, so that the window is small from the start.
    if (receive_buffer > 0) ::setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    _connected = ::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    // Interrupted (io_uring task work of another ring in this process can do that to a call
    // with a socket timeout): the connection goes on in the background; wait for it.
    if (!_connected && errno == EINTR) _connected = finish_interrupted_connect();
    if (!_connected) _last_error = std::strerror(errno);
  }
  bool finish_interrupted_connect() {
    pollfd p{_fd, POLLOUT, 0};
    int ready = 0;
    do {
      ready = ::poll(&p, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(patience).count()));
    } while (ready < 0 && errno == EINTR);
    int error = 0;
    socklen_t length = sizeof error;
    if (ready != 1 || ::getsockopt(_fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return false;
    errno = error;
    return error == 0;
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() {
    if (_fd >= 0) ::close(_fd);
  }

  bool connected() const { return _connected; }
  // Why the last call that stopped short did.
  const std::string& last_error() const { return _last_error; }
  int fd() const { return _fd; }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(_fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Up to `n` bytes: fewer only on EOF, error or timeout. `pause_every` > 0 makes a slow
  // reader: a 1 ms nap after each `pause_every` bytes.
  std::string read_exact(std::size_t n, std::size_t chunk = 65536, std::size_t pause_every = 0) {
    std::string out;
    out.reserve(n);
    std::string buffer(chunk, '\0');
    std::size_t since_pause = 0;
    const auto deadline = clock_type::now() + patience;
    while (out.size() < n && clock_type::now() < deadline) {
      const ssize_t got = ::recv(_fd, buffer.data(), std::min(chunk, n - out.size()), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        _last_error = got == 0 ? "end of stream" : std::strerror(errno);
        break;
      }
      out.append(buffer.data(), static_cast<std::size_t>(got));
      since_pause += static_cast<std::size_t>(got);
      if (pause_every != 0 && since_pause >= pause_every) {
        since_pause = 0;
        std::this_thread::sleep_for(1ms);
      }
    }
    return out;
  }

  // Whether the next read reports the end of the stream (EOF or a reset), nothing else first.
  bool at_end() {
    char c = 0;
    ssize_t got = 0;
    do {
      got = ::recv(_fd, &c, 1, 0);
    } while (got < 0 && errno == EINTR);
    return got == 0 || (got < 0 && errno == ECONNRESET);
  }

  // Closes with a RST instead of a FIN.
  void reset() {
    const linger l{1, 0};
    ::setsockopt(_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(_fd);
    _fd = -1;
  }

  void close() {
    ::close(_fd);
    _fd = -1;
  }

 private:
  int _fd = -1;
  bool _connected = false;
  std::string _last_error;
};

// A handler whose behaviour each test scripts (before the reactor runs) and whose record the
// test thread reads. The callbacks run on the reactor thread.
class test_handler final : public reactor_handler {
 public:
  struct closed_event {
    conn_id id;
    std::error_code reason;
  };

  std::function<void(conn_id)> accept_fn;
  std::function<std::size_t(conn_id, std::span<const std::byte>)> data_fn;
  std::function<void(conn_id, std::error_code)> closed_fn;
  std::function<void()> turn_fn;

  void on_accept(conn_id id, const sockaddr_storage& peer, const sockaddr_storage&) override {
    {
      std::lock_guard lock(_mutex);
      _accepted.push_back(id);
      _last_peer_family = peer.ss_family;
    }
    if (accept_fn) accept_fn(id);
  }

  std::size_t on_data(conn_id id, std::span<const std::byte> data) override {
    _data_calls.fetch_add(1);
    return data_fn ? data_fn(id, data) : data.size();
  }

  void on_closed(conn_id id, std::error_code reason) override {
    {
      std::lock_guard lock(_mutex);
      _closed.push_back({id, reason});
    }
    if (closed_fn) closed_fn(id, reason);
  }

  void on_turn() override {
    _turns.fetch_add(1);
    std::vector<std::function<void()>> posted;
    {
      std::lock_guard lock(_mutex);
      posted.swap(_posted);
    }
    for (auto& fn : posted) fn();
    if (turn_fn) turn_fn();
  }

  // Runs `fn` on the reactor thread in its next turn and returns its result (or a default
  // value, with a failure, if the reactor does not get to it in time).
  template <class F>
  auto call(reactor& r, F fn) -> decltype(fn()) {
    using T = decltype(fn());
    auto done = std::make_shared<std::promise<T>>();
    std::future<T> result = done->get_future();
    {
      std::lock_guard lock(_mutex);
      _posted.push_back([done, fn]() mutable {
        if constexpr (std::is_void_v<T>) {
          fn();
          done->set_value();
        } else {
          done->set_value(fn());
        }
      });
    }
    r.wake();
    if (result.wait_for(patience) != std::future_status::ready) {
      ADD_FAILURE() << "the reactor did not run a posted call";
      if constexpr (std::is_void_v<T>) {
        return;
      } else {
        return T{};
      }
    }
    return result.get();
  }

  std::vector<conn_id> accepted() {
    std::lock_guard lock(_mutex);
    return _accepted;
  }
  std::vector<closed_event> closed() {
    std::lock_guard lock(_mutex);
    return _closed;
  }
  int closed_count(conn_id id) {
    std::lock_guard lock(_mutex);
    return static_cast<int>(std::count_if(_closed.begin(), _closed.end(), [&](const closed_event& e) { return e.id == id; }));
  }
  sa_family_t last_peer_family() {
    std::lock_guard lock(_mutex);
    return _last_peer_family;
  }
  std::uint64_t turns() const { return _turns.load(); }
  std::uint64_t data_calls() const { return _data_calls.load(); }

  // Waits for the `n`th accept and returns its id.
  conn_id wait_accepted(std::size_t n = 1) {
    if (!eventually([&] { return accepted().size() >= n; })) {
      ADD_FAILURE() << "connection " << n << " was not accepted";
      return {};
    }
    return accepted()[n - 1];
  }

 private:
  std::mutex _mutex;
  std::vector<conn_id> _accepted;
  std::vector<closed_event> _closed;
  std::vector<std::function<void()>> _posted;
  sa_family_t _last_peer_family = 0;
  std::atomic<std::uint64_t> _turns{0};
  std::atomic<std::uint64_t> _data_calls{0};
};

class null_handler final : public reactor_handler {
 public:
  void on_accept(conn_id, const sockaddr_storage&, const sockaddr_storage&) override {}
  std::size_t on_data(conn_id, std::span<const std::byte> data) override { return data.size(); }
  void on_closed(conn_id, std::error_code) override {}
  void on_turn() override {}
};

class ReactorTest : public ::testing::TestWithParam<backend> {
 protected:
  void SetUp() override {
    if (GetParam() == backend::io_uring) {
      null_handler h;
      auto probe = reactor::create(backend::io_uring, h);
      if (!probe) GTEST_SKIP() << "io_uring cannot be set up here: " << probe.error().message();
    }
  }

  void TearDown() override { stop(); }

  // Creates the reactor, listens on a free loopback port and runs the loop on a thread.
  void start(reactor_options options = {}) {
    auto created = reactor::create(GetParam(), handler, options);
    ASSERT_TRUE(created) << created.error().message();
    _reactor = std::move(*created);
    ASSERT_EQ(_reactor->kind(), GetParam());

    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 1024), 0);
    socklen_t length = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    port = ntohs(addr.sin_port);
    _reactor->listen(fd);
    _thread = std::thread([this] { _reactor->run(); });
  }

  // Stops the reactor when the test body ends, before the locals its handler captured are
  // destroyed (TearDown would be too late); declared after those locals.
  struct stop_guard {
    explicit stop_guard(ReactorTest* t) : test(t) {}
    ReactorTest* test;
    stop_guard(const stop_guard&) = delete;
    stop_guard& operator=(const stop_guard&) = delete;
    ~stop_guard() { test->stop(); }
  };
  [[nodiscard]] stop_guard stop_at_end() { return stop_guard{this}; }

  // Stops the loop (if running) and destroys the reactor.
  void stop() {
    if (_thread.joinable()) {
      _reactor->stop();
      _thread.join();
    }
    _reactor.reset();
  }

  reactor& r() { return *_reactor; }

  test_handler handler;
  std::uint16_t port = 0;

 private:
  std::unique_ptr<reactor> _reactor;
  std::thread _thread;
};

TEST(Backend, HasAName) {
  EXPECT_EQ(name_of(backend::io_uring), "io_uring");
  EXPECT_EQ(name_of(backend::epoll), "epoll");
}

TEST(IoErrc, HasItsOwnCategory) {
  const std::error_code e = errc::peer_closed;
  EXPECT_STREQ(e.category().name(), "io");
  EXPECT_EQ(e.message(), "connection closed by peer");
}

TEST_P(ReactorTest, EchoesOnLoopback) {
  handler.data_fn = [this](conn_id id, std::span<const std::byte> data) {
    r().send(id, data);
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("hello"));
  EXPECT_EQ(c.read_exact(5), "hello");

  const std::string big = pattern(1 << 20);
  ASSERT_TRUE(c.send_all(big));
  EXPECT_TRUE(c.read_exact(big.size()) == big);
  EXPECT_EQ(handler.last_peer_family(), AF_INET);
}

// A test protocol: a 2-byte big-endian length, then that many bytes.
TEST_P(ReactorTest, OffersEveryUnconsumedByteUntilWholeFramesArrive) {
  std::vector<std::string> frames;  // reactor thread until the end
  std::atomic<std::size_t> frame_count{0};
  std::atomic<int> partial_offers{0};
  std::atomic<bool> misaligned{false};
  handler.data_fn = [&](conn_id, std::span<const std::byte> data) {
    std::size_t used = 0;
    for (;;) {
      const std::span<const std::byte> rest = data.subspan(used);
      if (rest.size() < 2) break;
      const std::size_t length = (std::to_integer<std::size_t>(rest[0]) << 8) | std::to_integer<std::size_t>(rest[1]);
      if (length > 6000) misaligned = true;  // offered bytes must start at a frame
      if (rest.size() < 2 + length) break;
      frames.emplace_back(text_of(rest.subspan(2, length)));
      frame_count.fetch_add(1);
      used += 2 + length;
    }
    if (used < data.size()) partial_offers.fetch_add(1);
    return used;
  };
  reactor_options options;
  options.recv_buffer_size = 512;  // the 5000-byte frame must make the buffer grow
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start(options));

  std::vector<std::string> expected;
  std::string wire;
  for (std::size_t i = 0; i < 40; ++i) {
    const std::size_t length = i == 20 ? 5000 : (i * 37) % 300;
    std::string payload = pattern(length + 4).substr(4);
    std::ranges::transform(payload, payload.begin(), [i](char ch) { return static_cast<char>(ch ^ static_cast<char>(i)); });
    wire += static_cast<char>(length >> 8);
    wire += static_cast<char>(length & 0xff);
    wire += payload;
    expected.push_back(std::move(payload));
  }
  client c(port);
  ASSERT_TRUE(c.connected());
  for (std::size_t i = 0; i < wire.size(); ++i) {
    ASSERT_TRUE(c.send_all(wire.substr(i, 1)));
    if (i % 256 == 0) std::this_thread::sleep_for(100us);  // let the reactor see partial frames
  }
  ASSERT_TRUE(eventually([&] { return frame_count.load() == expected.size(); }));
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_EQ(frames, expected);
  EXPECT_FALSE(misaligned.load());
  EXPECT_GT(partial_offers.load(), 0);
}

TEST_P(ReactorTest, LargeReplyReachesASlowReaderInOrder) {
  constexpr std::size_t total = 8u << 20;
  const std::string reply = pattern(total);
  release_counter keepalives;
  std::atomic<std::size_t> max_pending{0};
  std::atomic<std::size_t> last_pending{1};
  std::atomic<conn_id> replying{conn_id{}};
  int external_segments = 0;
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    // 1 MiB copied, 1 MiB encoded in place in 4 KiB pieces, the rest external.
    const auto all = bytes_of(reply);
    r().send(id, all.first(1u << 20));
    for (std::size_t at = 1u << 20; at < 2u << 20; at += 4096) {
      const std::span<std::byte> room = r().reserve(id, 8192);
      std::memcpy(room.data(), all.data() + at, 4096);
      r().commit(id, 4096);
    }
    for (std::size_t at = 2u << 20; at < total; at += 256u << 10) {
      r().send_external(id, all.subspan(at, 256u << 10), keepalives.keep());
      ++external_segments;
    }
    replying = id;
    return data.size();
  };
  handler.turn_fn = [&] {
    const conn_id id = replying.load();
    if (id == conn_id{}) return;
    const std::size_t pending = r().pending_output(id);
    last_pending = pending;
    max_pending = std::max(max_pending.load(), pending);
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port, 16 * 1024);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("go"));
  std::string got = c.read_exact(1u << 20, 4096, 64u << 10);  // slowly at first
  got += c.read_exact(total - got.size());
  ASSERT_EQ(got.size(), total) << c.last_error();
  EXPECT_TRUE(got == reply) << "bytes out of order or corrupted";
  EXPECT_TRUE(eventually([&] { return last_pending.load() == 0; }));
  EXPECT_GT(max_pending.load(), 0u);
  EXPECT_TRUE(eventually([&] { return keepalives.released.load() == 24; }));
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_EQ(external_segments, 24);
  EXPECT_EQ(keepalives.released.load(), 24);
}

TEST_P(ReactorTest, ReleasesAKeepaliveOnceWhenSent) {
  static const std::string pong = "pong";
  release_counter keepalives;
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    r().send_external(id, bytes_of(pong), keepalives.keep());
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("ping"));
  EXPECT_EQ(c.read_exact(4), "pong");
  EXPECT_TRUE(eventually([&] { return keepalives.released.load() == 1; }));
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_EQ(keepalives.released.load(), 1);
}

TEST_P(ReactorTest, AbortWithOutputPendingReleasesEveryKeepaliveOnce) {
  const std::string blob = pattern(16u << 20);
  release_counter keepalives;
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    for (int i = 0; i < 4; ++i) r().send_external(id, bytes_of(blob).subspan(static_cast<std::size_t>(i) << 22, 4u << 20), keepalives.keep());
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port, 4096);  // and never reads: the output cannot all go
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("flood me"));
  const conn_id id = handler.wait_accepted();
  ASSERT_TRUE(eventually([&] { return handler.data_calls() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_GT(handler.call(r(), [&] { return r().pending_output(id); }), 0u);
  EXPECT_LT(keepalives.released.load(), 4);
  handler.call(r(), [&] { r().abort(id); });
  EXPECT_TRUE(eventually([&] { return handler.closed_count(id) == 1; }));
  EXPECT_TRUE(eventually([&] { return keepalives.released.load() == 4; }));
  EXPECT_EQ(handler.call(r(), [&] { return r().pending_output(id); }), 0u);
  EXPECT_FALSE(handler.closed()[0].reason) << handler.closed()[0].reason.message();
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_EQ(keepalives.released.load(), 4);
  EXPECT_EQ(handler.closed_count(id), 1);
}

TEST_P(ReactorTest, DestructionReleasesKeepalivesWithoutCallingTheHandler) {
  const std::string blob = pattern(8u << 20);
  release_counter keepalives;
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    r().send_external(id, bytes_of(blob), keepalives.keep());
    r().send_external(id, bytes_of(blob), keepalives.keep());
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port, 4096);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("x"));
  ASSERT_TRUE(eventually([&] { return handler.data_calls() == 1; }));
  std::this_thread::sleep_for(20ms);
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_EQ(keepalives.released.load(), 2);
  EXPECT_TRUE(handler.closed().empty());
}

TEST_P(ReactorTest, PausedConnectionGetsNoDataAndResumeReoffersBufferedBytes) {
  std::mutex mutex;
  std::vector<std::string> offers;
  std::atomic<bool> consume_all{false};
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    {
      std::lock_guard lock(mutex);
      offers.emplace_back(text_of(data));
    }
    if (consume_all) return data.size();
    r().pause_reading(id, true);
    return offers.size() == 1 ? std::size_t{1} : std::size_t{0};
  };
  auto offer_count = [&] {
    std::lock_guard lock(mutex);
    return offers.size();
  };
  auto offer = [&](std::size_t i) {
    std::lock_guard lock(mutex);
    return offers.at(i);
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("abc"));
  const conn_id id = handler.wait_accepted();
  ASSERT_TRUE(eventually([&] { return offer_count() == 1; }));
  EXPECT_EQ(offer(0), "abc");

  // Resumed with nothing new on the wire: the two bytes left are offered again.
  handler.call(r(), [&] { r().pause_reading(id, false); });
  ASSERT_TRUE(eventually([&] { return offer_count() == 2; }));
  EXPECT_EQ(offer(1), "bc");

  // Paused again (by the handler): what arrives now is not offered...
  ASSERT_TRUE(c.send_all("def"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(offer_count(), 2u);

  // ...until resumed.
  consume_all = true;
  handler.call(r(), [&] { r().pause_reading(id, false); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !offers.empty() && offers.back().ends_with("def");
  }));
  EXPECT_TRUE(offer(2).starts_with("bc"));
}

TEST_P(ReactorTest, PausedConnectionHoldsThePeerBack) {
  std::atomic<std::size_t> consumed{0};
  handler.accept_fn = [this](conn_id id) { r().pause_reading(id, true); };
  handler.data_fn = [&](conn_id, std::span<const std::byte> data) {
    consumed.fetch_add(data.size());
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  const conn_id id = handler.wait_accepted();

  // Non-blocking writes until the kernel says no: it must, since nobody reads.
  ASSERT_EQ(::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK), 0);
  const std::string chunk = pattern(64u << 10);
  std::size_t sent = 0;
  bool held_back = false;
  const auto deadline = clock_type::now() + patience;
  while (sent < (256u << 20) && clock_type::now() < deadline) {
    const ssize_t n = ::send(c.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The reactor might still be taking bytes in: held back means still full a bit later.
      std::this_thread::sleep_for(50ms);
      const ssize_t again = ::send(c.fd(), chunk.data(), 1, MSG_NOSIGNAL);
      if (again < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        held_back = true;
        break;
      }
      if (again > 0) sent += static_cast<std::size_t>(again);
      continue;
    }
    ASSERT_GT(n, 0) << std::strerror(errno);
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(held_back) << sent << " bytes went out without the reactor reading";
  EXPECT_EQ(handler.data_calls(), 0u);
  EXPECT_EQ(consumed.load(), 0u);

  handler.call(r(), [&] { r().pause_reading(id, false); });
  EXPECT_TRUE(eventually([&] { return consumed.load() == sent; })) << consumed.load() << " of " << sent;
}

TEST_P(ReactorTest, CloseFlushesEverythingThenCloses) {
  const std::string reply = pattern(2u << 20);
  std::atomic<std::size_t> pending_after_close{0};
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    r().send(id, bytes_of(reply));
    r().close(id);
    pending_after_close = r().pending_output(id);
    r().send(id, bytes_of("ignored after close"));
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port, 16 * 1024);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("bye"));
  const conn_id id = handler.wait_accepted();
  const std::string got = c.read_exact(reply.size(), 8192, 256u << 10);
  EXPECT_EQ(got.size(), reply.size());
  EXPECT_TRUE(got == reply);
  EXPECT_TRUE(c.at_end());
  EXPECT_EQ(pending_after_close.load(), reply.size());
  ASSERT_TRUE(eventually([&] { return handler.closed_count(id) == 1; }));
  EXPECT_FALSE(handler.closed()[0].reason) << handler.closed()[0].reason.message();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(handler.closed_count(id), 1);
}

TEST_P(ReactorTest, AbortClosesAtOnce) {
  handler.data_fn = [this](conn_id id, std::span<const std::byte> data) {
    r().send(id, bytes_of("dropped"));
    r().abort(id);
    r().abort(id);  // stale now: ignored
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("x"));
  const conn_id id = handler.wait_accepted();
  EXPECT_TRUE(c.at_end());
  ASSERT_TRUE(eventually([&] { return handler.closed_count(id) == 1; }));
  EXPECT_FALSE(handler.closed()[0].reason);
}

TEST_P(ReactorTest, PeerResetReportsTheError) {
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("hi"));
  const conn_id id = handler.wait_accepted();
  ASSERT_TRUE(eventually([&] { return handler.data_calls() == 1; }));
  c.reset();
  ASSERT_TRUE(eventually([&] { return handler.closed_count(id) == 1; }));
  const std::error_code reason = handler.closed()[0].reason;
  EXPECT_EQ(reason, std::error_code(ECONNRESET, std::system_category())) << reason.message();
}

TEST_P(ReactorTest, PeerCloseReportsPeerClosed) {
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client c(port);
  ASSERT_TRUE(c.connected());
  const conn_id id = handler.wait_accepted();
  c.close();
  ASSERT_TRUE(eventually([&] { return handler.closed_count(id) == 1; }));
  EXPECT_EQ(handler.closed()[0].reason, std::error_code(errc::peer_closed));
}

TEST_P(ReactorTest, WakeFromAnotherThreadRunsATurnPromptly) {
  reactor_options options;
  options.tick = 60s;  // no idle tick gets in the way
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start(options));
  std::this_thread::sleep_for(100ms);  // the loop is waiting by now, for up to a minute
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t before = handler.turns();
    const auto t0 = clock_type::now();
    std::thread waker([this] { r().wake(); });
    waker.join();
    EXPECT_TRUE(eventually([&] { return handler.turns() > before; }, 2s));
    EXPECT_LT(clock_type::now() - t0, 1s);
  }
  const auto t0 = clock_type::now();
  std::thread other_thread([this] { r().stop(); });
  other_thread.join();
  ASSERT_NO_FATAL_FAILURE(stop());
  EXPECT_LT(clock_type::now() - t0, 2s);
}

TEST_P(ReactorTest, IdleTickRunsOnTurn) {
  reactor_options options;
  options.tick = 20ms;
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start(options));
  ASSERT_TRUE(eventually([&] { return handler.turns() >= 1; }));
  const std::uint64_t before = handler.turns();
  std::this_thread::sleep_for(500ms);
  EXPECT_GE(handler.turns() - before, 5u);
  EXPECT_LE(handler.turns() - before, 100u) << "an idle loop should wait for its tick";
}

TEST_P(ReactorTest, StaleIdsAreIgnored) {
  handler.data_fn = [this](conn_id id, std::span<const std::byte> data) {
    r().send(id, data);
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  conn_id old_id;
  {
    client first(port);
    ASSERT_TRUE(first.connected());
    old_id = handler.wait_accepted(1);
  }
  ASSERT_TRUE(eventually([&] { return handler.closed_count(old_id) == 1; }));
  client second(port);
  ASSERT_TRUE(second.connected());
  const conn_id new_id = handler.wait_accepted(2);
  EXPECT_NE(new_id, old_id);

  release_counter keepalives;
  for (const conn_id stale : {old_id, conn_id{}, conn_id{12345, 1}, conn_id{new_id.slot, new_id.generation + 1}}) {
    handler.call(r(), [&] {
      r().send(stale, bytes_of("stale"));
      r().send_external(stale, bytes_of("stale"), keepalives.keep());
      const std::span<std::byte> room = r().reserve(stale, 100);
      EXPECT_GE(room.size(), 100u);
      std::memset(room.data(), 'z', room.size());
      r().commit(stale, 100);
      EXPECT_EQ(r().pending_output(stale), 0u);
      r().pause_reading(stale, true);
      r().close(stale);
      r().abort(stale);
    });
  }
  EXPECT_EQ(keepalives.released.load(), 4);

  // The connection that reuses the slot is untouched.
  ASSERT_TRUE(second.send_all("still here"));
  EXPECT_EQ(second.read_exact(10), "still here");
  EXPECT_EQ(handler.closed_count(new_id), 0);
  EXPECT_EQ(handler.closed().size(), 1u);
}

TEST_P(ReactorTest, ServesManyConnectionsAtOnce) {
  constexpr std::size_t count = 200;
  handler.data_fn = [this](conn_id id, std::span<const std::byte> data) {
    r().send(id, data);
    return data.size();
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<std::unique_ptr<client>> clients;
  for (std::size_t i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<client>(port));
    ASSERT_TRUE(clients.back()->connected()) << i << ": " << clients.back()->last_error();
  }
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_TRUE(clients[i]->send_all("message " + std::to_string(i) + ";"));
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::string expected = "message " + std::to_string(i) + ";";
    EXPECT_EQ(clients[i]->read_exact(expected.size()), expected);
  }
  EXPECT_EQ(handler.accepted().size(), count);
  clients.clear();
  ASSERT_TRUE(eventually([&] { return handler.closed().size() == count; }));
  for (const auto& e : handler.closed()) EXPECT_EQ(e.reason, std::error_code(errc::peer_closed));
}

TEST_P(ReactorTest, HandlerActsOnOtherConnectionsFromItsCallbacks) {
  std::mutex mutex;
  std::vector<conn_id> ids;  // reactor thread only, but read under the lock for clarity
  handler.accept_fn = [&](conn_id id) {
    std::lock_guard lock(mutex);
    ids.push_back(id);
  };
  auto other = [&](conn_id id) {
    std::lock_guard lock(mutex);
    return ids.at(0) == id ? ids.at(1) : ids.at(0);
  };
  handler.data_fn = [&](conn_id id, std::span<const std::byte> data) {
    if (text_of(data) == "kill") {
      r().abort(other(id));
    } else {
      r().send(other(id), data);  // relay
    }
    return data.size();
  };
  handler.closed_fn = [&](conn_id id, std::error_code) {
    r().send(other(id), bytes_of("gone"));  // the other may be gone too: then ignored
  };
  const auto stopper = stop_at_end();
  ASSERT_NO_FATAL_FAILURE(start());
  client a(port);
  ASSERT_TRUE(a.connected());
  const conn_id a_id = handler.wait_accepted(1);
  client b(port);
  ASSERT_TRUE(b.connected());
  const conn_id b_id = handler.wait_accepted(2);

  ASSERT_TRUE(a.send_all("to b"));
  EXPECT_EQ(b.read_exact(4), "to b");
  ASSERT_TRUE(b.send_all("to a"));
  EXPECT_EQ(a.read_exact(4), "to a");

  ASSERT_TRUE(a.send_all("kill"));
  EXPECT_TRUE(b.at_end());
  ASSERT_TRUE(eventually([&] { return handler.closed_count(b_id) == 1; }));
  EXPECT_EQ(a.read_exact(4), "gone");
  EXPECT_EQ(handler.closed_count(a_id), 0);
}

std::string backend_name(const ::testing::TestParamInfo<backend>& info) { return std::string(name_of(info.param)); }

INSTANTIATE_TEST_SUITE_P(Backends, ReactorTest, ::testing::Values(backend::io_uring, backend::epoll), backend_name);

}  // namespace
}  // namespace haremq::io
