#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session/connection.h"
#include "net/amqp/method_codec.h"
#include "tests/support/frame_feeder.h"

// Runs session::connection objects without sockets or threads: a fake transport collects
// what a connection writes, a fake host owns a real topology, replica and shard, and
// commands between them are delivered in order by run_until_idle(). One worker.
namespace haremq::test {

class fake_transport final : public session::transport {
 public:
  std::span<std::byte> reserve(std::size_t n) override {
    _scratch.resize(n);
    return _scratch;
  }
  void commit(std::size_t used) override { written.insert(written.end(), _scratch.begin(), _scratch.begin() + static_cast<std::ptrdiff_t>(used)); }
  void send_body(const engine::message_ref&, amqp::bytes_view part) override {
    written.insert(written.end(), part.begin(), part.end());
  }
  std::size_t pending_output() const noexcept override { return 0; }
  void pause_reading(bool p) override { paused = p; }
  void close() override { closed = true; }
  void abort() override { aborted = true; }

  std::vector<std::byte> written;
  bool paused = false;
  bool closed = false;
  bool aborted = false;

 private:
  std::vector<std::byte> _scratch;
};

class fake_host final : public session::host, public engine::outbox {
 public:
  fake_host() : _replica(_topology), _shard(engine::worker_id{0}, _topology, *this) {}

  engine::worker_id self() const noexcept override { return engine::worker_id{0}; }
  engine::topology_store& topology() noexcept override { return _topology; }
  engine::topology_replica& replica() noexcept override {
    _replica.refresh();
    return _replica;
  }
  engine::shard& shard() noexcept override { return _shard; }
  engine::outbox& outbox() noexcept override { return *this; }
  const session::session_config& config() const noexcept override { return settings; }
  std::chrono::steady_clock::time_point now() const noexcept override { return clock; }
  void post(engine::worker_id, engine::command&& c) override { _pending.push_back(std::move(c)); }
  // One worker; tests set `congest` to play a ring that filled up.
  bool congested(engine::worker_id) const noexcept override { return congest; }
  bool relieved() const noexcept override { return !congest; }
  void call_until_relieved(engine::connection_key c) override { waiting_for_relief.push_back(c); }
  std::vector<engine::connection_key> waiting_for_relief;
  bool congest = false;

  // Routes pending commands to the shard or to `connections` until none is left; nothing,
  // while `hold` is set (the queue's worker is busy elsewhere).
  void run_until_idle(const std::vector<session::connection*>& connections);
  bool hold = false;

  session::session_config settings;
  std::chrono::steady_clock::time_point clock = std::chrono::steady_clock::now();

 private:
  engine::topology_store _topology;
  engine::topology_replica _replica;
  engine::shard _shard;
  std::deque<engine::command> _pending;
};

// The client's opening: protocol header, start-ok PLAIN guest/<password>, tune-ok
// (2047, 131072, no heartbeat), open "/". It announces authentication_failure_close unless
// told otherwise, and connection.blocked when asked.
std::vector<std::byte> client_handshake(std::string_view password = "guest", bool auth_close = true,
                                        bool blocked_capability = false);

// One method frame's bytes.
template <class M>
std::vector<std::byte> method_bytes(std::uint16_t channel, const M& m) {
  std::vector<std::byte> buf(4096);
  amqp::byte_writer w{buf};
  amqp::write_method_frame(w, channel, m);
  return {w.written().begin(), w.written().end()};
}

// basic.publish with its content header (no properties) and one body frame.
std::vector<std::byte> publish_bytes(std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                                     std::string_view body);

// A method frame's method name ("basic.deliver"), or "undecodable".
std::string method_name(const owned_frame& f);
// The names of the method frames among `frames`, in order.
std::vector<std::string> method_names(const std::vector<owned_frame>& frames);

// A client's side of one session: feeds bytes as a socket would (whatever was not consumed
// is offered again with what follows, also after the session resumes reading).
class scripted_client {
 public:
  explicit scripted_client(fake_host& host, bool loopback = true);
  // Sends bytes and runs everything that follows until nothing is pending.
  void send(std::span<const std::byte> bytes);
  // Frames the session wrote since the last call (the first 8 bytes may be a protocol header).
  std::vector<owned_frame> take_frames();
  session::connection& session() noexcept { return *_session; }
  fake_transport& transport() noexcept { return _transport; }

 private:
  void pump();
  fake_host& _host;
  fake_transport _transport;
  std::unique_ptr<session::connection> _session;
  std::vector<std::byte> _unconsumed;
  std::size_t _read = 0;
  static inline std::uint64_t next_local = 1;
};

// The queue `name` in vhost "/", as `client` sees it (its exclusive queues too): null when
// the shard no longer holds it; throws (std::bad_variant_access) when the topology has no such queue.
engine::queue* find_queue(fake_host& host, scripted_client& client, std::string_view name);

}  // namespace haremq::test
