#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "app/config.h"
#include "engine/mailbox.h"
#include "engine/outbox.h"
#include "engine/session/connection.h"
#include "engine/session/worker_context.h"
#include "engine/shard.h"
#include "engine/store/message_store.h"
#include "engine/topology.h"
#include "net/io/reactor.h"

// One worker thread: its reactor, its shard of queues, the connections it accepted, and its
// mailbox. Commands for its own queues and connections never leave the thread; the others
// go to their worker's mailbox.
namespace haremq::app {

// What all workers share: the topology (changed under its own mutex) and every mailbox.
struct broker_state {
  explicit broker_state(const config& c, unsigned workers) : settings(c), mailboxes(workers) {
    for (auto& m : mailboxes) m = std::make_unique<engine::mailbox>();
  }
  const config& settings;
  engine::topology_store topology;
  std::vector<std::unique_ptr<engine::mailbox>> mailboxes;
  std::atomic<bool> shutting_down{false};
  // Set by worker 0 from engine::memory_meter; every worker tells its connections.
  std::atomic<bool> memory_alarm{false};
  std::uint64_t memory_limit = UINT64_MAX;
  // Where the workers' message logs go; the disk alarm is on while any of them cannot write.
  engine::store::segment_directory messages;
  std::atomic<int> failing_stores{0};
  std::uint16_t amqp_port = 0;  // the port the listeners bound
};

class worker final : public io::reactor_handler,
                     public session::worker_context,
                     public engine::outbox,
                     private engine::store::disk_writer {
 public:
  // Fails when the reactor of that backend cannot be set up (the caller may try epoll).
  static result<std::unique_ptr<worker>> create(engine::worker_id id, broker_state& broker, io::backend backend);
  ~worker() override;

  io::reactor& reactor() noexcept { return *_reactor; }
  // Runs the loop on the calling thread until the broker shuts down and the connections are closed.
  void run();

  // io::reactor_handler
  void on_accept(io::conn_id id, const sockaddr_storage& peer, const sockaddr_storage& local) override;
  std::size_t on_data(io::conn_id id, std::span<const std::byte> data) override;
  void on_closed(io::conn_id id, std::error_code reason) override;
  void on_turn() override;
  std::chrono::nanoseconds due_in() const noexcept override;
  void on_file_written(std::uint64_t token, std::size_t written, std::error_code error) override;

  // session::host
  engine::worker_id self() const noexcept override { return _id; }
  engine::topology_store& topology() noexcept override { return _broker.topology; }
  engine::topology_replica& replica() noexcept override {
    _replica.refresh();
    return _replica;
  }
  engine::shard& shard() noexcept override { return _shard; }
  engine::store::message_store& store() noexcept { return _store; }
  engine::outbox& outbox() noexcept override { return *this; }
  const session::session_config& config() const noexcept override { return _broker.settings.session; }
  std::chrono::steady_clock::time_point now() const noexcept override { return _now; }

  // engine::outbox
  void post(engine::worker_id to, engine::command&& c) override;
  bool congested(engine::worker_id w) const noexcept override;
  bool relieved() const noexcept override;
  void call_until_relieved(engine::connection_key c) override { _relief_waiters.push_back(c.local); }

  // session::worker_context
  void for_each_connection(const std::function<void(const session::connection_endpoint&)>& f) override;
  void close_connections(const std::function<bool(const session::connection_endpoint&)>& match,
                         std::string_view reason) override;

 private:
  worker(engine::worker_id id, broker_state& broker);
  class socket_transport;
  struct client {
    io::conn_id id;
    std::unique_ptr<socket_transport> transport;
    std::unique_ptr<session::connection> session;
    std::string peer_host;
    std::uint16_t peer_port = 0;
    std::int64_t connected_at_ms = 0;
    std::uint64_t received_bytes = 0;
    std::uint64_t reads = 0;
  };
  session::connection_endpoint endpoint_of(const client& c) const;

  // engine::store::disk_writer
  void write_and_sync(int fd, std::span<const std::byte> bytes, std::uint64_t offset) override {
    _reactor->write_file(fd, bytes, offset, 0);
  }

  void handle(engine::command&& c);
  void drain_local();
  void relieve_waiters();
  // On the tick: worker 0 weighs the messages against the limit, each worker says whether
  // its store can write, and passes a change of the alarms on to its connections.
  void check_alarms();
  void retry_store();
  void begin_shutdown();
  client* find(io::conn_id id) noexcept;

  engine::worker_id _id;
  broker_state& _broker;
  // Before the reactor, which must go first: a write in flight reads the store's buffers.
  engine::store::message_store _store;
  std::unique_ptr<io::reactor> _reactor;
  engine::topology_replica _replica;
  engine::shard _shard;
  std::vector<engine::command> _local;
  // Commands for other workers, gathered during a turn and moved into their mailboxes at its
  // end: one enqueue and one wake-up per worker per turn.
  struct outgoing {
    engine::mailbox::producer producer;
    std::vector<engine::command> batch;
  };
  std::vector<outgoing> _outgoing;  // by worker id
  void flush_outgoing();
  std::vector<std::uint64_t> _relief_waiters;  // connections throttled or waiting for output room
  session::resource_alarms _alarms_seen;
  bool _store_failing = false;  // as last counted in broker_state::failing_stores
  std::chrono::steady_clock::time_point _next_store_retry;
  std::unordered_map<std::uint64_t, client> _clients;  // by connection_key.local
  std::unordered_map<std::uint64_t, std::uint64_t> _by_conn;  // packed conn_id -> local
  std::vector<client> _closed;  // destroyed at the end of the turn, never inside a callback
  std::uint64_t _next_local = 1;
  std::chrono::steady_clock::time_point _now;
  std::chrono::steady_clock::time_point _next_tick;
  bool _shutdown_started = false;
  std::chrono::steady_clock::time_point _shutdown_deadline;
};

}  // namespace haremq::app
