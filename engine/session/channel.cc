#include "engine/session/channel.h"

#include <algorithm>
#include <random>

#include "engine/arguments.h"
#include "engine/header_routes.h"
#include "engine/publish_checks.h"
#include "engine/session/connection.h"
#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"

namespace haremq::session {
namespace {

using amqp::reply_code;
using engine::access::permission;
using resource = engine::access::resource_kind;

// Bodies at least this long are sent from the message itself (gathered); shorter ones are
// copied into the output buffer beside their frame headers, which costs less than an iovec
// entry and a keepalive of their own (gathering every body: 16-byte deliveries at 0.68x the
// rate, 256-byte ones at 0.93x, haremq-perf -a, 2 workers).
constexpr std::size_t external_body_threshold = 512;

std::string generated_consumer_tag() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tag = "amq.ctag-";
  for (int i = 0; i < 22; ++i) tag += alphabet[rng() % 64];
  return tag;
}

protocol_error engine_error(const engine::reply_error& e, amqp::method_id method) {
  return from_engine(e.code, e.text, method, false);
}

}  // namespace

channel::channel(connection& owner, std::uint16_t number, std::uint32_t incarnation)
    : _connection(owner), _number(number), _incarnation(incarnation) {}

channel::~channel() = default;

// Confirms owed go out before anything else this channel sends: a client sees the ack of
// publish N before the return or reply caused by publish N+1, as RabbitMQ orders them.
template <class M>
void channel::write_method(const M& m) {
  flush_confirms();
  _connection.send(_number, m);
}

engine::reply_to channel::reply_address() const noexcept { return engine::reply_to{_connection.key(), _number}; }

void channel::wait_for(pending p) { _pending = std::move(p); }

void channel::touch(engine::queue_target q) {
  if (std::none_of(_touched.begin(), _touched.end(), [&](const auto& t) { return t.queue == q.queue; })) {
    _touched.push_back(q);
  }
}

void channel::forget_consumer(std::uint32_t number) {
  std::erase_if(_consumers, [&](const consumer& c) { return c.number == number; });
}

channel::consumer* channel::find_consumer(std::uint32_t number) noexcept {
  for (auto& c : _consumers) {
    if (c.number == number) return &c;
  }
  return nullptr;
}

std::optional<engine::queue_target> channel::lookup_queue(std::string_view name, amqp::method_id method,
                                                          protocol_error& error) {
  auto found = _connection.host_ref().topology().find_queue(_connection.vhost(), name, _connection.key());
  if (auto* e = std::get_if<engine::reply_error>(&found)) {
    error = engine_error(*e, method);
    return std::nullopt;
  }
  const auto& q = std::get<engine::queue_record>(found);
  return engine::queue_target{q.id, q.owner};
}

channel_description channel::describe() const {
  channel_description d;
  d.number = _number;
  d.prefetch = _prefetch;
  d.global_prefetch = _global_prefetch;
  d.unacked = static_cast<std::uint32_t>(_unacked.size());
  d.confirm = _confirming;
  d.unconfirmed = _confirming && _next_publish_seq > _confirmed_upto + 1 ? _next_publish_seq - 1 - _confirmed_upto : 0;
  d.transactional = _transactional;
  for (const auto& c : _consumers) d.consumers.push_back({c.tag, c.queue.queue, !c.no_ack, c.prefetch, c.exclusive});
  return d;
}

channel::method_result channel::refuse_unless(engine::access::permission what, engine::access::resource_kind kind,
                                              std::string_view name, amqp::method_id method) {
  if (_connection.permits(what, kind, name)) return std::nullopt;
  return make_error(reply_code::access_refused,
                    engine::access::refusal(kind, name, _connection.vhost(), _connection.user()), method);
}

channel::method_result channel::refuse_forwarding(engine::access::resource_kind kind, std::string_view name,
                                                  const amqp::field_table& arguments, std::string_view argument,
                                                  amqp::method_id method) {
  const auto target = arguments.find(argument);
  // Of another type: the declare's own 406 says so.
  if (!target || target->type() != amqp::field_type::long_string) return std::nullopt;
  if (auto refused = refuse_unless(permission::read, kind, name, method)) return refused;
  return refuse_unless(permission::write, resource::exchange, target->as_string(), method);
}

// RabbitMQ's rule for a binding: write on its destination, read on its source exchange.
channel::method_result channel::refuse_binding(engine::access::resource_kind destination_kind,
                                               std::string_view destination, std::string_view source,
                                               amqp::method_id method) {
  if (auto refused = refuse_unless(permission::write, destination_kind, destination, method)) return refused;
  return refuse_unless(permission::read, resource::exchange, source, method);
}

std::optional<protocol_error> channel::on_method(const amqp::method& m) {
  if (_content.state != content_state::none) return content_expected();
  return std::visit(
      [&](const auto& typed) -> method_result {
        using M = std::decay_t<decltype(typed)>;
        if constexpr (requires { this->handle(typed); }) {
          return handle(typed);
        } else {
          // A method a client may not send on an open channel (a reply, or one of class
          // connection): RabbitMQ closes the connection with 503 COMMAND_INVALID.
          return make_error(reply_code::command_invalid, "unimplemented method", M::id);
        }
      },
      m);
}

