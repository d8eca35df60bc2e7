#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "perf/amqp_client.h"
#include "perf/histogram.h"
#include "perf/run_control.h"
#include "perf/topology.h"

// One consuming connection and its thread. It reads big chunks, parses every frame in them,
// takes one clock reading per chunk and records each message's end-to-end latency (that
// reading minus the send time in the body's first 8 bytes); acks of a chunk leave in one
// write. Construction connects on the caller's thread; the latency histogram is handed to
// the reporter under a mutex taken once per chunk.
namespace haremq::perf {

struct consumer_settings {
  std::size_t index = 0;
  bool auto_ack = false;
  std::uint16_t prefetch = 0;         // basic.qos prefetch-count; 0: none sent
  std::uint32_t multi_ack_every = 0;  // ack with multiple=true every N; 0: ack each message
};

class consumer {
 public:
  // Connects and sets the prefetch; throws startup_error.
  consumer(const client_settings& client, const topology& topo, const consumer_settings& settings,
           run_control& control);
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // Subscribes (basic.consume, throws startup_error) and starts the thread.
  void start();
  void join();
  // After join(): says goodbye to the broker.
  void close() noexcept { _client.close(2000); }

  // Thread-safe, relaxed: the progress reporter's view, a little behind.
  std::uint64_t received() const noexcept { return _received_count.load(std::memory_order_relaxed); }
  // Thread-safe: adds the latencies recorded since the last call to `into`, then forgets them.
  void take_latencies(histogram& into) noexcept;

 private:
  void run() noexcept;
  bool handle_input(std::uint64_t now) noexcept;
  bool message_done() noexcept;
  bool ack(std::uint64_t tag, bool multiple) noexcept;

  amqp_client _client;
  run_control& _control;
  consumer_settings _settings;
  std::string _queue;
  std::string _tag;

  // Where the current message is: a deliver is followed by a header and body frames.
  enum class content { none, header, body };
  content _expect = content::none;
  std::uint64_t _delivery_tag = 0;
  std::uint64_t _body_left = 0;
  bool _first_body = false;
  std::uint64_t _received = 0;
  std::uint32_t _unacked = 0;

  std::mutex _latency_mutex;
  histogram _latencies;  // guarded by _latency_mutex
  std::atomic<std::uint64_t> _received_count{0};
  std::thread _thread;
};

}  // namespace haremq::perf
