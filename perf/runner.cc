#include "perf/runner.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "perf/amqp_client.h"
#include "perf/broker_cpu.h"
#include "perf/clock.h"
#include "perf/consumer.h"
#include "perf/discard_server.h"
#include "perf/idle_connections.h"
#include "perf/machine_info.h"
#include "perf/producer.h"
#include "perf/report.h"
#include "perf/run_control.h"
#include "perf/topology.h"

namespace haremq::perf {
namespace {

volatile std::sig_atomic_t interrupted = 0;

void on_interrupt(int) { interrupted = 1; }

// The last resort behind --max-seconds: a run stuck in a system call still ends.
void on_alarm(int) {
  constexpr char text[] = "haremq-perf: still running 30 s past --max-seconds; giving up\n";
  (void)!::write(2, text, sizeof text - 1);
  ::_exit(3);
}

void install_signals(double max_seconds) {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGALRM, on_alarm);
  ::alarm(static_cast<unsigned>(max_seconds) + 30);
}

// Each connection is a descriptor: a thousand idle ones pass the usual soft limit of 1024.
void raise_descriptor_limit(std::size_t needed) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= needed) return;
  if (r.rlim_max < needed) r.rlim_max = needed;  // allowed for root only; tried anyway
  r.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur < needed) {
      std::fprintf(stderr, "haremq-perf: warning: descriptor limit %llu is below the %zu connections need\n",
                   static_cast<unsigned long long>(r.rlim_cur), needed);
    }
  }
}

void sleep_ns(std::uint64_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); }

double seconds_between(std::uint64_t from, std::uint64_t to) {
  return static_cast<double>(to - from) / static_cast<double>(ns_per_second);
}

int run_discard_server(const options& o) {
  try {
    discard_server server(static_cast<std::uint16_t>(o.discard_server_port));
    server.start();
    std::printf("discard server listening on 127.0.0.1:%u (until Ctrl-C or %.0f s)\n", server.port(), o.max_seconds);
    std::fflush(stdout);
    const std::uint64_t start = now_ns();
    std::uint64_t last = 0;
    std::uint64_t next = start + ns_per_second;
    while (interrupted == 0 && seconds_between(start, now_ns()) < o.max_seconds) {
      sleep_ns(50'000'000);
      if (now_ns() < next) continue;
      next += ns_per_second;
      const std::uint64_t total = server.publishes();
      if (total != last) std::printf("discarded %llu publishes/s\n", static_cast<unsigned long long>(total - last));
      std::fflush(stdout);
      last = total;
    }
    server.stop();
    std::printf("discarded %llu publishes in total\n", static_cast<unsigned long long>(server.publishes()));
    return 0;
  } catch (const startup_error& e) {
    std::fprintf(stderr, "haremq-perf: %s\n", e.what());
    return 1;
  }
}

class runner {
 public:
  explicit runner(const options& o)
      : _o(o),
        _topology(o.exchange, o.exchange_type, o.queue, o.queues, o.persistent),
        _process_start(now_ns()) {
    _client.target = o.uri;
    _client.allow_remote = o.allow_remote;
    _client.heartbeat = o.heartbeat;
  }

  int run() {
    _report = std::make_unique<run_report>();
    bool measured = false;
    try {
      setup();
      if (_o.prefill > 0) prefill_and_drain();
      const bool main_phase_wanted = _o.prefill == 0 || _o.time_s > 0 || _o.pmessages > 0;
      if (main_phase_wanted && !_control.stopping()) {
        measured = true;
        main_phase();
      }
    } catch (const startup_error& e) {
      _control.fail(e.what());
    }
    teardown();

    run_report& r = *_report;
    if (_control.failed()) {
      r.failure = _control.failure();
      r.end_reason = "failure";
    }
    if (measured || r.drain) print_summary(stdout, r, _o);
    if (!_o.json_file.empty()) {
      if (auto error = write_json(_o.json_file, r, _o, gather_machine_info())) {
        std::fprintf(stderr, "haremq-perf: %s\n", error->c_str());
      }
    }
    if (_control.failed()) {
      std::fprintf(stderr, "haremq-perf: %s\n", r.failure.c_str());
      return 1;
    }
    return 0;
  }

 private:
  client_settings named(const std::string& name) const {
    client_settings s = _client;
    s.name = name;
    return s;
  }

  // Why the run must end now, or nullptr; the time and count limits are the caller's.
  const char* must_end(std::uint64_t now) const noexcept {
    if (_control.failed()) return "failure";
    if (_control.stopping()) return "stop";
    if (interrupted != 0) return "interrupted";
    if (seconds_between(_process_start, now) >= _o.max_seconds) return "max-seconds";
    return nullptr;
  }

