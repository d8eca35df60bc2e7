#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/access/access.h"
#include "mgmt/broker_link.h"
#include "mgmt/statistics.h"

// The management API's requests, answers and routes: RabbitMQ's HTTP API (same paths, JSON
// and status codes), so rabbitmqadmin, dashboards and scripts written for RabbitMQ work. The
// handlers are plain functions of a request; http_server.cc puts them on the wire.
namespace haremq::mgmt {

using nlohmann::json;

struct request {
  std::string method;
  std::vector<std::string> path;  // percent-decoded segments after "/api"
  std::multimap<std::string, std::string> query;
  std::string body;
  engine::access::user_record user;  // authenticated

  std::optional<std::string> param(std::string_view name) const;
  // The body as JSON (an object); 400 bad_request otherwise.
  json body_json() const;
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  void set_json(const json& j, int code = 200) {
    status = code;
    body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
};

// An answer other than success: RabbitMQ's {"error": ..., "reason": ...} with its status.
class api_error : public std::runtime_error {
 public:
  api_error(int code, std::string kind, std::string why)
      : std::runtime_error(why), status(code), error(std::move(kind)), reason(std::move(why)) {}
  int status;
  std::string error;
  std::string reason;
};
api_error not_found();  // 404 "Object Not Found"
api_error bad_request(std::string reason);
api_error not_authorised(std::string reason);  // 401 as RabbitMQ answers a refused operation

// Who may call a route (RabbitMQ's user tags).
enum class role { management, monitoring, administrator };

// Shared by the handlers: the broker and the rates of its counters.
struct api_context {
  broker_link& broker;
  rate_tracker rates;
};

using handler = std::function<void(api_context&, const request&, response&)>;

struct route {
  std::string method;
  std::vector<std::string> pattern;  // segments after "/api"; "*" matches one segment
  role needs;
  handler handle;
};

// Every route, from the four groups.
void add_runtime_routes(std::vector<route>& routes);   // overview, nodes, connections, channels, consumers
void add_topology_routes(std::vector<route>& routes);  // exchanges, queues, bindings, publish, get
void add_access_routes(std::vector<route>& routes);    // vhosts, users, permissions, definitions, whoami
void add_policy_routes(std::vector<route>& routes);    // policies, operator policies

// Helpers the handlers share.
// Whether the requester may see vhost `v` (administrators and monitors see all; management
// users see the vhosts they have permissions in).
bool may_see_vhost(api_context& c, const request& r, std::string_view vhost);
// 404 unless the vhost exists; 401 unless the user may see it.
void check_vhost(api_context& c, const request& r, std::string_view vhost);
// 401 "Access refused." unless the user may do `what` to the resource (administrators too, as in
// RabbitMQ: the HTTP API checks the same permissions as AMQP).
void check_permission(api_context& c, const request& r, engine::access::permission what,
                      engine::access::resource_kind kind, std::string_view vhost, std::string_view name);
// Keeps only the "columns" the query names (dotted paths allowed), and pages with "page" and
// "page_size" as RabbitMQ does. For list answers.
json shape_list(const request& r, json items);
// The "columns" of a single object's answer.
json shape_object(const request& r, json item);
// A JSON value read as RabbitMQ reads the bodies rabbitmqadmin sends ("true", "5" as strings too).
bool json_flag(const json& body, std::string_view key, bool fallback);
long long json_number(const json& body, std::string_view key, long long fallback);

}  // namespace haremq::mgmt
