#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "net/amqp/properties.h"
#include "perf/amqp_client.h"
#include "perf/histogram.h"
#include "perf/run_control.h"
#include "perf/topology.h"

// One publishing connection and its thread. It encodes a batch of publishes (method, header
// and body frames, the first 8 body bytes the send time) into one buffer and sends it with
// one write; with confirms it keeps at most `confirm_window` unconfirmed and times each
// confirm from a ring of send times indexed by sequence number. Construction connects on
// the caller's thread; afterwards only the counters are read from other threads.
namespace haremq::perf {

struct producer_settings {
  std::size_t index = 0;
  std::size_t body_size = 16;        // at least 12: the send time, then the producer index
  bool persistent = false;           // delivery_mode 2
  std::uint64_t message_limit = 0;   // 0: until the run stops
  double rate = 0;                   // messages per second; 0: as fast as possible
  std::uint32_t confirm_window = 0;  // 0: no publisher confirms
};

class producer {
 public:
  // Connects, and selects confirm mode if asked; throws startup_error.
  producer(const client_settings& client, const topology& topo, const producer_settings& settings,
           run_control& control);
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  void start();
  void join();
  // After join(): says goodbye to the broker.
  void close() noexcept { _client.close(2000); }

  // Thread-safe, relaxed: the progress reporter's view, a little behind.
  std::uint64_t sent() const noexcept { return _sent.load(std::memory_order_relaxed); }
  std::uint64_t confirmed() const noexcept { return _confirmed.load(std::memory_order_relaxed); }
  std::uint64_t nacked() const noexcept { return _nacked.load(std::memory_order_relaxed); }
  // The message limit is reached (and confirmed, with confirms), or the run stopped.
  bool done() const noexcept { return _done.load(std::memory_order_acquire); }
  // After join(): publish to basic.ack latency of every confirmed message.
  const histogram& confirm_latency() const noexcept { return _confirm_latency; }

 private:
  void run() noexcept;
  std::size_t encode(std::size_t count, std::uint64_t stamp) noexcept;
  bool send_all() noexcept;
  bool pump(std::uint64_t wait_ns) noexcept;
  bool handle_input() noexcept;
  bool on_confirm(std::uint64_t tag, bool multiple, bool ack, std::uint64_t now) noexcept;
  void settle(std::uint64_t seq, bool ack, std::uint64_t now) noexcept;
  void publish_counters() noexcept;

  amqp_client _client;
  run_control& _control;
  producer_settings _settings;
  std::string_view _exchange;
  std::string_view _routing_key;
  amqp::basic_properties _properties;
  std::vector<std::byte> _body;
  std::size_t _message_bound = 0;  // the most bytes one encoded message takes
  std::size_t _batch_max = 1;

  std::uint64_t _published = 0;           // sequence number of the last publish (confirms count from 1)
  std::uint64_t _settled = 0;             // acked + nacked
  std::uint64_t _acked = 0;
  std::uint64_t _nacked_total = 0;
  std::uint64_t _lowest_unsettled = 1;    // below it every sequence is settled
  std::vector<std::uint64_t> _sent_at;    // send time by sequence & _ring_mask; 0 once settled
  std::uint64_t _ring_mask = 0;
  histogram _confirm_latency;

  std::atomic<std::uint64_t> _sent{0};
  std::atomic<std::uint64_t> _confirmed{0};
  std::atomic<std::uint64_t> _nacked{0};
  std::atomic<bool> _done{false};
  std::thread _thread;
};

}  // namespace haremq::perf
