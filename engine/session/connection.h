#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/command.h"
#include "engine/ids.h"
#include "engine/session/channel.h"
#include "engine/session/description.h"
#include "engine/session/host.h"
#include "engine/session/reply.h"
#include "net/amqp/frame.h"
#include "net/amqp/method_codec.h"
#include "net/amqp/methods.h"

// One client connection: the protocol header, the handshake (start, start-ok with PLAIN or
// AMQPLAIN, tune, tune-ok, open), heartbeats, channel 0's close handshake, and dispatch of
// frames to channels. Bytes in, frames out through its transport; no I/O of its own. Lives
// on one worker; not thread-safe.
namespace haremq::session {

class connection {
 public:
  // `peer_is_loopback`: the client reached a loopback address of the broker (RabbitMQ's test for
  // loopback_users).
  connection(host& h, transport& t, engine::connection_key key, bool peer_is_loopback);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Handles received bytes; returns how many were consumed (the rest are offered again).
  std::size_t on_data(amqp::bytes_view data);
  // Periodic: heartbeats and the handshake deadline.
  void on_tick();
  // A command from a queue owner for one of this connection's channels.
  void on_command(engine::command&& c);
  // The socket is gone: consumers stop, unacked deliveries go back, exclusive queues go.
  void on_closed();
  // The broker is stopping, or an operator closes it: connection.close with 320
  // CONNECTION_FORCED and `reason`, then the socket closes.
  void shutdown(std::string_view reason = "broker forced connection closure with reason 'shutdown'");
  connection_description describe() const;

  // For channels.
  host& host_ref() noexcept { return _host; }
  transport& out() noexcept { return _transport; }
  engine::connection_key key() const noexcept { return _key; }
  const std::string& vhost() const noexcept { return _vhost; }
  const std::string& user() const noexcept { return _user; }
  // Whether the user may do `what` to the named exchange or queue of this connection's vhost;
  // changes of permissions apply at once.
  bool permits(engine::access::permission what, engine::access::resource_kind kind, std::string_view name);
  std::uint32_t frame_max() const noexcept { return _frame_max; }
  void resume_reading();
  // Reading goes on only when no reply is awaited, no ring is congested, no alarm blocks.
  bool reading_held() const noexcept { return _reading_paused || _throttled || _blocked; }
  // A publish went to a congested mailbox: stop reading until the mailboxes are relieved.
  void throttle();
  // The output is over its high mark: consumers' windows stay shut until it drains.
  bool output_backed_up() const noexcept { return _transport.pending_output() > output_high_mark; }
  void wait_for_output_room();
  // Called by the worker each turn after call_until_relieved(); false once nothing waits.
  bool on_relief();
  // The broker's resource alarms (memory, disk) changed. While one is on, a connection that
  // publishes is blocked: connection.blocked (to clients with the capability) naming what runs
  // low, and no more reading until every alarm is off, then connection.unblocked. Consumers go on.
  void on_alarms(resource_alarms alarms);
  // A block-publishers queue this connection publishes to is full (or has room again): it is
  // blocked as by an alarm until every such queue has room.
  void on_queue_full(engine::queue_id q, bool full, const std::string& reason);
  // A channel completed a publish.
  void note_publish();
  bool blocked() const noexcept { return _blocked; }
  // A reply from a queue owner refused what the channel asked: close it (or the connection).
  void channel_failed(std::uint16_t number, const protocol_error& e);
  void remember_exclusive(engine::queue_target q);
  void forget_exclusive(engine::queue_id q);

  // Writes one method frame on `channel`.
  template <class M>
  void send(std::uint16_t channel, const M& m) {
    auto room = _transport.reserve(frame_room);
    amqp::byte_writer w{room};
    amqp::write_method_frame(w, channel, m);
    _transport.commit(w.position());
  }
  static constexpr std::size_t frame_room = 1024;  // any method frame the broker sends fits
  static constexpr std::size_t output_high_mark = 1024 * 1024;

 private:
  // releasing: the peer sent connection.close; close-ok waits for the queues (release_channels).
  enum class state { header, start_sent, tune_sent, opening, open, closing, releasing, closed };

  // Returns false when processing of the input must stop.
  bool handle_frame(const amqp::frame& f);
  // The frame's method; or, when it does not decode, the connection is failed as RabbitMQ
  // fails it (dropped for a method it cannot name, closed with 502/505 otherwise).
  std::optional<amqp::method> decode_or_fail(const amqp::frame& f);
  bool handle_connection_method(const amqp::method& m);
  bool handle_channel_frame(const amqp::frame& f);
  void fail(const protocol_error& e, std::uint16_t channel);
  bool authenticate(const amqp::connection_start_ok& m, std::string& mechanism_error);
  void send_start();
  channel* find_channel(std::uint16_t number) noexcept;
  void close_channel(std::uint16_t number);
  // Every channel ends (channel::release); with `answer`, the queues told answer `released`,
  // counted in _release_answers_due.
  void release_channels(bool answer = false);
  void on_released(std::uint16_t channel);
  void finish_peer_close();

  host& _host;
  transport& _transport;
  engine::connection_key _key;
  bool _peer_is_loopback;
  state _state = state::header;
  std::string _vhost;
  std::string _user;
  std::string _mechanism;
  std::vector<std::byte> _client_properties;
  std::optional<engine::access::grant> _grant;  // the user's rights in _vhost
  std::uint64_t _grant_version = 0;              // the access_version it was made at
  std::uint16_t _channel_max = 0;
  std::uint32_t _frame_max = amqp::frame_min_size;  // before tune-ok: the spec's minimum
  std::uint16_t _heartbeat = 0;
  std::chrono::steady_clock::time_point _opened_at;
  std::chrono::steady_clock::time_point _last_received;
  std::chrono::steady_clock::time_point _last_heartbeat_sent;
  std::chrono::steady_clock::time_point _closing_since;
  // Open channels by number; most connections use one or two, any number up to 65535 is legal.
  std::unordered_map<std::uint16_t, std::unique_ptr<channel>> _channels;
  std::vector<engine::queue_target> _exclusive_queues;
  bool _reading_paused = false;  // a channel waits for a queue owner's reply
  bool _throttled = false;       // a mailbox it publishes into is congested
  bool _blocked = false;         // a resource alarm holds this publisher
  resource_alarms _alarms;
  std::vector<engine::queue_id> _full_queues;  // block-publishers queues holding it back
  std::string _full_reason;
  bool _has_published = false;
  bool _client_wants_blocked = false;  // its capabilities say connection.blocked
  bool _waiting_for_output = false;
  std::uint32_t _channel_incarnations = 0;
  bool _client_wants_auth_close = false;  // its capabilities.authentication_failure_close
  bool _released = false;
  std::size_t _release_answers_due = 0;  // `released` answers still to come (any channel)
};

}  // namespace haremq::session
