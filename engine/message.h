#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "engine/turn_clock.h"
#include "net/amqp/byte_reader.h"
#include "net/amqp/properties.h"

// A published message: one reference-counted allocation (mimalloc) holding the exchange and
// routing key it was published with, its content-header properties as they came on the wire
// (flags and property list: re-sent verbatim on delivery, never re-encoded; only a BCC header
// is taken out first), its body, and the keys of that BCC header if it had one.
// The body is copied into it once, frame by frame, straight from the receive buffer.
// Shared by every queue it is routed to, on any worker: the count is atomic, the rest is
// immutable once the last body byte is in.
namespace haremq::engine {

// What queues need to know of a message's properties, found by the caller that decoded its
// content header (decoding the properties again per queue cost half of a 16-byte message's life).
struct message_traits {
  bool persistent = false;  // delivery_mode 2
  std::uint8_t priority = 0;
  std::int64_t ttl_ms = -1;  // the `expiration` property; -1: none
  bool header_routes = false;  // a CC or BCC header names more routing keys (header_routes.h)

  static message_traits of(const amqp::basic_properties& p) noexcept {
    message_traits t;
    t.persistent = p.has(amqp::property::delivery_mode) && p.delivery_mode == 2;
    if (p.has(amqp::property::priority)) t.priority = p.priority;
    if (p.has(amqp::property::expiration)) [[unlikely]] t.ttl_ms = ttl_of(p.expiration);
    if (p.has(amqp::property::headers) && !p.headers.empty()) t.header_routes = has_header_routes(p.headers);
    return t;
  }

 private:
  static std::int64_t ttl_of(std::string_view expiration) noexcept;
  static bool has_header_routes(const amqp::field_table& headers) noexcept;
};

// The `expiration` property as RabbitMQ reads it (string:to_integer, then a range check): a
// decimal integer of milliseconds, from 0 to ten years; else the error term RabbitMQ names
// ("no_integer", "{value_negative,-1}", "{leftover_string,\".5\"}", "{value_too_large,N}").
struct expiration_parse {
  std::int64_t ttl_ms = -1;
  std::string error;  // empty: valid
};
expiration_parse parse_expiration(std::string_view text) noexcept;

class message {
 public:
  // Allocates a message whose body (body_size bytes) is to be filled with append_body().
  // `bcc`: the content of a BCC header's array (its keys route the message but are not in its
  // properties). Returns nullptr when memory is exhausted.
  static message* create(std::string_view exchange, std::string_view routing_key, amqp::bytes_view properties,
                         std::uint64_t body_size, message_traits traits = {}, amqp::bytes_view bcc = {}) noexcept;

  // Copies the next body frame in; returns false if it would overflow the announced size.
  bool append_body(amqp::bytes_view part) noexcept;
  bool complete() const noexcept { return _body_filled == _body_size; }

  std::string_view exchange() const noexcept { return {chars(), _exchange_size}; }
  std::string_view routing_key() const noexcept { return {chars() + _exchange_size, _routing_key_size}; }
  // The content header's property flags and list, ready to follow class/weight/body-size.
  amqp::bytes_view properties() const noexcept {
    return {bytes() + _exchange_size + _routing_key_size, _properties_size};
  }
  amqp::bytes_view body() const noexcept { return {body_start(), static_cast<std::size_t>(_body_filled)}; }
  std::uint64_t body_size() const noexcept { return _body_size; }
  // When the publish arrived (turn_clock), for the latency statistics.
  std::int64_t published_at() const noexcept { return _published_at; }
  // A recovered message keeps the time it was first published at (turn_clock ns); only
  // before it is shared.
  void set_published_at(std::int64_t t) noexcept { _published_at = t; }
  // Decodes the stored properties (views into this message).
  amqp::basic_properties decode_properties() const noexcept;
  bool persistent() const noexcept { return (_flags & persistent_flag) != 0; }
  // Routed by more keys than its routing key: a CC header, or BCC keys.
  bool header_routes() const noexcept { return (_flags & header_routes_flag) != 0; }
  // The BCC header's array it was published with (taken out of its properties).
  amqp::field_array bcc() const noexcept {
    return amqp::field_array::trusted({body_start() + _body_size, _bcc_size});
  }
  std::uint8_t priority() const noexcept { return _priority; }
  // Its own time to live in milliseconds (the `expiration` property); -1: none.
  std::int64_t ttl_ms() const noexcept { return _ttl_ms; }
  std::size_t memory_size() const noexcept {
    return sizeof(message) + _exchange_size + _routing_key_size + _properties_size + _body_size + _bcc_size;
  }

  void retain() noexcept { _refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

 private:
  static constexpr std::uint8_t persistent_flag = 1;
  static constexpr std::uint8_t header_routes_flag = 2;
  message() = default;
  void destroy() noexcept;
  const std::byte* bytes() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const char* chars() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  const std::byte* body_start() const noexcept { return bytes() + _exchange_size + _routing_key_size + _properties_size; }

  std::atomic<std::uint32_t> _refs{1};
  std::uint8_t _exchange_size = 0;
  std::uint8_t _routing_key_size = 0;
  std::uint8_t _flags = 0;
  std::uint8_t _priority = 0;
  std::uint32_t _properties_size = 0;
  std::uint32_t _bcc_size = 0;
  std::uint64_t _body_size = 0;
  std::uint64_t _body_filled = 0;
  std::int64_t _published_at = turn_clock::now();
  std::int64_t _ttl_ms = -1;
};

// An owning handle on a message: moves freely between threads; copies are explicit.
class message_ref {
 public:
  message_ref() = default;
  explicit message_ref(message* adopt) noexcept : _m(adopt) {}  // takes over one reference
  message_ref(message_ref&& o) noexcept : _m(std::exchange(o._m, nullptr)) {}
  message_ref& operator=(message_ref&& o) noexcept {
    if (this != &o) {
      reset();
      _m = std::exchange(o._m, nullptr);
    }
    return *this;
  }
  message_ref(const message_ref&) = delete;
  message_ref& operator=(const message_ref&) = delete;
  ~message_ref() { reset(); }

  message_ref share() const noexcept {
    if (_m != nullptr) _m->retain();
    return message_ref{_m};
  }
  void reset() noexcept {
    if (_m != nullptr) std::exchange(_m, nullptr)->release();
  }
  // Gives up ownership without releasing (the caller carries the reference on).
  message* detach() noexcept { return std::exchange(_m, nullptr); }

  message* get() const noexcept { return _m; }
  message* operator->() const noexcept { return _m; }
  message& operator*() const noexcept { return *_m; }
  explicit operator bool() const noexcept { return _m != nullptr; }

 private:
  message* _m = nullptr;
};

}  // namespace haremq::engine
