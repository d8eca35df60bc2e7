#include "app/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include "engine/memory_meter.h"
#include "net/amqp/method_codec.h"

namespace haremq::app {
namespace {

using namespace std::chrono_literals;
constexpr auto tick_interval = 100ms;
constexpr auto shutdown_grace = 3s;

std::uint64_t pack(io::conn_id id) noexcept { return (std::uint64_t{id.generation} << 32) | id.slot; }

// Whether an address (the one a client reached) is a loopback one.
bool is_loopback(const sockaddr_storage& peer) noexcept {
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return peer.ss_family == AF_UNIX;
}

void release_message(void* owner) noexcept { static_cast<engine::message*>(owner)->release(); }

// The address as text and the port of a peer.
std::pair<std::string, std::uint16_t> address_of(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return {text, ntohs(in->sin_port)};
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return {text, ntohs(in6->sin6_port)};
  }
  return {"", 0};
}

}  // namespace

// A connection's way out, over the worker's reactor.
class worker::socket_transport final : public session::transport {
 public:
  socket_transport(io::reactor& r, io::conn_id id) : _reactor(r), _id(id) {}
  std::span<std::byte> reserve(std::size_t n) override { return _reactor.reserve(_id, n); }
  void commit(std::size_t used) override {
    sent_bytes += used;
    ++writes;
    _reactor.commit(_id, used);
  }
  void send_body(const engine::message_ref& msg, amqp::bytes_view part) override {
    sent_bytes += part.size();
    ++writes;
    msg->retain();
    _reactor.send_external(_id, part, io::keepalive{msg.get(), &release_message});
  }
  std::size_t pending_output() const noexcept override { return _reactor.pending_output(_id); }
  void pause_reading(bool paused) override { _reactor.pause_reading(_id, paused); }
  void close() override { _reactor.close(_id); }
  void abort() override { _reactor.abort(_id); }

  std::uint64_t sent_bytes = 0;
  std::uint64_t writes = 0;

 private:
  io::reactor& _reactor;
  io::conn_id _id;
};

worker::worker(engine::worker_id id, broker_state& broker)
    : _id(id),
      _broker(broker),
      _store(broker.messages, *this),
      _replica(broker.topology),
      _shard(id, broker.topology, *this, &_store) {
  _outgoing.reserve(broker.mailboxes.size());
  for (auto& m : broker.mailboxes) _outgoing.push_back(outgoing{m->make_producer(), {}});
  _now = std::chrono::steady_clock::now();
  engine::turn_clock::set(_now);
  _next_tick = _now + tick_interval;
  _shard.route_dead_letters_with(_replica);
  _shard.set_default_consumer_timeout(broker.settings.consumer_timeout_ms);
}

result<std::unique_ptr<worker>> worker::create(engine::worker_id id, broker_state& broker, io::backend backend) {
  std::unique_ptr<worker> w(new worker(id, broker));
  auto reactor = io::reactor::create(backend, *w);
  if (!reactor) return reactor.error();
  w->_reactor = std::move(*reactor);
  io::reactor* r = w->_reactor.get();
  broker.mailboxes[id.value]->set_wake([r] { r->wake(); });
  return w;
}

worker::~worker() = default;

void worker::run() { _reactor->run(); }

worker::client* worker::find(io::conn_id id) noexcept {
  const auto local = _by_conn.find(pack(id));
  if (local == _by_conn.end()) return nullptr;
  const auto it = _clients.find(local->second);
  return it == _clients.end() ? nullptr : &it->second;
}

void worker::on_accept(io::conn_id id, const sockaddr_storage& peer, const sockaddr_storage& reached) {
  _now = std::chrono::steady_clock::now();
  engine::turn_clock::set(_now);
  if (_broker.shutting_down.load(std::memory_order_relaxed)) {
    _reactor->abort(id);
    return;
  }
  const std::uint64_t local = _next_local++;
  client c;
  c.id = id;
  c.transport = std::make_unique<socket_transport>(*_reactor, id);
  c.session = std::make_unique<session::connection>(*this, *c.transport, engine::connection_key{_id, local},
                                                    is_loopback(reached));
  std::tie(c.peer_host, c.peer_port) = address_of(peer);
  c.connected_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (_alarms_seen.any()) c.session->on_alarms(_alarms_seen);
  _by_conn.emplace(pack(id), local);
  _clients.emplace(local, std::move(c));
}