  void setup() {
    if (_o.sink) {
      _sink = std::make_unique<discard_server>(0);
      _sink->start();
      _client.target.host = "127.0.0.1";
      _client.target.port = _sink->port();
    }
    raise_descriptor_limit(_o.connections + _o.producers + _o.consumers + 64);
    {
      amqp_client admin(named("haremq-perf-admin"));
      _topology.declare(admin);
      _declared = true;
      admin.close(2000);
    }
    if (_o.connections > 0) {
      const std::uint64_t t = now_ns();
      _idle = std::make_unique<idle_connections>(named("haremq-perf"), _o.connections, _control);
      _idle->start();
      std::printf("opened %zu idle connections in %.2f s\n", _idle->size(), seconds_between(t, now_ns()));
    }
    if (_o.has_consumers()) {
      for (std::size_t i = 0; i < _o.consumers; ++i) {
        consumer_settings s;
        s.index = i;
        s.auto_ack = _o.autoack;
        s.prefetch = _o.qos;
        s.multi_ack_every = _o.multi_ack_every;
        _consumers.push_back(
            std::make_unique<consumer>(named("haremq-perf-consumer-" + std::to_string(i)), _topology, s, _control));
      }
    }
  }

  producer_settings producer_base(std::size_t index) const {
    producer_settings s;
    s.index = index;
    s.body_size = _o.body_size;
    s.persistent = _o.persistent;
    s.message_limit = _o.pmessages;
    s.rate = _o.rate;
    s.confirm_window = _o.confirm;
    return s;
  }

  std::size_t consumer_count() const noexcept { return _o.has_consumers() ? _o.consumers : 0; }

  void start_consumers() {
    if (_consumers_started) return;
    for (auto& c : _consumers) c->start();
    _consumers_started = true;
  }

  std::uint64_t received() const noexcept {
    std::uint64_t n = 0;
    for (const auto& c : _consumers) n += c->received();
    return n;
  }

  // Publishes --prefill messages with confirms (so they are in the queues), then starts the
  // consumers alone and times how long they take to drain them.
  void prefill_and_drain() {
    const std::size_t fillers_wanted = std::max<std::size_t>(1, _o.has_producers() ? _o.producers : 1);
    std::vector<std::unique_ptr<producer>> fillers;
    std::uint64_t expected = 0;
    for (std::size_t p = 0; p < fillers_wanted; ++p) {
      producer_settings s = producer_base(p);
      s.message_limit = _o.prefill / fillers_wanted + (p < _o.prefill % fillers_wanted ? 1 : 0);
      s.rate = 0;
      s.confirm_window = std::max<std::uint32_t>(_o.confirm, 1000);
      if (s.message_limit == 0) continue;
      expected += s.message_limit * _topology.consumed_copies(p, consumer_count());
      fillers.push_back(
          std::make_unique<producer>(named("haremq-perf-prefill-" + std::to_string(p)), _topology, s, _control));
    }
    const std::uint64_t t0 = now_ns();
    for (auto& f : fillers) f->start();
    for (;;) {
      sleep_ns(10'000'000);
      if (must_end(now_ns()) != nullptr) break;
      if (std::all_of(fillers.begin(), fillers.end(), [](const auto& f) { return f->done(); })) break;
    }
    const std::uint64_t t1 = now_ns();
    for (auto& f : fillers) f->join();
    std::uint64_t confirmed = 0;
    for (auto& f : fillers) {
      confirmed += f->confirmed();
      f->close();
    }
    _report->prefill = phase_rate{confirmed, seconds_between(t0, t1)};
    std::printf("prefill: %llu messages published and confirmed in %.2f s (%.0f msg/s)\n",
                static_cast<unsigned long long>(confirmed), _report->prefill->seconds, _report->prefill->rate());
    std::fflush(stdout);
    if (_control.stopping() || _consumers.empty()) return;

    const std::uint64_t d0 = now_ns();
    start_consumers();
    std::uint64_t next = d0 + ns_per_second;
    std::uint64_t last = 0;
    while (must_end(now_ns()) == nullptr && received() < expected) {
      sleep_ns(1'000'000);
      const std::uint64_t now = now_ns();
      if (now < next) continue;
      const std::uint64_t got = received();
      std::printf("drain %6.1f s: %llu of %llu received (%.0f msg/s)\n", seconds_between(d0, now),
                  static_cast<unsigned long long>(got), static_cast<unsigned long long>(expected),
                  static_cast<double>(got - last));
      std::fflush(stdout);
      last = got;
      next += ns_per_second;
    }
    const std::uint64_t d1 = now_ns();
    _report->drain = phase_rate{std::min(received(), expected), seconds_between(d0, d1)};
    std::printf("drain: %llu messages in %.2f s (%.0f msg/s)\n", static_cast<unsigned long long>(_report->drain->messages),
                _report->drain->seconds, _report->drain->rate());
    std::fflush(stdout);
  }

