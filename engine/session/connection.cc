#include "engine/session/connection.h"

#include <algorithm>

#include "net/amqp/method_codec.h"

namespace haremq::session {
namespace {

using amqp::reply_code;
using namespace std::chrono_literals;

constexpr auto handshake_timeout = 10s;  // RabbitMQ's handshake_timeout
constexpr auto close_ok_timeout = 30s;  // RabbitMQ waits as long for close-ok

// PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd.
bool parse_plain(std::string_view response, std::string& user, std::string& password) {
  const auto first = response.find('\0');
  if (first == std::string_view::npos) return false;
  const auto second = response.find('\0', first + 1);
  if (second == std::string_view::npos) return false;
  user = response.substr(first + 1, second - first - 1);
  password = response.substr(second + 1);
  return true;
}

// AMQPLAIN: a field table without its length prefix, holding LOGIN and PASSWORD.
bool parse_amqplain(std::string_view response, std::string& user, std::string& password) {
  auto table = amqp::field_table::parse(amqp::as_bytes(response));
  if (!table) return false;
  const auto login = table->find("LOGIN");
  const auto pass = table->find("PASSWORD");
  if (!login || !pass) return false;
  user = login->as_string();
  password = pass->as_string();
  return true;
}

}  // namespace

connection::connection(host& h, transport& t, engine::connection_key key, bool peer_is_loopback)
    : _host(h), _transport(t), _key(key), _peer_is_loopback(peer_is_loopback) {
  _opened_at = _host.now();
  _last_received = _opened_at;
  _last_heartbeat_sent = _opened_at;
}

connection::~connection() { release_channels(); }

void connection::send_start() {
  const auto& config = _host.config();
  std::array<std::byte, 1024> buffer{};
  amqp::byte_writer w{buffer};
  amqp::table_writer props{w};
  {
    auto caps = props.nested("capabilities", amqp::table_writer::kind::table);
    for (const char* cap : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                            "connection.blocked", "authentication_failure_close", "per_consumer_qos"}) {
      caps.add(cap, amqp::field_value::boolean(true));
    }
    caps.finish();
  }
  props.add("cluster_name", amqp::field_value::string(config.cluster_name));
  props.add("copyright", amqp::field_value::string("Copyright (c) the HareMQ authors"));
  props.add("information", amqp::field_value::string("An AMQP 0-9-1 broker compatible with RabbitMQ"));
  props.add("platform", amqp::field_value::string("C++20 / Linux"));
  props.add("product", amqp::field_value::string(config.product));
  props.add("version", amqp::field_value::string(config.version));
  const auto table = amqp::field_table::trusted(props.finish());
  send(0, amqp::connection_start{0, 9, table, {"PLAIN AMQPLAIN"}, {"en_US"}});
}

std::size_t connection::on_data(amqp::bytes_view data) {
  if (_state == state::closed) return data.size();
  std::size_t used = 0;
  if (_state == state::header) {
    switch (amqp::check_protocol_header(data)) {
      case amqp::header_check::need_more:
        return 0;
      case amqp::header_check::bad: {
        // Spec §4.2.2: answer with the header we speak, then close.
        auto room = _transport.reserve(amqp::protocol_header.size());
        std::copy(amqp::protocol_header.begin(), amqp::protocol_header.end(), room.begin());
        _transport.commit(amqp::protocol_header.size());
        _state = state::closed;
        _transport.close();
        return data.size();
      }
      case amqp::header_check::ok:
        used = amqp::protocol_header.size();
        send_start();
        _state = state::start_sent;
        break;
    }
  }
  while (used < data.size() && _state != state::closed && !reading_held()) {
    // RabbitMQ takes payloads up to frame-max itself (8 bytes more than the spec allows),
    // though its error text names frame-max - 8 as the limit.
    const auto r = amqp::parse_frame(data.subspan(used), _frame_max + amqp::frame_overhead);
    if (r.outcome == amqp::frame_parse::status::need_more) break;
    if (r.outcome == amqp::frame_parse::status::error) {
      fail(frame_error(r, _frame_max), 0);
      // A frame whose end or size is wrong leaves no frame boundary to find close-ok by:
      // RabbitMQ closes at once then; after an unknown frame type it waits for close-ok.
      if (r.error != amqp::errc::unknown_frame_type) {
        _state = state::closed;
        _transport.close();
      }
      return data.size();
    }
    used += r.consumed;
    _last_received = _host.now();
    if (!handle_frame(r.parsed)) break;
  }
  for (auto& [_, c] : _channels) c->flush_confirms();
  if (_state == state::closed || _state == state::closing || _state == state::releasing) return data.size();
  return used;
}

