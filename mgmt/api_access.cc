// Tenancy: vhosts, users, permissions, and the definitions that carry them.
#include "engine/shard.h"
#include "engine/store/definitions.h"
#include "mgmt/api.h"
#include "mgmt/views.h"

namespace haremq::mgmt {
namespace {

using engine::access::user_record;

json user_json(const user_record& u) {
  return json{{"name", u.name},
              {"password_hash", u.password_hash},
              {"hashing_algorithm", std::string(engine::access::name_of(u.algorithm))},
              {"tags", u.tags},
              {"limits", json::object()}};
}

json permission_json(const std::string& vhost, const std::string& user, const engine::access::permission_record& p) {
  return json{{"user", user}, {"vhost", vhost}, {"configure", p.configure}, {"write", p.write}, {"read", p.read}};
}

// After an import, each worker creates the queue objects the topology has placed on it but it
// lacks, and its existing queues take the limits of the policies the import set.
void take_imported_definitions(api_context& c) {
  c.broker.run_everywhere([](session::worker_context& w) {
    for (const auto& [_, v] : w.topology().snapshot().first) {
      for (const auto& [name, q] : v.queues) {
        if (q.owner == w.self() && w.shard().find(q.id) == nullptr) w.shard().create_queue(q);
      }
    }
    w.shard().reapply_policies();
  });
}

void whoami(api_context&, const request& r, response& out) {
  out.set_json(json{{"name", r.user.name}, {"tags", r.user.tags}});
}

// --- vhosts ---

// A vhost with its message totals, from the queues of a snapshot.
json vhost_json(api_context& c, const std::string& name, const broker_snapshot& live) {
  std::uint64_t ready = 0, unacked = 0, received = 0, sent = 0;
  engine::queue_stats totals;
  for (const auto& q : live.queues) {
    if (q.vhost != name) continue;
    ready += q.ready;
    unacked += q.unacked;
    totals.add_counts(q.stats);
  }
  for (const auto& conn : live.connections) {
    if (conn.session.vhost != name) continue;
    received += conn.received_bytes;
    sent += conn.sent_bytes;
  }
  const auto metadata = engine::store::metadata_of(c.broker.topology(), name);
  const std::string key = "vhost/" + name;
  return json{{"name", name},
              {"default_queue_type", "undefined"},
              {"metadata", {{"description", metadata.description}, {"tags", metadata.tags}}},
              {"message_stats", message_stats(c, key, totals)},
              {"recv_oct", received},
              {"recv_oct_details", {{"rate", c.rates.rate(key + "/recv_oct", static_cast<double>(received))}}},
              {"send_oct", sent},
              {"send_oct_details", {{"rate", c.rates.rate(key + "/send_oct", static_cast<double>(sent))}}},
              {"messages", ready + unacked},
              {"messages_details", {{"rate", 0.0}}},
              {"messages_ready", ready},
              {"messages_ready_details", {{"rate", 0.0}}},
              {"messages_unacknowledged", unacked},
              {"messages_unacknowledged_details", {{"rate", 0.0}}},
              {"description", metadata.description},
              {"tags", metadata.tags},
              {"tracing", false},
              {"cluster_state", {{"haremq@localhost", "running"}}}};
}

void list_vhosts(api_context& c, const request& r, response& out) {
  json items = json::array();
  const auto live = gather(c.broker);
  for (const auto& name : c.broker.topology().vhost_names()) {
    if (may_see_vhost(c, r, name)) items.push_back(vhost_json(c, name, live));
  }
  out.set_json(shape_list(r, std::move(items)));
}

void get_vhost(api_context& c, const request& r, response& out) {
  check_vhost(c, r, r.path[1]);
  out.set_json(shape_object(r, vhost_json(c, r.path[1], gather(c.broker))));
}

void put_vhost(api_context& c, const request& r, response& out) {
  const json body = r.body_json();
  const bool created = c.broker.topology().add_vhost(r.path[1]);
  if (body.contains("description") || body.contains("tags")) {
    auto metadata = engine::store::metadata_of(c.broker.topology(), r.path[1]);
    if (body.contains("description") && body["description"].is_string()) metadata.description = body["description"];
    if (body.contains("tags") && body["tags"].is_string()) metadata.tags = engine::access::split_tags(body["tags"].get<std::string>());
    if (body.contains("tags") && body["tags"].is_array()) {
      metadata.tags.clear();
      for (const auto& t : body["tags"]) {
        if (t.is_string()) metadata.tags.push_back(t.get<std::string>());
      }
    }
    engine::store::set_metadata(c.broker.topology(), r.path[1], metadata);
  }
  // RabbitMQ gives the user who creates a vhost over HTTP every right on it.
  if (created) c.broker.topology().set_permissions(r.path[1], r.user.name, {".*", ".*", ".*"});
  out.status = created ? 201 : 204;
}

void delete_vhost(api_context& c, const request& r, response& out) {
  const std::string name = r.path[1];
  std::vector<engine::queue_record> queues;
  if (!c.broker.topology().delete_vhost(name, queues)) throw not_found();
  engine::store::set_metadata(c.broker.topology(), name, std::nullopt);
  const std::string reason = "vhost '" + name + "' is down";
  c.broker.run_everywhere([name, reason, queues](session::worker_context& w) {
    for (const auto& q : queues) {
      if (q.owner == w.self()) w.shard().drop(q.id);
    }
    w.close_connections([&](const session::connection_endpoint& e) { return e.session.vhost() == name; }, reason);
  });
  out.status = 204;
}

// --- users ---

void list_users(api_context& c, const request& r, response& out) {
  json items = json::array();
  for (const auto& u : c.broker.topology().users()) items.push_back(user_json(u));
  out.set_json(shape_list(r, std::move(items)));
}

void get_user(api_context& c, const request& r, response& out) {
  const auto u = c.broker.topology().find_user(r.path[1]);
  if (!u) throw not_found();
  out.set_json(user_json(*u));
}

void put_user(api_context& c, const request& r, response& out) {
  const json body = r.body_json();
  if (!body.contains("tags")) throw bad_request("tags_not_present");
  user_record u;
  u.name = r.path[1];
  const json& tags = body["tags"];
  if (tags.is_string()) {
    u.tags = engine::access::split_tags(tags.get<std::string>());
  } else if (tags.is_array()) {
    for (const auto& t : tags) {
      if (t.is_string()) u.tags.push_back(t.get<std::string>());
    }
  }
  if (body.contains("password") && body["password"].is_string()) {
    u.password_hash = engine::access::hash_password(body["password"].get<std::string>());
  } else if (body.contains("password_hash") && body["password_hash"].is_string()) {
    const auto algorithm = engine::access::parse_hashing(body.value("hashing_algorithm", ""));
    if (!algorithm) throw bad_request("unknown hashing algorithm");
    u.algorithm = *algorithm;
    u.password_hash = body["password_hash"].get<std::string>();
  } else if (const auto existing = c.broker.topology().find_user(u.name)) {
    u.password_hash = existing->password_hash;  // tags changed, the password kept
    u.algorithm = existing->algorithm;
  }
  const bool existed = c.broker.topology().find_user(u.name).has_value();
  c.broker.topology().put_user(std::move(u));
  out.status = existed ? 204 : 201;
}

void delete_user(api_context& c, const request& r, response& out) {
  const std::string name = r.path[1];
  if (!c.broker.topology().delete_user(name)) throw not_found();
  const std::string reason = "user '" + name + "' is deleted";
  c.broker.run_everywhere([name, reason](session::worker_context& w) {
    w.close_connections([&](const session::connection_endpoint& e) { return e.session.user() == name; }, reason);
  });
  out.status = 204;
}

// --- permissions ---

void list_permissions(api_context& c, const request& r, response& out) {
  // /api/permissions, /api/users/{u}/permissions or /api/vhosts/{v}/permissions
  std::optional<std::string> user, vhost;
  if (r.path.size() == 3 && r.path[0] == "users") {
    if (!c.broker.topology().find_user(r.path[1])) throw not_found();
    user = r.path[1];
  }
  if (r.path.size() == 3 && r.path[0] == "vhosts") {
    if (!c.broker.topology().vhost_exists(r.path[1])) throw not_found();
    vhost = r.path[1];
  }
  json items = json::array();
  for (const auto& [key, p] : c.broker.topology().permissions()) {
    if ((user && key.second != *user) || (vhost && key.first != *vhost)) continue;
    items.push_back(permission_json(key.first, key.second, p));
  }
  out.set_json(shape_list(r, std::move(items)));
}

void get_permission(api_context& c, const request& r, response& out) {
  const auto p = c.broker.topology().find_permissions(r.path[1], r.path[2]);
  if (!p) throw not_found();
  out.set_json(permission_json(r.path[1], r.path[2], *p));
}

void put_permission(api_context& c, const request& r, response& out) {
  const json body = r.body_json();
  std::string missing;
  for (const char* key : {"configure", "write", "read"}) {
    if (!body.contains(key) || !body[key].is_string()) missing += std::string(missing.empty() ? "" : ",") + "{key_missing," + key + "}";
  }
  if (!missing.empty()) throw bad_request("[" + missing + "]");
  if (!c.broker.topology().vhost_exists(r.path[1]) || !c.broker.topology().find_user(r.path[2])) {
    throw bad_request("vhost_or_user_not_found");
  }
  const bool existed = c.broker.topology().find_permissions(r.path[1], r.path[2]).has_value();
  if (auto error = c.broker.topology().set_permissions(
          r.path[1], r.path[2], {body["configure"].get<std::string>(), body["write"].get<std::string>(),
                                 body["read"].get<std::string>()})) {
    throw bad_request(*error);
  }
  out.status = existed ? 204 : 201;
}

void delete_permission(api_context& c, const request& r, response& out) {
  if (!c.broker.topology().clear_permissions(r.path[1], r.path[2])) throw not_found();
  out.status = 204;
}

// --- definitions ---

// GET /api/definitions[/{vhost}]: RabbitMQ's export (transient entities included); one vhost's
// has only its queues, exchanges, bindings, policies and parameters, without "vhost" keys but
// in policies (and queues without "type"), as RabbitMQ 3.10 writes it.
void get_definitions(api_context& c, const request& r, response& out) {
  json doc = json::parse(engine::store::export_definitions(c.broker.topology(), true));
  if (r.path.size() == 2) {
    check_vhost(c, r, r.path[1]);
    json one{{"rabbit_version", doc["rabbit_version"]}};
    for (const char* section : {"queues", "exchanges", "bindings", "policies", "parameters"}) {
      json items = json::array();
      for (auto& item : doc[section]) {
        if (!item.is_object() || item.value("vhost", "") != r.path[1]) continue;
        if (std::string_view(section) != "policies") item.erase("vhost");
        if (std::string_view(section) == "queues") item.erase("type");
        items.push_back(std::move(item));
      }
      one[section] = std::move(items);
    }
    doc = std::move(one);
  }
  out.set_json(doc);
  if (const auto download = r.param("download"); download && !download->empty()) {
    out.headers.emplace_back("Content-Disposition", "attachment; filename=" + *download);
  }
}

void post_definitions(api_context& c, const request& r, response& out) {
  std::string text = r.body;
  if (r.path.size() == 2) {  // into one vhost: its entries name no vhost
    check_vhost(c, r, r.path[1]);
    json doc = r.body_json();
    for (const char* section : {"queues", "exchanges", "bindings", "policies", "parameters"}) {
      if (!doc.contains(section) || !doc[section].is_array()) continue;
      for (auto& item : doc[section]) {
        if (item.is_object()) item["vhost"] = r.path[1];
      }
    }
    for (const char* section : {"users", "vhosts", "permissions", "topic_permissions", "global_parameters"}) doc.erase(section);
    text = doc.dump();
  }
  auto result = engine::store::import_definitions(text, c.broker.topology(), [&c] { return c.broker.place_queue(); });
  take_imported_definitions(c);
  if (!result.ok()) throw bad_request(result.error);
  out.status = 204;
}

}  // namespace

void add_access_routes(std::vector<route>& routes) {
  routes.push_back({"GET", {"whoami"}, role::management, whoami});
  routes.push_back({"GET", {"vhosts"}, role::management, list_vhosts});
  routes.push_back({"GET", {"vhosts", "*"}, role::management, get_vhost});
  routes.push_back({"PUT", {"vhosts", "*"}, role::administrator, put_vhost});
  routes.push_back({"DELETE", {"vhosts", "*"}, role::administrator, delete_vhost});
  routes.push_back({"GET", {"vhosts", "*", "permissions"}, role::administrator, list_permissions});
  routes.push_back({"GET", {"users"}, role::administrator, list_users});
  routes.push_back({"GET", {"users", "*"}, role::administrator, get_user});
  routes.push_back({"PUT", {"users", "*"}, role::administrator, put_user});
  routes.push_back({"DELETE", {"users", "*"}, role::administrator, delete_user});
  routes.push_back({"GET", {"users", "*", "permissions"}, role::administrator, list_permissions});
  routes.push_back({"GET", {"permissions"}, role::administrator, list_permissions});
  routes.push_back({"GET", {"permissions", "*", "*"}, role::administrator, get_permission});
  routes.push_back({"PUT", {"permissions", "*", "*"}, role::administrator, put_permission});
  routes.push_back({"DELETE", {"permissions", "*", "*"}, role::administrator, delete_permission});
  routes.push_back({"GET", {"definitions"}, role::administrator, get_definitions});
  routes.push_back({"POST", {"definitions"}, role::administrator, post_definitions});
  routes.push_back({"GET", {"definitions", "*"}, role::administrator, get_definitions});
  routes.push_back({"POST", {"definitions", "*"}, role::administrator, post_definitions});
}

}  // namespace haremq::mgmt