std::size_t worker::on_data(io::conn_id id, std::span<const std::byte> data) {
  client* c = find(id);
  if (c == nullptr) return data.size();
  _now = std::chrono::steady_clock::now();
  engine::turn_clock::set(_now);
  const std::size_t used = c->session->on_data(data);
  c->received_bytes += used;
  ++c->reads;
  // What one read produced goes at once, so other workers start on it while this one goes
  // on with its other sockets.
  flush_outgoing();
  return used;
}

void worker::on_closed(io::conn_id id, std::error_code) {
  const auto local = _by_conn.find(pack(id));
  if (local == _by_conn.end()) return;
  const auto it = _clients.find(local->second);
  _by_conn.erase(local);
  if (it == _clients.end()) return;
  it->second.session->on_closed();
  _closed.push_back(std::move(it->second));
  _clients.erase(it);
}

void worker::post(engine::worker_id to, engine::command&& c) {
  if (to == _id) {
    _local.push_back(std::move(c));
  } else {
    _outgoing[to.value].batch.push_back(std::move(c));
  }
}

bool worker::congested(engine::worker_id w) const noexcept {
  return w != _id && _broker.mailboxes[w.value]->size_approx() > engine::mailbox::high_mark;
}

bool worker::relieved() const noexcept {
  for (const auto& m : _broker.mailboxes) {
    if (m->size_approx() > engine::mailbox::low_mark) return false;
  }
  return true;
}

void worker::relieve_waiters() {
  std::erase_if(_relief_waiters, [&](std::uint64_t local) {
    const auto it = _clients.find(local);
    return it == _clients.end() || !it->second.session->on_relief();
  });
}

void worker::flush_outgoing() {
  for (std::size_t w = 0; w < _outgoing.size(); ++w) _broker.mailboxes[w]->post_batch(_outgoing[w].producer, _outgoing[w].batch);
}

void worker::handle(engine::command&& c) {
  if (auto* task = std::get_if<engine::task_cmd>(&c)) {
    (*task->run)(*this);
    return;
  }
  if (const auto to = engine::addressee(c)) {
    const auto it = _clients.find(to->connection.local);
    if (it != _clients.end()) {
      it->second.session->on_command(std::move(c));
    } else {
      engine::give_back(std::move(c), *this);
    }
    return;
  }
  _shard.handle_command(std::move(c));
}

session::connection_endpoint worker::endpoint_of(const client& c) const {
  session::connection_endpoint e{*c.session, c.peer_host, c.peer_port, _broker.settings.bind, _broker.amqp_port};
  e.connected_at_ms = c.connected_at_ms;
  e.received_bytes = c.received_bytes;
  e.sent_bytes = c.transport->sent_bytes;
  e.reads = c.reads;
  e.writes = c.transport->writes;
  e.pending_output = c.transport->pending_output();
  return e;
}

void worker::for_each_connection(const std::function<void(const session::connection_endpoint&)>& f) {
  for (const auto& [_, c] : _clients) f(endpoint_of(c));
}

void worker::close_connections(const std::function<bool(const session::connection_endpoint&)>& match,
                               std::string_view reason) {
  for (auto& [_, c] : _clients) {
    if (match(endpoint_of(c))) c.session->shutdown(reason);
  }
}

void worker::drain_local() {
  // Handling a command may post more for this worker; bounded so one turn cannot spin.
  std::vector<engine::command> batch;
  for (int round = 0; round < 64 && !_local.empty(); ++round) {
    batch.swap(_local);
    for (auto& c : batch) handle(std::move(c));
    batch.clear();
  }
  if (!_local.empty()) _reactor->wake();
}

