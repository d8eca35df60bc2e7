#include "perf/amqp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "net/amqp/field_table.h"
#include "perf/clock.h"

namespace haremq::perf {
namespace {

constexpr std::uint64_t ns_per_ms = 1'000'000;

bool is_loopback_address(const sockaddr* a) noexcept {
  if (a->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(a);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

// Connects with a deadline: a blocking connect() to a silent host would wait minutes.
int connect_with_timeout(const addrinfo* ai, int timeout_ms, int& error) noexcept {
  const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = errno;
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      error = errno;
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (ready <= 0) {
      so_error = ready == 0 ? ETIMEDOUT : errno;
    } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
      so_error = errno;
    }
    if (so_error != 0) {
      error = so_error;
      ::close(fd);
      return -1;
    }
  }
  // Blocking from here on; the data path passes MSG_DONTWAIT where it must not wait.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Negotiation as RabbitMQ's clients do it: 0 on one side means "no limit", so the other
// side's value stands; otherwise the smaller wins.
template <class T>
T negotiate(T server, T client) noexcept {
  if (server == 0 || client == 0) return std::max(server, client);
  return std::min(server, client);
}

}  // namespace

std::string describe_close(std::uint16_t code, std::string_view text) {
  return std::to_string(code) + " " + std::string(text);
}

amqp_client::amqp_client(const client_settings& settings)
    : _where(settings.target.endpoint()),
      _timeout_ms(settings.timeout_ms),
      _in(new std::byte[settings.receive_buffer]),
      _in_cap(settings.receive_buffer),
      _out(new std::byte[settings.send_buffer]),
      _out_cap(settings.send_buffer) {
  connect_socket(settings);
  try {
    handshake(settings);
  } catch (...) {
    ::close(_fd);
    _fd = -1;
    throw;
  }
}

amqp_client::~amqp_client() {
  if (_fd >= 0) ::close(_fd);
}

void amqp_client::connect_socket(const client_settings& settings) {
  const amqp_uri& target = settings.target;
  if (!settings.allow_remote && !is_loopback_host(target.host)) {
    throw startup_error("refusing to load " + _where +
                        ": only loopback hosts (127.0.0.0/8, ::1, localhost) without --allow-remote");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(target.port);
  if (const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw startup_error("cannot resolve '" + target.host + "': " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (const addrinfo* ai = found; ai != nullptr && _fd < 0; ai = ai->ai_next) {
    if (!settings.allow_remote && !is_loopback_address(ai->ai_addr)) {
      last = "it resolves to a non-loopback address (pass --allow-remote to allow it)";
      continue;
    }
    int error = 0;
    _fd = connect_with_timeout(ai, settings.timeout_ms, error);
    if (_fd < 0) last = std::strerror(error);
  }
  ::freeaddrinfo(found);
  if (_fd < 0) throw startup_error("cannot connect to " + _where + ": " + last + " (is the broker running?)");
}

void amqp_client::handshake(const client_settings& settings) {
  {
    amqp::byte_writer w = writer();
    w.bytes(amqp::protocol_header);
    commit_or_throw(w);
  }
  // A broker that does not speak 0-9-1 answers with its own protocol header and closes.
  for (;;) {
    if (_in_end - _in_begin >= 4) break;
    const io_status s = receive(_timeout_ms);
    if (s != io_status::ok) throw startup_error("no connection.start from " + _where + ": " + describe(s));
  }
  if (std::memcmp(_in.get() + _in_begin, "AMQP", 4) == 0) {
    throw startup_error(_where + " answered with a protocol header: it does not speak AMQP 0-9-1");
  }

  const auto start = std::get<amqp::connection_start>(await_method(amqp::connection_start::id));
  if (start.mechanisms.value.find("PLAIN") == std::string_view::npos) {
    throw startup_error(_where + " does not offer the PLAIN mechanism (it offers '" +
                        std::string(start.mechanisms.value) + "')");
  }

  // The client properties RabbitMQ's clients send; authentication_failure_close asks for a
  // connection.close 403 instead of a silent socket close when the login is refused.
  std::array<std::byte, 1024> table_buffer{};
  amqp::byte_writer tw{table_buffer};
  amqp::table_writer props{tw};
  props.add("product", amqp::field_value::string("haremq-perf"));
  props.add("platform", amqp::field_value::string("C++20"));
  props.add("connection_name", amqp::field_value::string(settings.name));
  {
    auto caps = props.nested("capabilities", amqp::table_writer::kind::table);
    caps.add("publisher_confirms", amqp::field_value::boolean(true));
    caps.add("basic.nack", amqp::field_value::boolean(true));
    caps.add("consumer_cancel_notify", amqp::field_value::boolean(true));
    caps.add("connection.blocked", amqp::field_value::boolean(true));
    caps.add("authentication_failure_close", amqp::field_value::boolean(true));
    caps.finish();
  }
  const amqp::bytes_view props_bytes = props.finish();
  std::string response;
  response.reserve(settings.target.user.size() + settings.target.password.size() + 2);
  response.push_back('\0');
  response += settings.target.user;
  response.push_back('\0');
  response += settings.target.password;
  send_method(amqp::connection_start_ok{amqp::field_table::trusted(props_bytes), "PLAIN",
                                        amqp::long_string{response}, "en_US"},
              0);

  _stage = "while logging in as '" + settings.target.user + "'";
  const auto tune = std::get<amqp::connection_tune>(await_method(amqp::connection_tune::id));
  const std::uint32_t frame_max = negotiate(tune.frame_max, settings.frame_max);
  const std::uint16_t heartbeat = negotiate(tune.heartbeat, settings.heartbeat);
  send_method(amqp::connection_tune_ok{tune.channel_max, frame_max, heartbeat}, 0);
  _frame_max = frame_max;
  _heartbeat_ns = std::uint64_t{heartbeat} * ns_per_second;

  _stage = "while opening vhost '" + settings.target.vhost + "'";
  send_method(amqp::connection_open{settings.target.vhost, "", false}, 0);
  (void)await_method(amqp::connection_open_ok::id);
  _stage = "while opening channel 1";
  (void)call<amqp::channel_open_ok>(amqp::channel_open{});
  _stage = "during start-up";
}

amqp::method amqp_client::await_method(amqp::method_id expected) {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(_timeout_ms) * ns_per_ms;
  for (;;) {
    const amqp::frame_parse r = next_frame();
    if (r.outcome == amqp::frame_parse::status::error) {
      throw startup_error("malformed frame from " + _where + " " + _stage + ": " +
                          amqp::make_error_code(r.error).message());
    }
    if (r.outcome == amqp::frame_parse::status::frame) {
      if (r.parsed.type != amqp::frame_type::method) continue;  // heartbeats
      auto m = amqp::decode_method(r.parsed.payload);
      if (!m) throw startup_error("undecodable method from " + _where + ": " + m.error().message());
      if (auto failure = answer_close(*m)) throw startup_error(*failure + " (" + _stage + ")");
      const amqp::method_id id = amqp::id_of(*m);
      if (id == expected) return std::move(*m);
      if (id == amqp::connection_blocked::id || id == amqp::connection_unblocked::id) continue;
      throw startup_error("expected " + std::string(amqp::name_of(expected)) + " from " + _where + ", got " +
                          std::string(amqp::name_of(id)) + " (" + _stage + ")");
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline) {
      throw startup_error("no " + std::string(amqp::name_of(expected)) + " from " + _where + " within " +
                          std::to_string(_timeout_ms / 1000) + " s (" + _stage + ")");
    }
    const io_status s = receive(static_cast<int>((deadline - now) / ns_per_ms) + 1);
    if (s == io_status::closed) {
      // A broker refusing a login without authentication_failure_close just hangs up.
      throw startup_error("the broker at " + _where + " closed the socket " + _stage +
                          (_stage.find("logging in") != std::string::npos ? " (login refused?)" : ""));
    }
    if (s == io_status::failed) throw startup_error(describe(s) + " (" + _stage + ")");
  }
}

void amqp_client::commit_or_throw(const amqp::byte_writer& w) {
  if (!w.ok()) throw startup_error("a start-up frame does not fit the send buffer");
  commit(w.position());
  const io_status s = flush(_timeout_ms);
  if (s != io_status::ok) throw startup_error(describe(s) + " (" + _stage + ")");
}

void amqp_client::compact_input() noexcept {
  if (_in_begin == _in_end) {
    _in_begin = _in_end = 0;
  } else if (_in_begin > 0) {
    std::memmove(_in.get(), _in.get() + _in_begin, _in_end - _in_begin);
    _in_end -= _in_begin;
    _in_begin = 0;
  }
}

amqp_client::io_status amqp_client::receive(int timeout_ms) noexcept {
  compact_input();
  if (_in_end == _in_cap) return io_status::ok;  // full: the caller parses first
  if (timeout_ms > 0 && (wait(POLLIN, static_cast<std::uint64_t>(timeout_ms) * ns_per_ms) == 0)) {
    return io_status::timeout;
  }
  for (;;) {
    const ssize_t n = ::recv(_fd, _in.get() + _in_end, _in_cap - _in_end, MSG_DONTWAIT);
    if (n > 0) {
      _in_end += static_cast<std::size_t>(n);
      return io_status::ok;
    }
    if (n == 0) return io_status::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return io_status::timeout;
    _errno = errno;
    return errno == ECONNRESET ? io_status::closed : io_status::failed;
  }
}

amqp::frame_parse amqp_client::next_frame() noexcept {
  amqp::frame_parse r = amqp::parse_frame({_in.get() + _in_begin, _in_end - _in_begin}, _frame_max);
  _in_begin += r.consumed;
  return r;
}

amqp::byte_writer amqp_client::writer() noexcept {
  if (_out_begin == _out_end) {
    _out_begin = _out_end = 0;
  } else if (_out_begin > _out_cap / 2) {
    std::memmove(_out.get(), _out.get() + _out_begin, _out_end - _out_begin);
    _out_end -= _out_begin;
    _out_begin = 0;
  }
  return amqp::byte_writer{std::span<std::byte>{_out.get() + _out_end, _out_cap - _out_end}};
}

amqp_client::io_status amqp_client::send_some() noexcept {
  while (_out_begin < _out_end) {
    const ssize_t n = ::send(_fd, _out.get() + _out_begin, _out_end - _out_begin, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      _out_begin += static_cast<std::size_t>(n);
      _last_sent_ns = now_ns();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return io_status::timeout;
    _errno = errno;
    return (errno == EPIPE || errno == ECONNRESET) ? io_status::closed : io_status::failed;
  }
  _out_begin = _out_end = 0;
  return io_status::ok;
}

amqp_client::io_status amqp_client::flush(int timeout_ms) noexcept {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * ns_per_ms;
  for (;;) {
    const io_status s = send_some();
    if (s != io_status::timeout) return s;
    const std::uint64_t now = now_ns();
    if (now >= deadline) return io_status::timeout;
    compact_input();
    const bool room = _in_end < _in_cap;
    const short events = wait(static_cast<short>(POLLOUT | (room ? POLLIN : 0)), deadline - now);
    if ((events & POLLIN) != 0 && room) {
      const io_status r = receive(0);
      if (r == io_status::closed || r == io_status::failed) return r;
    }
  }
}

short amqp_client::wait(short events, std::uint64_t timeout_ns) noexcept {
  pollfd p{_fd, events, 0};
  const timespec ts{static_cast<time_t>(timeout_ns / ns_per_second), static_cast<long>(timeout_ns % ns_per_second)};
  const int n = ::ppoll(&p, 1, &ts, nullptr);
  return n > 0 ? p.revents : 0;
}

void amqp_client::heartbeat_if_due(std::uint64_t now) noexcept {
  if (_heartbeat_ns == 0 || now - _last_sent_ns < _heartbeat_ns / 2) return;
  amqp::byte_writer w = writer();
  amqp::write_heartbeat_frame(w);
  if (w.ok()) commit(w.position());
  _last_sent_ns = now;  // even if the socket is full: the bytes ahead of it count as well
  (void)send_some();
}

std::optional<std::string> amqp_client::answer_close(const amqp::method& m) noexcept {
  if (const auto* c = std::get_if<amqp::connection_close>(&m)) {
    std::string text = "the broker closed the connection: " + describe_close(c->reply_code, c->reply_text);
    amqp::byte_writer w = writer();
    amqp::write_method_frame(w, 0, amqp::connection_close_ok{});
    if (w.ok()) commit(w.position());
    (void)flush(1000);
    return text;
  }
  if (const auto* c = std::get_if<amqp::channel_close>(&m)) {
    std::string text = "the broker closed the channel: " + describe_close(c->reply_code, c->reply_text);
    if (c->class_id != 0) text += " (in reply to " + std::string(amqp::name_of({c->class_id, c->method_id})) + ")";
    amqp::byte_writer w = writer();
    amqp::write_method_frame(w, channel, amqp::channel_close_ok{});
    if (w.ok()) commit(w.position());
    (void)flush(1000);
    return text;
  }
  return std::nullopt;
}

std::string amqp_client::describe(io_status status) const {
  switch (status) {
    case io_status::ok: return "ok";
    case io_status::timeout: return "timed out talking to " + _where;
    case io_status::closed: return "the broker at " + _where + " closed the socket";
    case io_status::failed: return "socket error with " + _where + ": " + std::strerror(_errno);
  }
  return "?";
}

void amqp_client::close(int timeout_ms) noexcept {
  if (_fd < 0) return;
  // Whatever is unsent goes first: cutting a frame short would be a framing error.
  amqp::byte_writer w = writer();
  amqp::write_method_frame(w, 0, amqp::connection_close{200, "Goodbye", 0, 0});
  commit(w.position());
  if (flush(timeout_ms) == io_status::ok) {
    // Deliveries and confirms may still be ahead of the close-ok; skip them.
    const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * ns_per_ms;
    bool done = false;
    while (!done) {
      const amqp::frame_parse r = next_frame();
      if (r.outcome == amqp::frame_parse::status::error) break;
      if (r.outcome == amqp::frame_parse::status::frame) {
        if (r.parsed.type == amqp::frame_type::method && r.parsed.channel == 0) {
          const amqp::method_id id = amqp::peek_method_id(r.parsed.payload);
          if (id == amqp::connection_close_ok::id) done = true;
          if (id == amqp::connection_close::id) {
            amqp::byte_writer ok = writer();
            amqp::write_method_frame(ok, 0, amqp::connection_close_ok{});
            commit(ok.position());
            (void)flush(100);
            done = true;
          }
        }
        continue;
      }
      const std::uint64_t now = now_ns();
      if (now >= deadline) break;
      if (receive(static_cast<int>((deadline - now) / ns_per_ms) + 1) != io_status::ok) break;
    }
  }
  ::close(_fd);
  _fd = -1;
}

}  // namespace haremq::perf