std::optional<amqp::method> connection::decode_or_fail(const amqp::frame& f) {
  auto decoded = amqp::decode_method(f.payload);
  if (decoded) return std::move(*decoded);
  const auto e = static_cast<amqp::errc>(decoded.error().value());
  if (e == amqp::errc::unknown_class || e == amqp::errc::unknown_method) {
    // RabbitMQ drops the socket at once on a method it cannot name.
    _state = state::closed;
    _transport.abort();
    return std::nullopt;
  }
  fail(undecodable(amqp::peek_method_id(f.payload), f.payload.subspan(std::min<std::size_t>(4, f.payload.size()))), 0);
  return std::nullopt;
}

bool connection::handle_frame(const amqp::frame& f) {
  if (f.type == amqp::frame_type::heartbeat) {
    if (f.channel != 0 && _state == state::open) {
      fail(make_error(reply_code::unexpected_frame, "type 8, all octets = <<>>"), 0);
      return false;
    }
    return true;
  }
  if (_state == state::releasing) return true;  // after the peer's connection.close: nothing
  if (_state == state::closing) {
    // After our connection.close only close-ok (or the peer's own close) matters (§1.4.2.5).
    if (f.type == amqp::frame_type::method && f.channel == 0) {
      const auto id = amqp::peek_method_id(f.payload);
      if (id == amqp::connection_close_ok::id || id == amqp::connection_close::id) {
        if (id == amqp::connection_close::id) send(0, amqp::connection_close_ok{});
        _state = state::closed;
        _transport.close();
        return false;
      }
    }
    return true;
  }
  if (f.channel == 0) {
    if (f.type != amqp::frame_type::method) {
      fail(make_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead"), 0);
      return false;
    }
    auto decoded = decode_or_fail(f);
    return decoded && handle_connection_method(*decoded);
  }
  if (_state != state::open) {
    fail(make_error(reply_code::channel_error, "expected 'connection.open'"), 0);
    return false;
  }
  return handle_channel_frame(f);
}

bool connection::authenticate(const amqp::connection_start_ok& m, std::string& mechanism_error) {
  std::string user, password;
  bool parsed = false;
  if (m.mechanism == "PLAIN") {
    parsed = parse_plain(m.response.value, user, password);
  } else if (m.mechanism == "AMQPLAIN") {
    parsed = parse_amqplain(m.response.value, user, password);
  } else {
    mechanism_error = "unknown authentication mechanism '" + std::string(m.mechanism) + "'";
    return false;
  }
  if (!parsed) return false;
  const auto account = _host.topology().find_user(user);
  if (!account || !engine::access::password_matches(password, account->password_hash, account->algorithm)) return false;
  const auto& loopback_users = _host.config().loopback_users;
  if (!_peer_is_loopback && std::find(loopback_users.begin(), loopback_users.end(), user) != loopback_users.end()) {
    return false;  // RabbitMQ's rule: guest only from localhost
  }
  _user = user;
  _mechanism = m.mechanism;
  const auto properties = m.client_properties.bytes();
  _client_properties.assign(properties.begin(), properties.end());
  return true;
}

connection_description connection::describe() const {
  connection_description d;
  d.user = _user;
  d.vhost = _vhost;
  switch (_state) {
    case state::header:
    case state::start_sent: d.state = "starting"; break;
    case state::tune_sent: d.state = "tuning"; break;
    case state::opening: d.state = "opening"; break;
    case state::open: d.state = _blocked ? "blocked" : "running"; break;
    case state::closing:
    case state::releasing:
    case state::closed: d.state = "closing"; break;
  }
  d.auth_mechanism = _mechanism;
  d.client_properties = _client_properties;
  d.frame_max = _frame_max;
  d.channel_max = _channel_max;
  d.heartbeat = _heartbeat;
  for (const auto& [number, ch] : _channels) d.channels.push_back(ch->describe());
  std::sort(d.channels.begin(), d.channels.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  return d;
}

bool connection::permits(engine::access::permission what, engine::access::resource_kind kind, std::string_view name) {
  auto& topology = _host.topology();
  if (_grant_version != topology.access_version()) {
    _grant_version = topology.access_version();
    const auto p = topology.find_permissions(_vhost, _user);
    _grant.emplace(p ? *p : engine::access::permission_record{});
  }
  return _grant->allows(what, kind, name);
}

bool connection::handle_connection_method(const amqp::method& m) {
  const amqp::method_id id = amqp::id_of(m);
  const auto& config = _host.config();
  switch (_state) {
    case state::start_sent: {
      const auto* start_ok = std::get_if<amqp::connection_start_ok>(&m);
      if (start_ok == nullptr) {
        fail(make_error(reply_code::command_invalid, "expected 'connection.start_ok'", id), 0);
        return false;
      }
      std::string mechanism_error;
      if (const auto caps = start_ok->client_properties.find("capabilities")) {
        const auto close = caps->as_table().find("authentication_failure_close");
        _client_wants_auth_close = close && close->as_bool();
        const auto blocked = caps->as_table().find("connection.blocked");
        _client_wants_blocked = blocked && blocked->as_bool();
      }
      if (!authenticate(*start_ok, mechanism_error)) {
        if (!mechanism_error.empty()) {
          fail(make_error(reply_code::command_invalid, mechanism_error, id), 0);
        } else if (_client_wants_auth_close) {
          // The refusal is said, then the socket closes without waiting for close-ok.
          fail(make_error(reply_code::access_refused, "Login was refused using authentication mechanism " +
                                                          std::string(start_ok->mechanism) +
                                                          ". For details see the broker logfile."),
               0);
          _state = state::closed;
          _transport.close();
        } else {
          // Without the capability the spec's rule applies: close the socket, say nothing.
          _state = state::closed;
          _transport.close();
        }
        return false;
      }
      send(0, amqp::connection_tune{config.channel_max, config.frame_max, config.heartbeat});
      _state = state::tune_sent;
      return true;
    }
    case state::tune_sent: {
      const auto* tune_ok = std::get_if<amqp::connection_tune_ok>(&m);
      if (tune_ok == nullptr) {
        fail(make_error(reply_code::command_invalid, "expected 'connection.tune_ok'", id), 0);
        return false;
      }
      // Out of range (RabbitMQ's bounds, 0 "unlimited" included): the socket is closed
      // without a word, as RabbitMQ does.
      const bool frame_max_ok = tune_ok->frame_max >= amqp::frame_min_size && tune_ok->frame_max <= config.frame_max;
      const bool channel_max_ok = tune_ok->channel_max != 0 && tune_ok->channel_max <= config.channel_max;
      if (!frame_max_ok || !channel_max_ok) {
        _state = state::closed;
        _transport.close();
        return false;
      }
      _frame_max = tune_ok->frame_max;
      _channel_max = tune_ok->channel_max;
      _heartbeat = tune_ok->heartbeat;
      _state = state::opening;
      return true;
    }
    case state::opening: {
      const auto* open = std::get_if<amqp::connection_open>(&m);
      if (open == nullptr) {
        fail(make_error(reply_code::command_invalid, "expected 'connection.open'", id), 0);
        return false;
      }
      if (!_host.topology().vhost_exists(open->virtual_host)) {
        fail(make_error(reply_code::not_allowed, "vhost " + std::string(open->virtual_host) + " not found", id), 0);
        return false;
      }
      if (!_host.topology().find_permissions(open->virtual_host, _user)) {
        fail(make_error(reply_code::not_allowed,
                        "access to vhost '" + std::string(open->virtual_host) + "' refused for user '" + _user + "'", id),
             0);
        return false;
      }
      _vhost = open->virtual_host;
      send(0, amqp::connection_open_ok{});
      _state = state::open;
      return true;
    }
    case state::open: {
      if (std::holds_alternative<amqp::connection_close>(m)) {
        // Close-ok once every queue has taken back the deliveries of every channel.
        release_channels(true);
        _channels.clear();
        _state = state::releasing;
        _closing_since = _host.now();
        if (_release_answers_due == 0) finish_peer_close();
        return false;
      }
      if (const auto* secret = std::get_if<amqp::connection_update_secret>(&m)) {
        (void)secret;
        send(0, amqp::connection_update_secret_ok{});
        return true;
      }
      if (std::holds_alternative<amqp::connection_blocked>(m) || std::holds_alternative<amqp::connection_unblocked>(m)) {
        return true;  // a client may send these; the broker ignores them, as RabbitMQ does
      }
      fail(make_error(reply_code::channel_error, "unexpected method in connection state running", id), 0);
      return false;
    }
    default:
      return false;
  }
}

channel* connection::find_channel(std::uint16_t number) noexcept {
  const auto it = _channels.find(number);
  return it == _channels.end() ? nullptr : it->second.get();
}

bool connection::handle_channel_frame(const amqp::frame& f) {
  channel* ch = find_channel(f.channel);
  if (f.type != amqp::frame_type::method) {
    if (ch == nullptr) {
      fail(make_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead"), 0);
      return false;
    }
    if (ch->closing() || ch->releasing()) return true;
    auto error = f.type == amqp::frame_type::header ? ch->on_header(f.payload) : ch->on_body(f.payload);
    if (error) fail(*error, f.channel);
    return _state == state::open;
  }

  auto decoded = decode_or_fail(f);
  if (!decoded) return false;
  const amqp::method& m = *decoded;

  if (ch == nullptr) {
    if (!std::holds_alternative<amqp::channel_open>(m)) {
      fail(make_error(reply_code::channel_error, "expected 'channel.open'", amqp::id_of(m)), f.channel);
      return false;
    }
    if (_channels.size() >= _channel_max) {
      fail(make_error(reply_code::not_allowed, "number of channels opened (" + std::to_string(_channels.size()) +
                                                   ") has reached the negotiated channel_max (" +
                                                   std::to_string(_channel_max) + ")"),
           0);
      return false;
    }
    _channels[f.channel] = std::make_unique<channel>(*this, f.channel, ++_channel_incarnations);
    send(f.channel, amqp::channel_open_ok{});
    return true;
  }

  if (ch->releasing()) return true;  // the client closed it: nothing more is due on it
  if (ch->closing()) {
    // Waiting for close-ok: everything else on this channel is dropped (spec §1.5.2.5).
    if (std::holds_alternative<amqp::channel_close_ok>(m)) {
      _channels.erase(f.channel);
    } else if (std::holds_alternative<amqp::channel_close>(m)) {
      send(f.channel, amqp::channel_close_ok{});
      _channels.erase(f.channel);
    }
    return true;
  }
  if (std::holds_alternative<amqp::channel_close>(m)) {
    // Close-ok once the channel's queues have taken its unacked deliveries back.
    const std::size_t answers = ch->release(true);
    if (answers == 0) {
      _channels.erase(f.channel);
      send(f.channel, amqp::channel_close_ok{});
      return true;
    }
    _release_answers_due += answers;
    ch->await_release(answers);
    return true;
  }
  if (std::holds_alternative<amqp::channel_close_ok>(m)) return true;
  if (std::holds_alternative<amqp::channel_open>(m)) {
    fail(make_error(reply_code::channel_error, "second 'channel.open' seen", amqp::channel_open::id), f.channel);
    return false;
  }
  if (auto error = ch->on_method(m)) {
    fail(*error, f.channel);
    return _state == state::open;
  }
  if (ch->awaiting()) {
    _reading_paused = true;
    _transport.pause_reading(true);
    return false;
  }
  return true;
}

void connection::fail(const protocol_error& e, std::uint16_t channel_number) {
  auto room = _transport.reserve(frame_room);
  amqp::byte_writer w{room};
  if (e.connection_level || channel_number == 0) {
    protocol_error hard = e;
    hard.connection_level = true;
    write_close(w, 0, hard);
    _transport.commit(w.position());
    release_channels();
    _state = state::closing;
    _closing_since = _host.now();
    if (_reading_paused) resume_reading();
    return;
  }
  write_close(w, channel_number, e);
  _transport.commit(w.position());
  if (channel* ch = find_channel(channel_number)) {
    ch->release();
    ch->start_closing();
  }
}

void connection::channel_failed(std::uint16_t number, const protocol_error& e) { fail(e, number); }

void connection::resume_reading() {
  if (!_reading_paused) return;
  _reading_paused = false;
  if (!reading_held()) _transport.pause_reading(false);
}

void connection::throttle() {
  if (_throttled) return;
  if (!_waiting_for_output) _host.call_until_relieved(_key);  // else it is on the list already
  _throttled = true;
  _transport.pause_reading(true);
}

void connection::wait_for_output_room() {
  if (_waiting_for_output) return;
  if (!_throttled) _host.call_until_relieved(_key);
  _waiting_for_output = true;
}

void connection::on_queue_full(engine::queue_id q, bool full, const std::string& reason) {
  const auto it = std::find(_full_queues.begin(), _full_queues.end(), q);
  if (full && it == _full_queues.end()) {
    _full_queues.push_back(q);
    if (_full_reason.empty()) _full_reason = reason;
    note_publish();
  } else if (!full && it != _full_queues.end()) {
    _full_queues.erase(it);
    if (_full_queues.empty()) {
      _full_reason.clear();
      on_alarms(_alarms);  // unblocks unless an alarm still holds it
    }
  }
}

void connection::on_alarms(resource_alarms alarms) {
  _alarms = alarms;
  const bool on = alarms.any() || !_full_queues.empty();
  if (on && _has_published) note_publish();
  if (!on && _blocked) {
    _blocked = false;
    if (_state == state::open && _client_wants_blocked) send(0, amqp::connection_unblocked{});
    _last_received = _host.now();
    if (!reading_held()) _transport.pause_reading(false);
  }
}

void connection::note_publish() {
  _has_published = true;
  if ((!_alarms.any() && _full_queues.empty()) || _blocked || _state != state::open) return;
  _blocked = true;
  // RabbitMQ's reasons, joined with " & " when both resources run low; else the full queue.
  const char* reason = _alarms.memory && _alarms.disk ? "low on memory & low on disk"
                       : _alarms.memory              ? "low on memory"
                       : _alarms.disk                ? "low on disk"
                                                     : _full_reason.c_str();
  if (_client_wants_blocked) send(0, amqp::connection_blocked{reason});
  _transport.pause_reading(true);
}

bool connection::on_relief() {
  if (_throttled && _host.relieved()) {
    _throttled = false;
    _last_received = _host.now();  // its heartbeats were not read meanwhile
    if (!reading_held()) _transport.pause_reading(false);
  }
  if (_waiting_for_output && !output_backed_up()) {
    _waiting_for_output = false;
    for (auto& [_, c] : _channels) c->on_output_room();
  }
  return _throttled || _waiting_for_output;  // false: the worker takes it off its list
}

void connection::remember_exclusive(engine::queue_target q) { _exclusive_queues.push_back(q); }

void connection::forget_exclusive(engine::queue_id q) {
  std::erase_if(_exclusive_queues, [&](const engine::queue_target& t) { return t.queue == q; });
}

void connection::on_command(engine::command&& c) {
  if (auto* full = std::get_if<engine::queue_full_cmd>(&c)) {
    on_queue_full(full->queue, full->full, full->reason);
    return;
  }
  if (auto* r = std::get_if<engine::channel_reply_cmd>(&c); r && std::holds_alternative<engine::released>(r->payload)) {
    on_released(r->to.channel);
    return;
  }
  const auto to = engine::addressee(c);
  channel* ch = to ? find_channel(to->channel) : nullptr;
  if (ch == nullptr) {
    engine::give_back(std::move(c), _host.outbox());
    return;
  }
  std::visit(
      [&](auto&& cmd) {
        using C = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<C, engine::deliver_cmd>) {
          ch->on_deliver(std::move(cmd));
        } else if constexpr (std::is_same_v<C, engine::channel_reply_cmd>) {
          ch->on_reply(std::move(cmd.payload));
        } else if constexpr (std::is_same_v<C, engine::consumer_cancelled_cmd>) {
          ch->on_consumer_cancelled(cmd.consumer);
        } else if constexpr (std::is_same_v<C, engine::enqueued_cmd>) {
          ch->on_enqueued(cmd.from, cmd.receipt, cmd.rejected);
        }
      },
      std::move(c));
}

void connection::on_tick() {
  const auto now = _host.now();
  switch (_state) {
    case state::header:
    case state::start_sent:
    case state::tune_sent:
    case state::opening:
      if (now - _opened_at > handshake_timeout) {
        _state = state::closed;
        _transport.abort();
      }
      return;
    case state::closing:
    case state::releasing:
      if (now - _closing_since > close_ok_timeout) {
        _state = state::closed;
        _transport.close();
      }
      return;
    case state::open:
      break;
    case state::closed:
      return;
  }
  if (_heartbeat == 0) return;
  const std::chrono::seconds interval{_heartbeat};
  // A peer silent for two intervals is gone (RabbitMQ: "missed heartbeats from client"),
  // unless we stopped reading from it (blocked or throttled), as RabbitMQ pauses its
  // heartbeat monitor then.
  if (now - _last_received > 2 * interval && !_blocked && !_throttled) {
    release_channels();
    _state = state::closed;
    _transport.abort();
    return;
  }
  if (now - _last_heartbeat_sent >= interval / 2) {
    auto room = _transport.reserve(amqp::frame_overhead);
    amqp::byte_writer w{room};
    amqp::write_heartbeat_frame(w);
    _transport.commit(w.position());
    _last_heartbeat_sent = now;
  }
}

void connection::release_channels(bool answer) {
  if (_released) return;
  _released = true;
  for (auto& [_, c] : _channels) _release_answers_due += c->release(answer);
  auto& out = _host.outbox();
  for (const auto& q : _exclusive_queues) out.post(q.owner, engine::channel_gone_cmd{q.queue, _key, 0, answer});
  if (answer) _release_answers_due += _exclusive_queues.size();
  _exclusive_queues.clear();
}

void connection::on_released(std::uint16_t number) {
  if (_release_answers_due == 0) return;
  --_release_answers_due;
  if (channel* ch = find_channel(number); ch != nullptr && ch->on_released()) {
    _channels.erase(number);
    if (_state == state::open) send(number, amqp::channel_close_ok{});
  }
  if (_state == state::releasing && _release_answers_due == 0) finish_peer_close();
}

void connection::finish_peer_close() {
  send(0, amqp::connection_close_ok{});
  _state = state::closed;
  _transport.close();
}

void connection::shutdown(std::string_view reason) {
  if (_state == state::closed) return;
  if (_state != state::closing && _state != state::releasing) {
    fail(make_error(reply_code::connection_forced, std::string(reason)), 0);
  }
  _state = state::closed;
  _transport.close();
}

void connection::on_closed() {
  release_channels();
  _state = state::closed;
}

}  // namespace haremq::session
