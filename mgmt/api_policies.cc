// Policies: list, show, set and clear, with RabbitMQ's rules for who may do what; operator
// policies, which HareMQ does not have, list empty.
#include <algorithm>

#include "engine/shard.h"
#include "mgmt/api.h"

namespace haremq::mgmt {
namespace {

// RabbitMQ's API escapes a reason's HTML characters: "<<\"x\">>" comes out as "&lt;&lt;\"x\"&gt;&gt;".
std::string html_escaped(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '&') {
      out += "&amp;";
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else {
      out += ch;
    }
  }
  return out;
}

// Listing a vhost's policies needs permissions in it (monitoring is not enough), or administrator.
bool may_list(api_context& c, const request& r, std::string_view vhost) {
  return r.user.is_administrator() || c.broker.topology().find_permissions(vhost, r.user.name).has_value();
}

// One policy, to read or write: administrators, and policymakers in a vhost they have
// permissions in (or in one that does not exist: that answer is a 404).
void check_policymaker(api_context& c, const request& r, std::string_view vhost) {
  if (r.user.is_administrator()) return;
  const bool in_vhost = !c.broker.topology().vhost_exists(vhost) ||
                        c.broker.topology().find_permissions(vhost, r.user.name).has_value();
  if (!r.user.has_tag("policymaker") || !in_vhost) throw not_authorised("User not authorised to access object");
}

// The queue objects take the limits the store re-resolved for them; exchanges need nothing
// (the workers' topology replicas rebuild on the version bump).
void reapply_everywhere(api_context& c) {
  c.broker.run_everywhere([](session::worker_context& w) { w.shard().reapply_policies(); });
}

const engine::policy_record* find_policy(const engine::vhost_map& vhosts, const std::string& vhost,
                                         const std::string& name) {
  const auto v = vhosts.find(vhost);
  if (v == vhosts.end()) return nullptr;
  const auto p = v->second.policies.find(name);
  return p == v->second.policies.end() ? nullptr : &p->second;
}

// GET /api/policies[/{vhost}]: sorted by priority, then vhost and name, as RabbitMQ sorts them
// (its "sort" key first when given); columns, but no pages.
void list_policies(api_context& c, const request& r, response& out) {
  const bool one_vhost = r.path.size() == 2;
  if (one_vhost) {
    if (!c.broker.topology().vhost_exists(r.path[1])) throw not_found();
    if (!may_list(c, r, r.path[1])) throw not_authorised("User not authorised to access virtual host");
  }
  auto policies = c.broker.topology().policies();
  std::erase_if(policies, [&](const auto& entry) {
    return (one_vhost && entry.first != r.path[1]) || !may_list(c, r, entry.first);
  });
  std::sort(policies.begin(), policies.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second.priority, a.first, a.second.name) < std::tie(b.second.priority, b.first, b.second.name);
  });
  json items = json::array();
  for (const auto& [vhost, p] : policies) items.push_back(engine::policy_to_json(vhost, p));
  if (const auto key = r.param("sort"); key && !key->empty()) {
    std::stable_sort(items.begin(), items.end(), [&](const json& a, const json& b) {
      return a.value(*key, json()) < b.value(*key, json());
    });
  }
  if (r.param("sort_reverse") == std::optional<std::string>("true")) std::reverse(items.begin(), items.end());
  for (auto& item : items) item = shape_object(r, std::move(item));
  out.set_json(items);
}

void get_policy(api_context& c, const request& r, response& out) {
  check_policymaker(c, r, r.path[1]);
  const auto vhosts = c.broker.topology().snapshot().first;
  const auto* p = find_policy(vhosts, r.path[1], r.path[2]);
  if (p == nullptr) throw not_found();
  out.set_json(shape_object(r, engine::policy_to_json(r.path[1], *p)));
}

void put_policy(api_context& c, const request& r, response& out) {
  const std::string &vhost = r.path[1], &name = r.path[2];
  check_policymaker(c, r, vhost);
  if (!c.broker.topology().vhost_exists(vhost)) throw api_error(404, "not_found", "vhost_not_found");
  const json body = r.body_json();
  std::string missing;
  for (const char* key : {"pattern", "definition"}) {
    if (!body.contains(key)) missing += std::string(missing.empty() ? "" : ",") + "{key_missing," + key + "}";
  }
  if (!missing.empty()) throw bad_request("[" + missing + "]");
  auto made = engine::policy_from_json(name, body);
  if (auto* why = std::get_if<std::string>(&made)) throw bad_request(html_escaped(*why));
  const bool existed = find_policy(c.broker.topology().snapshot().first, vhost, name) != nullptr;
  if (auto error = c.broker.topology().put_policy(vhost, std::get<engine::policy_record>(std::move(made)))) {
    throw api_error(404, "not_found", "vhost_not_found");  // deleted meanwhile
  }
  reapply_everywhere(c);
  out.status = existed ? 204 : 201;
}

void delete_policy(api_context& c, const request& r, response& out) {
  check_policymaker(c, r, r.path[1]);
  if (!c.broker.topology().delete_policy(r.path[1], r.path[2])) throw not_found();
  reapply_everywhere(c);
  out.status = 204;
}

// HareMQ has no operator policies: every vhost's list is empty.
void list_operator_policies(api_context& c, const request& r, response& out) {
  if (r.path.size() == 2) {
    if (!c.broker.topology().vhost_exists(r.path[1])) throw not_found();
    if (!may_list(c, r, r.path[1])) throw not_authorised("User not authorised to access virtual host");
  }
  out.set_json(json::array());
}

void get_operator_policy(api_context&, const request&, response&) { throw not_found(); }

}  // namespace

void add_policy_routes(std::vector<route>& routes) {
  routes.push_back({"GET", {"policies"}, role::management, list_policies});
  routes.push_back({"GET", {"policies", "*"}, role::management, list_policies});
  routes.push_back({"GET", {"policies", "*", "*"}, role::management, get_policy});
  routes.push_back({"PUT", {"policies", "*", "*"}, role::management, put_policy});
  routes.push_back({"DELETE", {"policies", "*", "*"}, role::management, delete_policy});
  routes.push_back({"GET", {"operator-policies"}, role::management, list_operator_policies});
  routes.push_back({"GET", {"operator-policies", "*"}, role::management, list_operator_policies});
  routes.push_back({"GET", {"operator-policies", "*", "*"}, role::administrator, get_operator_policy});
}

}  // namespace haremq::mgmt