  void main_phase() {
    run_report& r = *_report;
    start_consumers();
    if (_o.has_producers()) {
      for (std::size_t i = 0; i < _o.producers; ++i) {
        _producers.push_back(std::make_unique<producer>(named("haremq-perf-producer-" + std::to_string(i)), _topology,
                                                        producer_base(i), _control));
      }
    }
    if (_o.pmessages > 0) {
      if (_o.consume_only) {
        r.expected = _o.pmessages;
      } else {
        for (std::size_t p = 0; p < _producers.size(); ++p) {
          r.expected += _o.pmessages * _topology.consumed_copies(p, consumer_count());
        }
      }
    }
    // Whatever the consumers saw before (a drain) is not part of this phase.
    const std::uint64_t received_before = received();
    for (auto& c : _consumers) c->take_latencies(_tick);
    _tick.reset();

    const std::optional<double> broker_cpu0 = _o.broker_pid > 0 ? process_cpu_us(_o.broker_pid) : std::nullopt;
    if (_o.broker_pid > 0 && !broker_cpu0) {
      std::fprintf(stderr, "haremq-perf: warning: cannot read /proc/%d/stat\n", static_cast<int>(_o.broker_pid));
    }
    const double self_cpu0 = self_cpu_us();
    const std::uint64_t t0 = now_ns();
    for (auto& p : _producers) p->start();

    std::uint64_t next_tick = t0 + ns_per_second;
    std::uint64_t last_tick = t0;
    std::uint64_t last_sent = 0;
    std::uint64_t last_confirmed = 0;
    std::uint64_t last_received = 0;
    const char* reason = nullptr;
    while (reason == nullptr) {
      sleep_ns(std::min<std::uint64_t>(5'000'000, next_tick > now_ns() ? next_tick - now_ns() : 0));
      const std::uint64_t now = now_ns();
      reason = must_end(now);
      if (reason != nullptr) break;
      if (_o.time_s > 0 && seconds_between(t0, now) >= _o.time_s) reason = "time";
      const std::uint64_t got = received() - received_before;
      if (_o.pmessages > 0) {
        const bool published = std::all_of(_producers.begin(), _producers.end(), [](const auto& p) { return p->done(); });
        if (_o.consume_only ? got >= r.expected : published && (_consumers.empty() || got >= r.expected)) {
          reason = "message count";
        }
      }
      if (now < next_tick) continue;
      std::uint64_t sent = 0;
      std::uint64_t confirmed = 0;
      for (const auto& p : _producers) {
        sent += p->sent();
        confirmed += p->confirmed();
      }
      for (auto& c : _consumers) c->take_latencies(_tick);
      const double dt = seconds_between(last_tick, now);
      progress_sample s;
      s.time_s = seconds_between(t0, now);
      s.sent_rate = static_cast<double>(sent - last_sent) / dt;
      s.confirmed_rate = static_cast<double>(confirmed - last_confirmed) / dt;
      s.received_rate = static_cast<double>(got - last_received) / dt;
      s.latency_count = _tick.count();
      s.latency_p50_ns = _tick.percentile(50);
      s.latency_p99_ns = _tick.percentile(99);
      print_progress(stdout, s);
      r.progress.push_back(s);
      r.latency.add(_tick);
      _tick.reset();
      last_tick = now;
      last_sent = sent;
      last_confirmed = confirmed;
      last_received = got;
      next_tick += ns_per_second;
    }
    const std::uint64_t t1 = now_ns();
    const std::optional<double> broker_cpu1 = broker_cpu0 ? process_cpu_us(_o.broker_pid) : std::nullopt;
    r.harness_cpu_us = self_cpu_us() - self_cpu0;
    r.end_reason = reason;
    _control.stop();
    for (auto& p : _producers) p->join();
    for (auto& c : _consumers) c->join();

    r.duration_s = seconds_between(t0, t1);
    if (broker_cpu0 && broker_cpu1) r.broker_cpu_us = *broker_cpu1 - *broker_cpu0;
    for (const auto& p : _producers) {
      r.sent += p->sent();
      r.confirmed += p->confirmed();
      r.nacked += p->nacked();
      r.confirm_latency.add(p->confirm_latency());
    }
    r.received = received() - received_before;
    for (auto& c : _consumers) c->take_latencies(r.latency);
  }

  void teardown() noexcept {
    _control.stop();
    if (_idle) _idle->join_and_close();
    for (auto& p : _producers) p->join();
    for (auto& c : _consumers) c->join();
    for (auto& p : _producers) p->close();
    for (auto& c : _consumers) c->close();
    if (_declared && !_o.keep_queues) {
      try {
        amqp_client admin(named("haremq-perf-admin"));
        _topology.remove(admin);
        admin.close(2000);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "haremq-perf: warning: could not delete the queues and exchange: %s\n", e.what());
      }
    }
    if (_sink) {
      _sink->stop();
      _report->sink_publishes = _sink->publishes();
    }
  }

  const options& _o;
  topology _topology;
  std::uint64_t _process_start;
  client_settings _client;
  run_control _control;
  std::unique_ptr<run_report> _report;  // on the heap: two histograms of 31 KiB
  histogram _tick;
  std::unique_ptr<discard_server> _sink;
  std::unique_ptr<idle_connections> _idle;
  std::vector<std::unique_ptr<consumer>> _consumers;
  std::vector<std::unique_ptr<producer>> _producers;
  bool _declared = false;
  bool _consumers_started = false;
};

}  // namespace

int run(const options& o) {
  install_signals(o.max_seconds);
  if (o.discard_server_port >= 0) return run_discard_server(o);
  auto r = std::make_unique<runner>(o);
  return r->run();
}

}  // namespace haremq::perf