// --- channel ---

channel::method_result channel::handle(const amqp::channel_flow& m) {
  write_method(amqp::channel_flow_ok{m.active});
  return std::nullopt;
}

// --- exchange ---

channel::method_result channel::handle(const amqp::exchange_declare& m) {
  if (!m.passive) {
    if (auto refused = refuse_unless(permission::configure, resource::exchange, m.exchange, amqp::exchange_declare::id)) {
      return refused;
    }
    if (!_connection.host_ref().replica().find_exchange(_connection.vhost(), m.exchange)) {
      if (auto refused = refuse_forwarding(resource::exchange, m.exchange, m.arguments, "alternate-exchange",
                                           amqp::exchange_declare::id)) {
        return refused;
      }
    }
  }
  engine::exchange_declaration d{m.exchange, m.type, m.passive, m.durable, m.auto_delete, m.internal, m.arguments};
  if (auto e = _connection.host_ref().topology().declare_exchange(_connection.vhost(), d)) {
    return engine_error(*e, amqp::exchange_declare::id);
  }
  if (!m.no_wait) write_method(amqp::exchange_declare_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::exchange_delete& m) {
  if (auto refused = refuse_unless(permission::configure, resource::exchange, m.exchange, amqp::exchange_delete::id)) {
    return refused;
  }
  if (auto e = _connection.host_ref().topology().delete_exchange(_connection.vhost(), m.exchange, m.if_unused)) {
    return engine_error(*e, amqp::exchange_delete::id);
  }
  if (!m.no_wait) write_method(amqp::exchange_delete_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::exchange_bind& m) {
  if (auto refused = refuse_binding(resource::exchange, m.destination, m.source, amqp::exchange_bind::id)) return refused;
  if (auto e = _connection.host_ref().topology().bind(_connection.vhost(), engine::binding_kind::exchange,
                                                      m.destination, m.source, m.routing_key, m.arguments,
                                                      _connection.key())) {
    return engine_error(*e, amqp::exchange_bind::id);
  }
  if (!m.no_wait) write_method(amqp::exchange_bind_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::exchange_unbind& m) {
  if (auto refused = refuse_binding(resource::exchange, m.destination, m.source, amqp::exchange_unbind::id)) {
    return refused;
  }
  if (auto e = _connection.host_ref().topology().unbind(_connection.vhost(), engine::binding_kind::exchange,
                                                        m.destination, m.source, m.routing_key, m.arguments,
                                                        _connection.key())) {
    return engine_error(*e, amqp::exchange_unbind::id);
  }
  if (!m.no_wait) write_method(amqp::exchange_unbind_ok{});
  return std::nullopt;
}

// --- queue ---

channel::method_result channel::handle(const amqp::queue_declare& m) {
  auto& h = _connection.host_ref();
  // A server-named queue's name is chosen first: the user must be allowed to configure it.
  const std::string name = m.queue.empty() && !m.passive ? h.topology().new_queue_name() : std::string(m.queue);
  if (!m.passive) {
    if (auto refused = refuse_unless(permission::configure, resource::queue, name, amqp::queue_declare::id)) {
      return refused;
    }
    if (!h.topology().queue_named(_connection.vhost(), name)) {
      if (auto refused = refuse_forwarding(resource::queue, name, m.arguments, "x-dead-letter-exchange",
                                           amqp::queue_declare::id)) {
        return refused;
      }
    }
  }
  engine::queue_declaration d{name, m.queue.empty(), m.passive, m.durable, m.exclusive, m.auto_delete, m.arguments};
  auto declared = h.topology().declare_queue(_connection.vhost(), d, h.self(), _connection.key());
  if (auto* e = std::get_if<engine::reply_error>(&declared)) return engine_error(*e, amqp::queue_declare::id);
  const auto& record = std::get<engine::queue_record>(declared);
  const engine::queue_target target{record.id, record.owner};

  engine::queue* local = record.owner == h.self() ? h.shard().find(record.id) : nullptr;
  if (record.owner == h.self() && local == nullptr) {  // new: it lives here, where it was declared
    h.shard().create_queue(record);
    local = h.shard().find(record.id);
    if (record.settings.exclusive) _connection.remember_exclusive(target);
  }
  if (local != nullptr) {
    local->touch();  // any declare, passive too, counts as a use (x-expires)
    if (!m.no_wait) {
      write_method(amqp::queue_declare_ok{record.settings.name, local->ready_count(), local->consumer_count()});
    }
    return std::nullopt;
  }
  // Another worker's queue: its owner knows the counts.
  h.outbox().post(record.owner, engine::queue_op_cmd{record.id, engine::queue_op::declare_check, false, false,
                                                     reply_address()});
  wait_for(pending{pending_kind::declare, m.no_wait, false, record.settings.name, 0});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::queue_bind& m) {
  if (auto refused = refuse_binding(resource::queue, m.queue, m.exchange, amqp::queue_bind::id)) return refused;
  if (auto e = _connection.host_ref().topology().bind(_connection.vhost(), engine::binding_kind::queue, m.queue,
                                                      m.exchange, m.routing_key, m.arguments, _connection.key())) {
    return engine_error(*e, amqp::queue_bind::id);
  }
  if (!m.no_wait) write_method(amqp::queue_bind_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::queue_unbind& m) {
  if (auto refused = refuse_binding(resource::queue, m.queue, m.exchange, amqp::queue_unbind::id)) return refused;
  if (auto e = _connection.host_ref().topology().unbind(_connection.vhost(), engine::binding_kind::queue, m.queue,
                                                        m.exchange, m.routing_key, m.arguments, _connection.key())) {
    return engine_error(*e, amqp::queue_unbind::id);
  }
  write_method(amqp::queue_unbind_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::queue_purge& m) {
  if (auto refused = refuse_unless(permission::read, resource::queue, m.queue, amqp::queue_purge::id)) return refused;
  protocol_error error;
  const auto q = lookup_queue(m.queue, amqp::queue_purge::id, error);
  if (!q) return error;
  _connection.host_ref().outbox().post(q->owner, engine::queue_op_cmd{q->queue, engine::queue_op::purge, false, false,
                                                                      reply_address()});
  wait_for(pending{pending_kind::purge, m.no_wait, false, std::string(m.queue), 0});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::queue_delete& m) {
  if (auto refused = refuse_unless(permission::configure, resource::queue, m.queue, amqp::queue_delete::id)) {
    return refused;
  }
  protocol_error error;
  const auto q = lookup_queue(m.queue, amqp::queue_delete::id, error);
  if (!q) {
    // Deleting a queue that is not there is fine (RabbitMQ answers delete-ok with 0).
    if (error.code == reply_code::not_found) {
      if (!m.no_wait) write_method(amqp::queue_delete_ok{0});
      return std::nullopt;
    }
    return error;
  }
  _connection.host_ref().outbox().post(
      q->owner, engine::queue_op_cmd{q->queue, engine::queue_op::remove, m.if_unused, m.if_empty, reply_address()});
  _connection.forget_exclusive(q->queue);
  wait_for(pending{pending_kind::remove, m.no_wait, false, std::string(m.queue), 0});
  return std::nullopt;
}

// --- basic ---

channel::method_result channel::handle(const amqp::basic_qos& m) {
  // prefetch-size is not implemented by RabbitMQ either; prefetch-count applies to the
  // consumers started after it (global=false) or to the whole channel (global=true).
  if (m.prefetch_size != 0) {
    return make_error(reply_code::not_implemented, "prefetch_size!=0 (" + std::to_string(m.prefetch_size) + ")",
                      amqp::basic_qos::id);
  }
  if (m.global) {
    _global_prefetch = m.prefetch_count;
    grant_channel_credit();
  } else {
    _prefetch = m.prefetch_count;
  }
  write_method(amqp::basic_qos_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::basic_consume& m) {
  std::string tag = m.consumer_tag.empty() ? generated_consumer_tag() : std::string(m.consumer_tag);
  if (std::any_of(_consumers.begin(), _consumers.end(), [&](const consumer& c) { return c.tag == tag; })) {
    return make_error(reply_code::not_allowed, "attempt to reuse consumer tag '" + tag + "'", amqp::basic_consume::id);
  }
  if (auto refused = refuse_unless(permission::read, resource::queue, m.queue, amqp::basic_consume::id)) return refused;
  protocol_error error;
  const auto q = lookup_queue(m.queue, amqp::basic_consume::id, error);
  if (!q) return error;
  std::int64_t priority = 0;
  if (const auto p = m.arguments.find("x-priority")) {
    if (!p->is_integer()) {
      return make_error(reply_code::precondition_failed,
                        "invalid arg 'x-priority' for queue '" + std::string(m.queue) + "' in vhost '" +
                            _connection.vhost() + "': \"expected integer, got " +
                            std::string(engine::rabbit_type_name(p->type())) + "\"",
                        amqp::basic_consume::id);
    }
    priority = p->as_int();
  }
  const std::uint32_t number = _next_consumer++;
  engine::consume_cmd c;
  c.priority = priority;
  c.queue = q->queue;
  c.consumer = engine::consumer_address{_connection.key(), _number, number};
  c.tag = tag;
  c.prefetch = _prefetch;
  c.no_ack = m.no_ack;
  c.exclusive = m.exclusive;
  if (!m.no_ack && _global_prefetch != 0) c.channel_credit = channel_room();
  c.reply = reply_address();
  _connection.host_ref().outbox().post(q->owner, std::move(c));
  touch(*q);
  _consumers.push_back(consumer{number, tag, *q, m.no_ack, _prefetch, m.exclusive});
  wait_for(pending{pending_kind::consume, m.no_wait, m.no_ack, std::move(tag), number});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::basic_cancel& m) {
  const auto it = std::find_if(_consumers.begin(), _consumers.end(), [&](const consumer& c) { return c.tag == m.consumer_tag; });
  if (it == _consumers.end()) {
    // Cancelling an unknown tag is not an error (spec: the server answers cancel-ok).
    if (!m.no_wait) write_method(amqp::basic_cancel_ok{m.consumer_tag});
    return std::nullopt;
  }
  // The consumer stays until its queue lets it go: what the queue sent it meanwhile still
  // reaches the client (a no-ack delivery has nowhere else to go), before cancel-ok.
  _connection.host_ref().outbox().post(
      it->queue.owner, engine::cancel_cmd{it->queue.queue, engine::consumer_address{_connection.key(), _number, it->number},
                                          reply_address()});
  wait_for(pending{pending_kind::cancel, m.no_wait, false, std::string(m.consumer_tag), it->number});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::basic_publish& m) {
  if (m.immediate) return make_error(reply_code::not_implemented, "immediate=true", amqp::basic_publish::id);
  _content.state = content_state::header;
  _content.exchange.assign(m.exchange);
  _content.routing_key.assign(m.routing_key);
  _content.mandatory = m.mandatory;
  return std::nullopt;
}

// RabbitMQ's texts for a frame that is not the content it waits for, naming basic.publish.
protocol_error channel::content_expected() const {
  return make_error(reply_code::unexpected_frame,
                    _content.state == content_state::header
                        ? "expected content header for class 60, got non content header frame instead"
                        : "expected content body, got non content body frame instead",
                    amqp::basic_publish::id);
}

std::optional<protocol_error> channel::on_header(amqp::bytes_view payload) {
  if (_content.state == content_state::none) {
    return make_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead");
  }
  if (_content.state != content_state::header) return content_expected();
  auto header = amqp::decode_content_header(payload);
  if (!header) return make_error(reply_code::frame_error, "cannot decode content header");
  if (header->class_id != 60) {
    return make_error(reply_code::unexpected_frame, "content header for class " + std::to_string(header->class_id) +
                                                        " does not match method class 60");
  }
  const auto max = _connection.host_ref().config().max_message_size;
  if (header->body_size > max) {
    _content.state = content_state::none;
    return make_error(reply_code::precondition_failed, "message size " + std::to_string(header->body_size) +
                                                           " is larger than configured max size " + std::to_string(max),
                      amqp::basic_publish::id);
  }
  const auto& properties = header->properties;
  const auto traits = engine::message_traits::of(properties);
  // RabbitMQ names what is wrong with them only after the exchange checks.
  _content.invalid.reset();
  const auto refused = engine::publish_refusal(properties, traits, _connection.user(), [&] {
    const auto user = _connection.host_ref().topology().find_user(_connection.user());
    return user && user->has_tag("impersonator");
  });
  if (refused) _content.invalid = make_error(reply_code::precondition_failed, *refused, amqp::basic_publish::id);
  // A BCC header routes the message but leaves it before anyone sees it.
  const auto kept = traits.header_routes && !refused
                        ? engine::take_out_bcc(properties, payload.subspan(12), _content.without_bcc)
                        : engine::kept_properties{payload.subspan(12), {}};
  engine::message* msg = engine::message::create(_content.exchange, _content.routing_key, kept.properties,
                                                 header->body_size, traits, kept.bcc);
  if (msg == nullptr) return make_error(reply_code::resource_error, "out of memory");
  _content.msg = engine::message_ref{msg};
  _content.state = content_state::body;
  if (msg->complete()) return publish_complete();
  return std::nullopt;
}

std::optional<protocol_error> channel::on_body(amqp::bytes_view payload) {
  if (_content.state == content_state::none) {
    return make_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead");
  }
  if (_content.state != content_state::body) return content_expected();
  if (!_content.msg->append_body(payload)) {
    return make_error(reply_code::frame_error, "body frames longer than the content header's body size");
  }
  if (_content.msg->complete()) return publish_complete();
  return std::nullopt;
}

channel::method_result channel::publish_complete() {
  _content.state = content_state::none;
  engine::message_ref msg = std::move(_content.msg);
  auto& replica = _connection.host_ref().replica();
  const std::string& exchange = _content.exchange;
  const auto access_version = _connection.host_ref().topology().access_version();
  auto& target = _publish_target;
  if (exchange != target.name || access_version != target.access_version || replica.version() != target.replica_version ||
      !target.found) {
    target.found = {};
    if (auto refused = refuse_unless(permission::write, resource::exchange, exchange, amqp::basic_publish::id)) {
      return refused;
    }
    const auto found = replica.find_exchange_handle(_connection.vhost(), exchange);
    if (!found) {
      return make_error(reply_code::not_found, "no exchange '" + exchange + "' in vhost '" + _connection.vhost() + "'",
                        amqp::basic_publish::id);
    }
    target.name = exchange;
    target.access_version = access_version;
    target.replica_version = replica.version();
    target.found = found;
  }
  if (target.found.record().internal) {
    return make_error(reply_code::access_refused, "cannot publish to internal exchange '" + exchange + "' in vhost '" +
                                                      _connection.vhost() + "'",
                      amqp::basic_publish::id);
  }
  if (_content.invalid) return std::exchange(_content.invalid, std::nullopt);
  _connection.note_publish();
  _route_scratch.clear();
  replica.route(target.found, *msg, _route_scratch);

  if (_route_scratch.empty() && _content.mandatory) {
    write_method(amqp::basic_return{static_cast<std::uint16_t>(reply_code::no_route), "NO_ROUTE", exchange,
                                    _content.routing_key});
    write_content(msg);
  }
  if (_transactional) {
    _tx_publishes.push_back(tx_publish{std::move(msg), _route_scratch});
  } else {
    route_and_enqueue(std::move(msg), _route_scratch, _confirming ? _next_publish_seq++ : 0);
  }
  return std::nullopt;
}

void channel::route_and_enqueue(engine::message_ref msg, const std::vector<engine::queue_target>& targets,
                                std::uint64_t seq) {
  auto& out = _connection.host_ref().outbox();
  engine::enqueue_receipt receipt{reply_address(), _incarnation, seq};
  if (seq != 0 && targets.size() > 1) {
    // Only a publish's last enqueue to each worker answers for it (see enqueue_receipt::more).
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const std::size_t w = targets[i].owner.value;
      if (w >= _last_target_of_owner.size()) _last_target_of_owner.resize(w + 1);
      _last_target_of_owner[w] = i;
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    // The last queue takes the publisher's reference; the others share it.
    engine::message_ref ref = i + 1 == targets.size() ? std::move(msg) : msg.share();
    receipt.more = seq != 0 && targets.size() > 1 && _last_target_of_owner[targets[i].owner.value] != i;
    out.post(targets[i].owner, engine::enqueue_cmd{targets[i].queue, std::move(ref), receipt});
    if (_connection.host_ref().congested(targets[i].owner)) _connection.throttle();
    if (seq == 0) continue;
    const std::size_t w = targets[i].owner.value;
    if (w >= _owners.size()) _owners.resize(w + 1);
    owner_progress& p = _owners[w];
    if (p.taken >= p.posted) p.lag_start = seq;
    p.posted = seq;
  }
  if (seq == 0) return;
  _routed_upto = seq;  // an unroutable publish is confirmed at once, as RabbitMQ does
  update_enqueued_upto();
}

void channel::update_enqueued_upto() noexcept {
  std::uint64_t upto = _routed_upto;
  for (const owner_progress& p : _owners) {
    if (p.taken >= p.posted) continue;
    // Everything before the worker fell behind, and everything it has taken, is done there.
    upto = std::min(upto, std::max(p.taken, p.lag_start - 1));
  }
  _enqueued_upto = std::max(_enqueued_upto, upto);
}

void channel::on_enqueued(engine::worker_id from, const engine::enqueue_receipt& receipt,
                          const std::vector<std::uint64_t>& rejected) {
  if (receipt.incarnation != _incarnation || from.value >= _owners.size()) return;
  if (!rejected.empty()) {
    // Several queues (on several workers) may refuse the same publish: one nack.
    for (const std::uint64_t r : rejected) {
      const auto at = std::lower_bound(_rejected.begin(), _rejected.end(), r);
      if (at == _rejected.end() || *at != r) _rejected.insert(at, r);
    }
  }
  owner_progress& p = _owners[from.value];
  p.taken = std::max(p.taken, receipt.seq);
  update_enqueued_upto();
  flush_confirms();
  if (_pending.kind == pending_kind::commit && _enqueued_upto >= _commit_upto) {
    _pending = pending{};
    write_method(amqp::tx_commit_ok{});
    _connection.resume_reading();
  }
}

void channel::flush_confirms() {
  if (!_confirming || _enqueued_upto <= _confirmed_upto) return;
  // A publish a queue refused (reject-publish) gets its own basic.nack; acks cover the rest.
  while (!_rejected.empty() && _rejected.front() <= _enqueued_upto) {
    const std::uint64_t refused = _rejected.front();
    _rejected.erase(_rejected.begin());
    if (refused <= _confirmed_upto) continue;
    if (refused - 1 > _confirmed_upto) {
      _connection.send(_number, amqp::basic_ack{refused - 1, refused - 1 - _confirmed_upto > 1});
    }
    _connection.send(_number, amqp::basic_nack{refused, false, false});
    _confirmed_upto = refused;
  }
  if (_enqueued_upto <= _confirmed_upto) return;
  const bool multiple = _enqueued_upto - _confirmed_upto > 1;
  _connection.send(_number, amqp::basic_ack{_enqueued_upto, multiple});
  _confirmed_upto = _enqueued_upto;
}

channel::method_result channel::handle(const amqp::basic_get& m) {
  if (auto refused = refuse_unless(permission::read, resource::queue, m.queue, amqp::basic_get::id)) return refused;
  protocol_error error;
  const auto q = lookup_queue(m.queue, amqp::basic_get::id, error);
  if (!q) return error;
  _connection.host_ref().outbox().post(q->owner, engine::get_cmd{q->queue, reply_address(), m.no_ack});
  if (!m.no_ack) touch(*q);
  wait_for(pending{pending_kind::get, false, m.no_ack, std::string(m.queue), 0});
  return std::nullopt;
}

void channel::send_settle(engine::settle_action action, std::vector<unacked>& batch) {
  if (batch.empty()) return;
  if (_transactional && action != engine::settle_action::requeue) {
    _tx_settles.emplace_back(action, std::move(batch));
    batch.clear();
    return;
  }
  // One command per queue, in tag order.
  std::sort(batch.begin(), batch.end(), [](const unacked& a, const unacked& b) {
    return a.queue.queue.value != b.queue.queue.value ? a.queue.queue.value < b.queue.queue.value : a.tag < b.tag;
  });
  auto& out = _connection.host_ref().outbox();
  for (std::size_t i = 0; i < batch.size();) {
    engine::settle_cmd cmd;
    cmd.queue = batch[i].queue.queue;
    cmd.action = action;
    const engine::worker_id owner = batch[i].queue.owner;
    for (; i < batch.size() && batch[i].queue.queue == cmd.queue; ++i) cmd.dseqs.add(batch[i].dseq);
    out.post(owner, std::move(cmd));
  }
  batch.clear();
}

channel::method_result channel::settle(std::uint64_t tag, bool multiple, engine::settle_action action,
                                       amqp::method_id method) {
  std::vector<unacked>& batch = _settle_scratch;  // its capacity stays: an ack allocates nothing
  batch.clear();
  if (multiple) {
    // Every unsettled delivery up to `tag`; tag 0 means all of them (spec: basic.ack).
    const std::uint64_t upto = tag == 0 ? _next_delivery_tag : tag;
    if (tag != 0 && (tag >= _next_delivery_tag || _unacked.empty() || tag < _unacked.front().tag)) {
      return make_error(reply_code::precondition_failed, "unknown delivery tag " + std::to_string(tag), method);
    }
    for (auto& u : _unacked) {
      if (u.tag > upto) break;
      if (!u.settled) {
        u.settled = true;
        batch.push_back(u);
      }
    }
  } else {
    const auto it = std::lower_bound(_unacked.begin(), _unacked.end(), tag,
                                     [](const unacked& u, std::uint64_t t) { return u.tag < t; });
    if (it == _unacked.end() || it->tag != tag || it->settled) {
      return make_error(reply_code::precondition_failed, "unknown delivery tag " + std::to_string(tag), method);
    }
    it->settled = true;
    batch.push_back(*it);
  }
  while (!_unacked.empty() && _unacked.front().settled) _unacked.pop_front();
  settled_from_window(batch);
  send_settle(action, batch);
  return std::nullopt;
}

void channel::settled_from_window(const std::vector<unacked>& batch) {
  std::uint32_t freed = 0;
  for (const auto& u : batch) freed += u.counted ? 1 : 0;
  free_channel_room(freed);
}

void channel::free_channel_room(std::uint32_t freed) {
  if (freed == 0) return;
  _acked_unacked -= std::min(freed, _acked_unacked);
  if (_global_prefetch == 0) return;
  release_held();
  grant_channel_credit();
}

channel::method_result channel::handle(const amqp::basic_ack& m) {
  return settle(m.delivery_tag, m.multiple, engine::settle_action::ack, amqp::basic_ack::id);
}

channel::method_result channel::handle(const amqp::basic_reject& m) {
  return settle(m.delivery_tag, false, m.requeue ? engine::settle_action::requeue : engine::settle_action::drop,
                amqp::basic_reject::id);
}

channel::method_result channel::handle(const amqp::basic_nack& m) {
  return settle(m.delivery_tag, m.multiple, m.requeue ? engine::settle_action::requeue : engine::settle_action::drop,
                amqp::basic_nack::id);
}

channel::method_result channel::handle(const amqp::basic_recover_async& m) {
  if (!m.requeue) return make_error(reply_code::not_implemented, "requeue=false", amqp::basic_recover_async::id);
  std::vector<unacked> batch;
  for (auto& u : _unacked) {
    if (!u.settled) batch.push_back(u);
  }
  _unacked.clear();
  settled_from_window(batch);
  send_settle(engine::settle_action::requeue, batch);
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::basic_recover& m) {
  if (!m.requeue) return make_error(reply_code::not_implemented, "requeue=false", amqp::basic_recover::id);
  if (auto e = handle(amqp::basic_recover_async{true})) return e;
  write_method(amqp::basic_recover_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::confirm_select& m) {
  if (_transactional) {
    return make_error(reply_code::precondition_failed, "cannot switch from tx to confirm mode", amqp::confirm_select::id);
  }
  _confirming = true;
  if (!m.no_wait) write_method(amqp::confirm_select_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::tx_select&) {
  if (_confirming) {
    return make_error(reply_code::precondition_failed, "cannot switch from confirm to tx mode", amqp::tx_select::id);
  }
  _transactional = true;
  write_method(amqp::tx_select_ok{});
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::tx_commit&) {
  if (!_transactional) return make_error(reply_code::precondition_failed, "channel is not transactional", amqp::tx_commit::id);
  for (auto& p : _tx_publishes) route_and_enqueue(std::move(p.msg), p.targets, _next_publish_seq++);
  _tx_publishes.clear();
  auto settles = std::move(_tx_settles);
  _tx_settles.clear();
  _transactional = false;  // send_settle must not buffer these again
  for (auto& [action, batch] : settles) send_settle(action, batch);
  _transactional = true;
  // commit-ok once the queues have the messages: a client that then reads them from any
  // connection finds them there.
  _commit_upto = _next_publish_seq - 1;
  if (_enqueued_upto >= _commit_upto) {
    write_method(amqp::tx_commit_ok{});
  } else {
    wait_for(pending{pending_kind::commit, false, false, {}, 0});
  }
  return std::nullopt;
}

channel::method_result channel::handle(const amqp::tx_rollback&) {
  if (!_transactional) {
    return make_error(reply_code::precondition_failed, "channel is not transactional", amqp::tx_rollback::id);
  }
  _tx_publishes.clear();
  // Acks of a rolled-back transaction are forgotten: the deliveries are unacked again.
  for (auto& [action, batch] : _tx_settles) {
    for (auto& u : batch) {
      u.settled = false;
      const auto at = std::lower_bound(_unacked.begin(), _unacked.end(), u.tag,
                                       [](const unacked& a, std::uint64_t t) { return a.tag < t; });
      _unacked.insert(at, u);
    }
  }
  _tx_settles.clear();
  write_method(amqp::tx_rollback_ok{});
  return std::nullopt;
}

// --- what queue owners send back ---

void channel::on_reply(engine::reply_payload&& reply) {
  const pending p = std::move(_pending);
  _pending = pending{};
  if (auto* error = std::get_if<engine::reply_error>(&reply)) {
    if (p.kind == pending_kind::consume) {
      forget_consumer(p.consumer);
    }
    const amqp::method_id method = p.kind == pending_kind::consume   ? amqp::basic_consume::id
                                   : p.kind == pending_kind::get     ? amqp::basic_get::id
                                   : p.kind == pending_kind::purge   ? amqp::queue_purge::id
                                   : p.kind == pending_kind::remove  ? amqp::queue_delete::id
                                                                     : amqp::queue_declare::id;
    _connection.channel_failed(_number, engine_error(*error, method));
  } else {
    switch (p.kind) {
      case pending_kind::declare: {
        const auto& counts = std::get<engine::queue_counts>(reply);
        if (!p.no_wait) write_method(amqp::queue_declare_ok{p.name, counts.messages, counts.consumers});
        break;
      }
      case pending_kind::purge:
        if (!p.no_wait) write_method(amqp::queue_purge_ok{std::get<engine::queue_counts>(reply).messages});
        break;
      case pending_kind::remove:
        if (!p.no_wait) write_method(amqp::queue_delete_ok{std::get<engine::queue_counts>(reply).messages});
        break;
      case pending_kind::consume:
        if (!p.no_wait) write_method(amqp::basic_consume_ok{p.name});
        break;
      case pending_kind::get: {
        auto& got = std::get<engine::get_result>(reply);
        if (!got.msg) {
          write_method(amqp::basic_get_empty{});
          break;
        }
        const std::uint64_t tag = _next_delivery_tag++;
        if (!p.no_ack) _unacked.push_back(unacked{tag, engine::queue_target{got.queue, got.owner}, got.dseq, false});
        write_method(amqp::basic_get_ok{tag, got.redelivered, got.msg->exchange(), got.msg->routing_key(), got.remaining});
        write_content(got.msg);
        break;
      }
      case pending_kind::cancel:
        forget_consumer(p.consumer);
        if (!p.no_wait) write_method(amqp::basic_cancel_ok{p.name});
        break;
      case pending_kind::commit:
      case pending_kind::none:
        break;
    }
  }
  _connection.resume_reading();
}

void channel::on_deliver(engine::deliver_cmd&& d) {
  consumer* c = find_consumer(d.consumer.consumer);
  if (c == nullptr || _closing) {
    // Cancelled, or the channel is closing: the delivery goes back to its queue.
    if (d.dseq != 0) {
      _connection.host_ref().outbox().post(d.owner, engine::settle_cmd{d.queue, engine::settle_action::requeue, {d.dseq}});
    }
    return;
  }
  if (!c->no_ack && _global_prefetch != 0 && _acked_unacked >= _global_prefetch) {
    _held.push_back(std::move(d));  // the channel is full: it goes out when acks make room
    return;
  }
  const std::uint64_t tag = _next_delivery_tag++;
  if (!c->no_ack) {
    _unacked.push_back(unacked{tag, c->queue, d.dseq, false, true, c->number});
    ++_acked_unacked;
  }
  write_method(amqp::basic_deliver{c->tag, tag, d.redelivered, d.msg->exchange(), d.msg->routing_key()});
  write_content(d.msg);
  note_written(*c, d.msg->body_size());
}

void channel::note_written(consumer& c, std::uint64_t body_bytes) {
  // A quarter of the window per report: the queue never runs dry while reports travel.
  c.unreported_bytes += body_bytes;
  if (++c.unreported < engine::delivery_window / 4 && c.unreported_bytes < engine::delivery_window_bytes / 4) return;
  if (_connection.output_backed_up()) {
    _connection.wait_for_output_room();
    return;
  }
  report_written(c);
}

void channel::report_written(consumer& c) {
  _connection.host_ref().outbox().post(
      c.queue.owner,
      engine::written_cmd{c.queue.queue, engine::consumer_address{_connection.key(), _number, c.number}, c.unreported,
                          c.unreported_bytes});
  c.unreported = 0;
  c.unreported_bytes = 0;
}

void channel::on_output_room() {
  for (auto& c : _consumers) {
    if (c.unreported > 0 || c.unreported_bytes > 0) report_written(c);
  }
}

std::uint32_t channel::channel_room() const noexcept {
  if (_global_prefetch == 0) return UINT32_MAX;
  const std::uint64_t used = _acked_unacked + _held.size();
  return used >= _global_prefetch ? 0 : static_cast<std::uint32_t>(_global_prefetch - used);
}

void channel::grant_channel_credit() {
  const std::uint32_t room = channel_room();
  auto& out = _connection.host_ref().outbox();
  for (const auto& c : _consumers) {
    if (c.no_ack) continue;
    out.post(c.queue.owner, engine::credit_cmd{c.queue.queue, engine::consumer_address{_connection.key(), _number, c.number}, room});
  }
}

void channel::release_held() {
  while (!_held.empty() && (_global_prefetch == 0 || _acked_unacked < _global_prefetch)) {
    engine::deliver_cmd d = std::move(_held.front());
    _held.pop_front();
    on_deliver(std::move(d));
  }
}

void channel::on_consumer_cancelled(engine::consumer_address address) {
  const auto it = std::find_if(_consumers.begin(), _consumers.end(), [&](const consumer& c) { return c.number == address.consumer; });
  if (it == _consumers.end()) return;
  // consumer_cancel_notify: the client learns its queue is gone, or that it was too slow.
  write_method(amqp::basic_cancel{it->tag, true});
  _consumers.erase(it);
  // Its deliveries went back to the queue (consumer timeout) or with it: they no longer hold
  // the channel's prefetch. Their tags stay known, so that a late ack is taken, and ignored.
  std::uint32_t freed = 0;
  for (auto& u : _unacked) {
    if (u.consumer != address.consumer || !u.counted || u.settled) continue;
    u.counted = false;
    ++freed;
  }
  free_channel_room(freed);
}

void channel::write_content(const engine::message_ref& msg) {
  auto& out = _connection.out();
  const amqp::bytes_view properties = msg->properties();
  const amqp::bytes_view body = msg->body();
  const std::size_t chunk = amqp::max_payload(_connection.frame_max());
  const bool inline_body = body.size() < external_body_threshold;

  // Header frame, and the body inline when it is small: one reservation.
  const std::size_t header_size = amqp::frame_overhead + 12 + properties.size();
  const std::size_t room = header_size + (inline_body ? body.size() + amqp::frame_overhead * (body.size() / chunk + 1) : 0);
  auto buffer = out.reserve(room);
  amqp::byte_writer w{buffer};
  {
    amqp::frame_writer f{w, amqp::frame_type::header, _number};
    w.u16(60);
    w.u16(0);
    w.u64(body.size());
    w.bytes(properties);
    f.end();
  }
  if (inline_body) {
    for (std::size_t at = 0; at < body.size(); at += chunk) {
      amqp::write_body_frame(w, _number, body.subspan(at, std::min(chunk, body.size() - at)));
    }
    out.commit(w.position());
    return;
  }
  out.commit(w.position());
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const auto part = body.subspan(at, std::min(chunk, body.size() - at));
    auto head = out.reserve(amqp::frame_header_size);
    amqp::byte_writer hw{head};
    hw.u8(static_cast<std::uint8_t>(amqp::frame_type::body));
    hw.u16(_number);
    hw.u32(static_cast<std::uint32_t>(part.size()));
    out.commit(hw.position());
    out.send_body(msg, part);
    auto end = out.reserve(1);
    end[0] = std::byte{amqp::frame_end};
    out.commit(1);
  }
}

std::size_t channel::release(bool answer) {
  auto& out = _connection.host_ref().outbox();
  const std::size_t told = _touched.size();
  for (const auto& q : _touched) {
    out.post(q.owner, engine::channel_gone_cmd{q.queue, _connection.key(), _number, answer});
  }
  _touched.clear();
  _consumers.clear();
  _unacked.clear();
  _held.clear();  // their queues requeue them with the channel's other unacked deliveries
  _acked_unacked = 0;
  _content.msg.reset();
  _content.state = content_state::none;
  _tx_publishes.clear();
  _tx_settles.clear();
  return answer ? told : 0;
}

}  // namespace haremq::session
