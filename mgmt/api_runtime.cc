// The broker at work: /api/overview, /api/nodes, connections, channels, consumers, health checks.
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "mgmt/api.h"
#include "mgmt/views.h"

namespace haremq::mgmt {
namespace {

using engine::access::permission;
using resource = engine::access::resource_kind;

json exchange_types_json() {
  json types = json::array();
  for (const char* type : {"direct", "fanout", "headers", "topic"}) {
    types.push_back({{"name", type},
                     {"description", std::string("AMQP ") + type + " exchange, as per the AMQP specification"},
                     {"enabled", true}});
  }
  return types;
}

json contexts_json(const broker_facts& facts) {
  return json::array({{{"node", facts.node},
                       {"description", "HareMQ Management"},
                       {"path", "/"},
                       {"ip", facts.bind},
                       {"port", std::to_string(facts.http_port)},
                       {"ssl_opts", json::array()}}});
}

std::uint64_t file_limit() {
  rlimit limit{};
  return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<std::uint64_t>(limit.rlim_cur) : 0;
}

std::uint64_t disk_free(const std::string& directory) {
  struct statvfs fs {};
  if (directory.empty() || ::statvfs(directory.c_str(), &fs) != 0) return 0;
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// The connections the requester may see: all for monitors and administrators, its own otherwise.
std::vector<const connection_snapshot*> visible_connections(const request& r, const broker_snapshot& s,
                                                             const std::optional<std::string>& vhost = {}) {
  std::vector<const connection_snapshot*> out;
  for (const auto& c : s.connections) {
    if (c.session.user.empty()) continue;  // still in the handshake
    if (!r.user.can_monitor() && c.session.user != r.user.name) continue;
    if (vhost && c.session.vhost != *vhost) continue;
    out.push_back(&c);
  }
  return out;
}

void overview(api_context& c, const request& r, response& out) {
  const auto facts = c.broker.facts();
  const auto live = gather(c.broker);
  const auto [vhosts, _] = c.broker.topology().snapshot();
  engine::queue_stats totals;
  std::uint64_t ready = 0, unacked = 0, consumers = 0, exchanges = 0, queues = 0;
  for (const auto& [name, v] : vhosts) {
    if (!may_see_vhost(c, r, name)) continue;
    exchanges += v.exchanges.size();
    queues += v.queues.size();
  }
  for (const auto& q : live.queues) {
    if (!may_see_vhost(c, r, q.vhost)) continue;
    ready += q.ready;
    unacked += q.unacked;
    consumers += q.consumers;
    totals.add_counts(q.stats);
  }
  const auto connections = visible_connections(r, live);
  std::size_t channels = 0;
  for (const auto* conn : connections) channels += conn->session.channels.size();
  json answer{
      {"management_version", facts.version},
      {"rates_mode", "basic"},
      {"product_name", facts.product},
      {"product_version", facts.version},
      {"rabbitmq_version", "3.10.0"},  // the RabbitMQ whose API this is, for tools that check it
      {"cluster_name", facts.cluster_name},
      {"node", facts.node},
      {"disable_stats", false},
      {"enable_queue_totals", false},
      {"release_series_support_status", "supported"},
      {"sample_retention_policies",
       {{"global", {600, 3600, 28800, 86400}}, {"basic", {600, 3600}}, {"detailed", {600}}}},
      {"exchange_types", exchange_types_json()},
      {"io_backend", facts.io_backend},
      {"statistics_db_event_queue", 0},
      {"message_stats", message_stats(c, "overview/" + r.user.name, totals)},
      {"queue_totals",
       {{"messages", ready + unacked},
        {"messages_details", {{"rate", 0.0}}},
        {"messages_ready", ready},
        {"messages_ready_details", {{"rate", 0.0}}},
        {"messages_unacknowledged", unacked},
        {"messages_unacknowledged_details", {{"rate", 0.0}}}}},
      {"object_totals",
       {{"connections", connections.size()},
        {"channels", channels},
        {"exchanges", exchanges},
        {"queues", queues},
        {"consumers", consumers}}},
      {"listeners",
       json::array({{{"node", facts.node}, {"protocol", "amqp"}, {"ip_address", facts.bind}, {"port", facts.amqp_port},
                     {"socket_opts", json::object()}},
                    {{"node", facts.node}, {"protocol", "http"}, {"ip_address", facts.bind}, {"port", facts.http_port},
                     {"socket_opts", json::object()}}})},
      {"contexts", contexts_json(facts)}};
  // What RabbitMQ shows only to monitors: the node and its listeners, every consumer.
  if (!r.user.can_monitor()) {
    answer.erase("node");
    answer.erase("listeners");
    answer.erase("contexts");
    answer["object_totals"].erase("consumers");
  }
  out.set_json(shape_object(r, std::move(answer)));
}

std::uint64_t open_files() {
  std::uint64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

void nodes(api_context& c, const request&, response& out) {
  const auto facts = c.broker.facts();
  const auto live = gather(c.broker);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json workers = json::array();
  for (std::size_t i = 0; i < live.worker_cpu_seconds.size(); ++i) {
    workers.push_back({{"worker", i}, {"cpu_seconds", live.worker_cpu_seconds[i]}});
  }
  out.set_json(json::array({json{{"name", facts.node},
                                 {"type", "disc"},
                                 {"running", true},
                                 {"uptime", now_ms - facts.started_at_ms},
                                 {"processors", facts.workers},
                                 {"os_pid", std::to_string(::getpid())},
                                 {"fd_total", file_limit()},
                                 {"fd_used", open_files()},
                                 {"sockets_total", file_limit()},
                                 {"disk_free", disk_free(facts.data_dir)},
                                 {"disk_free_limit", 0},
                                 {"rates_mode", "basic"},
                                 {"exchange_types", exchange_types_json()},
                                 {"auth_mechanisms", json::array({{{"name", "PLAIN"},
                                                                   {"description", "SASL PLAIN authentication mechanism"},
                                                                   {"enabled", true}},
                                                                  {{"name", "AMQPLAIN"},
                                                                   {"description", "QPid AMQPLAIN mechanism"},
                                                                   {"enabled", true}}})},
                                 {"contexts", contexts_json(facts)},
                                 {"mem_used", facts.resident_bytes},
                                 {"mem_messages", facts.memory_used},
                                 {"mem_limit", facts.memory_limit},
                                 {"mem_alarm", facts.memory_alarm},
                                 {"disk_free_alarm", facts.disk_alarm},
                                 {"io_backend", facts.io_backend},
                                 {"workers", workers},
                                 {"sockets_used", live.connections.size()}}}));
}

void connections(api_context& c, const request& r, response& out) {
  const auto live = gather(c.broker);
  std::optional<std::string> vhost;
  if (r.path.size() == 3) {  // /api/vhosts/{v}/connections
    vhost = r.path[1];
    check_vhost(c, r, *vhost);
  }
  json items = json::array();
  for (const auto* conn : visible_connections(r, live, vhost)) items.push_back(connection_json(c, *conn));
  out.set_json(shape_list(r, std::move(items)));
}

const connection_snapshot* find_connection(const request& r, const broker_snapshot& live, const std::string& name) {
  for (const auto* conn : visible_connections(r, live)) {
    if (conn->name == name) return conn;
  }
  throw not_found();
}

void connection(api_context& c, const request& r, response& out) {
  const auto live = gather(c.broker);
  out.set_json(connection_json(c, *find_connection(r, live, r.path[1])));
}

void close_connection(api_context& c, const request& r, response& out) {
  const auto live = gather(c.broker);
  const auto* conn = find_connection(r, live, r.path[1]);
  std::string reason = "Closed via management plugin";
  if (const auto header = r.param("X-Reason")) reason = *header;
  const std::string name = conn->name;
  c.broker.run_on(conn->worker, [name, reason](session::worker_context& w) {
    w.close_connections(
        [&](const session::connection_endpoint& e) {
          return e.peer_host + ":" + std::to_string(e.peer_port) + " -> " + e.host + ":" + std::to_string(e.port) == name;
        },
        reason);
  });
  out.status = 204;
}

void channels(api_context& c, const request& r, response& out) {
  const auto live = gather(c.broker);
  json items = json::array();
  for (const auto* conn : visible_connections(r, live)) {
    if (r.path.size() == 3 && r.path[0] == "connections" && conn->name != r.path[1]) continue;
    if (r.path.size() == 3 && r.path[0] == "vhosts" && conn->session.vhost != r.path[1]) continue;
    for (const auto& ch : conn->session.channels) items.push_back(channel_json(*conn, ch));
  }
  out.set_json(shape_list(r, std::move(items)));
}

void consumers(api_context& c, const request& r, response& out) {
  std::optional<std::string> vhost;
  if (r.path.size() == 2) {
    vhost = r.path[1];
    check_vhost(c, r, *vhost);
  }
  const auto live = gather(c.broker);
  const queue_names names(c.broker.topology().snapshot().first);
  std::map<std::uint32_t, const queue_snapshot*> queues;
  for (const auto& q : live.queues) queues[q.id.value] = &q;
  json items = json::array();
  for (const auto& conn : live.connections) {
    if (vhost && conn.session.vhost != *vhost) continue;
    if (!may_see_vhost(c, r, conn.session.vhost)) continue;
    for (const auto& ch : conn.session.channels) {
      for (const auto& consumer : ch.consumers) {
        const auto q = names.by_id.find(consumer.queue.value);
        const auto live_queue = queues.find(consumer.queue.value);
        items.push_back(consumer_json(conn, ch, consumer, q == names.by_id.end() ? "" : q->second.second,
                                      live_queue == queues.end() ? nullptr : live_queue->second));
      }
    }
  }
  out.set_json(shape_list(r, std::move(items)));
}

void alarms(api_context& c, const request&, response& out) {
  const auto facts = c.broker.facts();
  if (facts.memory_alarm || facts.disk_alarm) {
    json alarms = json::array();
    if (facts.memory_alarm) alarms.push_back({{"node", facts.node}, {"resource", "memory"}});
    if (facts.disk_alarm) alarms.push_back({{"node", facts.node}, {"resource", "disk"}});
    out.set_json(json{{"status", "failed"}, {"reason", "resource alarm(s) in effect in the cluster"}, {"alarms", alarms}},
                 503);
    return;
  }
  out.set_json(json{{"status", "ok"}});
}

void extensions(api_context&, const request&, response& out) { out.set_json(json::array()); }

}  // namespace

void add_runtime_routes(std::vector<route>& routes) {
  routes.push_back({"GET", {"overview"}, role::management, overview});
  routes.push_back({"GET", {"nodes"}, role::monitoring, nodes});
  routes.push_back({"GET", {"extensions"}, role::management, extensions});
  routes.push_back({"GET", {"connections"}, role::management, connections});
  routes.push_back({"GET", {"vhosts", "*", "connections"}, role::management, connections});
  routes.push_back({"GET", {"connections", "*"}, role::management, connection});
  routes.push_back({"DELETE", {"connections", "*"}, role::management, close_connection});
  routes.push_back({"GET", {"channels"}, role::management, channels});
  routes.push_back({"GET", {"connections", "*", "channels"}, role::management, channels});
  routes.push_back({"GET", {"vhosts", "*", "channels"}, role::management, channels});
  routes.push_back({"GET", {"consumers"}, role::management, consumers});
  routes.push_back({"GET", {"consumers", "*"}, role::management, consumers});
  routes.push_back({"GET", {"health", "checks", "alarms"}, role::monitoring, alarms});
}

}  // namespace haremq::mgmt
