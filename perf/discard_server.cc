#include "perf/discard_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "net/amqp/field_table.h"
#include "net/amqp/frame.h"
#include "net/amqp/method_codec.h"
#include "perf/amqp_client.h"

namespace haremq::perf {
namespace {

constexpr std::size_t read_size = 1 << 20;

bool send_all(int fd, amqp::bytes_view bytes) noexcept {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

// Replies are written into a small buffer and sent at the end of each read.
class reply_buffer {
 public:
  template <class M>
  void add(std::uint16_t channel, const M& m) noexcept {
    amqp::byte_writer w{std::span<std::byte>{_bytes.data() + _size, _bytes.size() - _size}};
    amqp::write_method_frame(w, channel, m);
    if (w.ok()) _size += w.position();
  }
  bool flush(int fd) noexcept {
    const bool ok = send_all(fd, {_bytes.data(), _size});
    _size = 0;
    return ok;
  }
  bool nearly_full() const noexcept { return _size + 1024 > _bytes.size(); }

 private:
  std::array<std::byte, 64 * 1024> _bytes{};
  std::size_t _size = 0;
};

}  // namespace

discard_server::discard_server(std::uint16_t port) {
  _listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (_listen_fd < 0) throw startup_error(std::string("discard server: socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(_listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(_listen_fd, 128) != 0) {
    const int e = errno;
    ::close(_listen_fd);
    throw startup_error("discard server: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(e));
  }
  socklen_t len = sizeof addr;
  ::getsockname(_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  _port = ntohs(addr.sin_port);
}

discard_server::~discard_server() {
  stop();
  if (_listen_fd >= 0) ::close(_listen_fd);
}

void discard_server::start() {
  _acceptor = std::thread([this] { accept_loop(); });
}

void discard_server::stop() noexcept {
  _stop.store(true, std::memory_order_release);
  if (_acceptor.joinable()) _acceptor.join();
  const std::lock_guard lock{_mutex};
  for (auto& t : _sessions) {
    if (t.joinable()) t.join();
  }
  _sessions.clear();
}

void discard_server::accept_loop() noexcept {
  while (!_stop.load(std::memory_order_acquire)) {
    pollfd p{_listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::lock_guard lock{_mutex};
    _sessions.emplace_back([this, fd] { serve(fd); });
  }
}

void discard_server::serve(int fd) noexcept {
  const std::unique_ptr<std::byte[]> in(new std::byte[read_size]);
  reply_buffer out;
  std::size_t begin = 0;
  std::size_t end = 0;
  bool header_seen = false;
  bool confirm_mode = false;
  std::uint16_t confirm_channel = 0;
  std::uint64_t published = 0;  // publishes on this connection
  std::uint64_t confirm_base = 0;  // `published` at confirm.select: confirms count from there
  std::uint64_t acked = 0;
  std::uint64_t reported = 0;
  bool open = true;

  while (open && !_stop.load(std::memory_order_acquire)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if (begin > 0) {
      std::memmove(in.get(), in.get() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    const ssize_t n = ::recv(fd, in.get() + end, read_size - end, 0);
    if (n <= 0) break;
    end += static_cast<std::size_t>(n);

    if (!header_seen) {
      const amqp::bytes_view head{in.get(), end};
      const amqp::header_check check = amqp::check_protocol_header(head);
      if (check == amqp::header_check::need_more) continue;
      if (check == amqp::header_check::bad) {
        (void)send_all(fd, amqp::protocol_header);
        break;
      }
      header_seen = true;
      begin = amqp::protocol_header.size();
      std::array<std::byte, 512> table{};
      amqp::byte_writer tw{table};
      amqp::table_writer props{tw};
      props.add("product", amqp::field_value::string("haremq-perf discard server"));
      {
        auto caps = props.nested("capabilities", amqp::table_writer::kind::table);
        caps.add("publisher_confirms", amqp::field_value::boolean(true));
        caps.add("basic.nack", amqp::field_value::boolean(true));
        caps.add("authentication_failure_close", amqp::field_value::boolean(true));
        caps.finish();
      }
      out.add(0, amqp::connection_start{0, 9, amqp::field_table::trusted(props.finish()),
                                        amqp::long_string{"PLAIN AMQPLAIN"}, amqp::long_string{"en_US"}});
    }

    for (;;) {
      const amqp::frame_parse r = amqp::parse_frame({in.get() + begin, end - begin}, 0);
      if (r.outcome == amqp::frame_parse::status::need_more) break;
      if (r.outcome == amqp::frame_parse::status::error) {
        open = false;
        break;
      }
      begin += r.consumed;
      if (r.parsed.type != amqp::frame_type::method) continue;  // content and heartbeats
      const amqp::method_id id = amqp::peek_method_id(r.parsed.payload);
      // The hot path: a publish is counted without being decoded.
      if (id == amqp::basic_publish::id) {
        ++published;
        continue;
      }
      auto m = amqp::decode_method(r.parsed.payload);
      if (!m) continue;
      const std::uint16_t ch = r.parsed.channel;
      std::visit(
          [&]<class M>(const M& x) {
            if constexpr (std::is_same_v<M, amqp::connection_start_ok>) {
              out.add(0, amqp::connection_tune{2047, amqp::default_frame_max, 0});
            } else if constexpr (std::is_same_v<M, amqp::connection_open>) {
              out.add(0, amqp::connection_open_ok{});
            } else if constexpr (std::is_same_v<M, amqp::connection_close>) {
              out.add(0, amqp::connection_close_ok{});
              open = false;
            } else if constexpr (std::is_same_v<M, amqp::channel_open>) {
              out.add(ch, amqp::channel_open_ok{});
            } else if constexpr (std::is_same_v<M, amqp::channel_close>) {
              out.add(ch, amqp::channel_close_ok{});
            } else if constexpr (std::is_same_v<M, amqp::exchange_declare>) {
              if (!x.no_wait) out.add(ch, amqp::exchange_declare_ok{});
            } else if constexpr (std::is_same_v<M, amqp::exchange_delete>) {
              if (!x.no_wait) out.add(ch, amqp::exchange_delete_ok{});
            } else if constexpr (std::is_same_v<M, amqp::queue_declare>) {
              if (!x.no_wait) out.add(ch, amqp::queue_declare_ok{x.queue.empty() ? "amq.gen-discard" : x.queue, 0, 0});
            } else if constexpr (std::is_same_v<M, amqp::queue_bind>) {
              if (!x.no_wait) out.add(ch, amqp::queue_bind_ok{});
            } else if constexpr (std::is_same_v<M, amqp::queue_delete>) {
              if (!x.no_wait) out.add(ch, amqp::queue_delete_ok{0});
            } else if constexpr (std::is_same_v<M, amqp::queue_purge>) {
              if (!x.no_wait) out.add(ch, amqp::queue_purge_ok{0});
            } else if constexpr (std::is_same_v<M, amqp::basic_qos>) {
              out.add(ch, amqp::basic_qos_ok{});
            } else if constexpr (std::is_same_v<M, amqp::basic_consume>) {
              if (!x.no_wait) out.add(ch, amqp::basic_consume_ok{x.consumer_tag.empty() ? "amq.ctag-discard" : x.consumer_tag});
            } else if constexpr (std::is_same_v<M, amqp::basic_cancel>) {
              if (!x.no_wait) out.add(ch, amqp::basic_cancel_ok{x.consumer_tag});
            } else if constexpr (std::is_same_v<M, amqp::confirm_select>) {
              confirm_mode = true;
              confirm_channel = ch;
              confirm_base = published;
              if (!x.no_wait) out.add(ch, amqp::confirm_select_ok{});
            }
          },
          *m);
      if (out.nearly_full() && !out.flush(fd)) open = false;
    }
    if (confirm_mode && published - confirm_base > acked) {
      acked = published - confirm_base;
      out.add(confirm_channel, amqp::basic_ack{acked, true});
    }
    if (!out.flush(fd)) break;
    _publishes.fetch_add(published - reported, std::memory_order_relaxed);
    reported = published;
  }
  ::close(fd);
}

}  // namespace haremq::perf
