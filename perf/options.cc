#include "perf/options.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace haremq::perf {
namespace {

std::string join_arguments(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) line += ' ';
    line += argv[i];
  }
  return line;
}

int refuse(const std::string& why) {
  std::cerr << "haremq-perf: " << why << "\n";
  return 2;
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, options& out) {
  CLI::App cli{"haremq-perf: AMQP 0-9-1 load generator in the manner of RabbitMQ's PerfTest"};
  std::string exchange_type = "direct";
  cli.add_option("--uri", out.uri_text, "amqp://user:pass@host:port/vhost (vhost '/' is %2F)")->capture_default_str();
  cli.add_option("-x,--producers", out.producers, "Producers, one connection each")->capture_default_str();
  cli.add_option("-y,--consumers", out.consumers, "Consumers, one connection each")->capture_default_str();
  cli.add_option("-s,--size", out.body_size, "Message body size in bytes (at least 12)")->capture_default_str();
  cli.add_option("-z,--time", out.time_s, "Run time in seconds (0: until -C is done or --max-seconds)");
  cli.add_option("-C,--pmessages", out.pmessages,
                 "Messages per producer; the run ends when all are consumed (--consume-only: total to consume)");
  cli.add_option("-r,--rate", out.rate, "Messages per second per producer (0: unlimited)");
  cli.add_option("-c,--confirm", out.confirm, "Publisher confirms with at most N outstanding");
  cli.add_option("-q,--qos", out.qos, "Consumer prefetch count");
  cli.add_flag("-a,--autoack", out.autoack, "Consume with no-ack (automatic acknowledgement)");
  cli.add_option("-A,--multi-ack-every", out.multi_ack_every, "Ack with multiple=true every N messages");
  cli.add_option("-u,--queue", out.queue, "Queue name (with --queues K: NAME-0 .. NAME-K-1)")->capture_default_str();
  cli.add_option("--queues", out.queues, "Number of queues; producers and consumers are spread over them")
      ->capture_default_str();
  cli.add_option("-e,--exchange", out.exchange, "Exchange name")->capture_default_str();
  cli.add_option("--exchange-type", exchange_type, "direct, fanout, topic or headers")->capture_default_str();
  cli.add_flag("--persistent", out.persistent, "Persistent messages (delivery_mode 2) on durable queues");
  cli.add_option("--prefill", out.prefill, "Publish N messages before consumers start, then time their drain");
  cli.add_flag("--consume-only", out.consume_only, "No producers");
  cli.add_flag("--publish-only", out.publish_only, "No consumers");
  cli.add_flag("--keep-queues", out.keep_queues, "Leave the queues and the exchange at the end");
  cli.add_option("--connections", out.connections, "Extra idle connections held open for the run");
  cli.add_option("--json", out.json_file, "Write every figure, the command, the commit and the machine here");
  cli.add_option("--broker-pid", out.broker_pid, "Broker process: report its CPU time per message");
  cli.add_flag("--allow-remote", out.allow_remote, "Allow a broker that is not on a loopback address");
  cli.add_option("--max-seconds", out.max_seconds, "Hard cap on the whole run")->capture_default_str();
  cli.add_option("--heartbeat", out.heartbeat, "Heartbeat interval asked for, seconds (0: off)")->capture_default_str();
  cli.add_option("--discard-server", out.discard_server_port,
                 "Run only a sink on 127.0.0.1:PORT that completes the handshake and drops publishes");
  cli.add_flag("--sink", out.sink, "Publish-only against an in-process discard server (the harness's ceiling)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  out.command_line = join_arguments(argc, argv);

  auto uri = parse_uri(out.uri_text);
  if (!uri) return refuse("--uri '" + out.uri_text + "': " + uri.error().message());
  out.uri = *uri;
  auto kind = parse_exchange_kind(exchange_type);
  if (!kind) return refuse("--exchange-type must be direct, fanout, topic or headers, not '" + exchange_type + "'");
  out.exchange_type = *kind;

  if (out.body_size < 12) return refuse("--size must be at least 12 (the send time and the producer index)");
  if (out.queues == 0) return refuse("--queues must be at least 1");
  if (out.consume_only && out.publish_only) return refuse("--consume-only and --publish-only exclude each other");
  if (out.prefill > 0 && out.publish_only) return refuse("--prefill needs consumers to drain it");
  if (out.autoack && out.multi_ack_every > 0) return refuse("--multi-ack-every has nothing to ack with --autoack");
  if (out.qos > 0 && out.multi_ack_every > out.qos) {
    // The broker would stop delivering at the prefetch limit before we ever ack: a stall.
    return refuse("--multi-ack-every must not exceed --qos");
  }
  if (out.max_seconds <= 0) return refuse("--max-seconds must be positive");
  if (out.time_s < 0 || out.rate < 0) return refuse("--time and --rate must not be negative");
  if (out.discard_server_port > 65535) return refuse("--discard-server takes a port from 0 to 65535");
  if (out.sink) out.publish_only = true;
  return std::nullopt;
}

}  // namespace haremq::perf