void worker::on_turn() {
  _now = std::chrono::steady_clock::now();
  engine::turn_clock::set(_now);
  drain_local();
  constexpr std::size_t most_per_turn = 4096;  // then sockets get their turn
  const std::size_t drained =
      _broker.mailboxes[_id.value]->drain([this](engine::command&& c) { handle(std::move(c)); }, most_per_turn);
  if (drained == most_per_turn) _reactor->wake();
  drain_local();
  _shard.flush_receipts();
  drain_local();
  if (!_relief_waiters.empty()) {
    relieve_waiters();
    drain_local();
  }
  _shard.run_timers(engine::turn_clock::now());
  drain_local();

  if (_now >= _next_tick) {
    _next_tick = _now + tick_interval;
    retry_store();
    check_alarms();
    _shard.store_progressed();  // receipts held while the definitions could not be saved
    for (auto& [_, c] : _clients) c.session->on_tick();
    drain_local();
  }
  // Group commit: what this turn logged goes to the disk in one write and one sync, unless the
  // previous one is still on its way (then it goes with what the next turns add).
  _store.flush();
  if (_broker.shutting_down.load(std::memory_order_relaxed)) {
    if (!_shutdown_started) begin_shutdown();
    // The log is flushed before the loop ends; a failing disk does not hold shutdown up.
    const bool stored = !_store.in_flight() && (_store.idle() || _store.failing());
    if ((_clients.empty() || _now >= _shutdown_deadline) && stored) _reactor->stop();
  }
  _closed.clear();
  flush_outgoing();  // last: whatever this turn posted to other workers goes now
}

std::chrono::nanoseconds worker::due_in() const noexcept {
  const std::int64_t next = _shard.next_deadline();
  if (next == INT64_MAX) return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds{std::max<std::int64_t>(0, next - engine::turn_clock::now())};
}

void worker::on_file_written(std::uint64_t, std::size_t written, std::error_code error) {
  _store.on_written(written, error);
  _shard.store_progressed();
}

void worker::retry_store() {
  const bool definitions = _id.value == 0 && _broker.topology.persistence_failing();
  if ((!_store.failing() && !definitions) || _now < _next_store_retry) return;
  _next_store_retry = _now + std::chrono::seconds{1};
  if (_store.failing()) _store.retry();
  if (definitions) _broker.topology.retry_persistence();
}

void worker::check_alarms() {
  if (_id.value == 0) {
    const std::int64_t used = engine::memory_meter::total();
    const bool over = used > 0 && static_cast<std::uint64_t>(used) > _broker.memory_limit;
    if (over != _broker.memory_alarm.load(std::memory_order_relaxed)) {
      _broker.memory_alarm.store(over, std::memory_order_relaxed);
      if (over) {
        spdlog::warn("memory alarm: messages hold {} bytes, over the limit of {}; publishers are blocked", used,
                     _broker.memory_limit);
      } else {
        spdlog::info("memory alarm cleared: messages hold {} bytes; publishers go on", used);
      }
    }
  }
  if (_store.failing() != _store_failing) {
    _store_failing = _store.failing();
    _broker.failing_stores.fetch_add(_store_failing ? 1 : -1, std::memory_order_relaxed);
    if (!_store_failing) spdlog::info("disk alarm cleared on worker {}: the message log writes again", _id.value);
  }
  const session::resource_alarms alarms{_broker.memory_alarm.load(std::memory_order_relaxed),
                                        _broker.failing_stores.load(std::memory_order_relaxed) > 0 ||
                                            _broker.topology.persistence_failing()};
  if (alarms == _alarms_seen) return;
  _alarms_seen = alarms;
  for (auto& [_, c] : _clients) c.session->on_alarms(alarms);
}

void worker::begin_shutdown() {
  _shutdown_started = true;
  _shutdown_deadline = _now + shutdown_grace;
  for (auto& [_, c] : _clients) c.session->shutdown();
  drain_local();
}

}  // namespace haremq::app
