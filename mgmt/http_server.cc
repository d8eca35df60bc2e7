#include "mgmt/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "mgmt/api.h"
#include "mgmt/console.h"
#include "mgmt/metrics.h"

namespace haremq::mgmt {
namespace {

constexpr const char* realm = "Basic realm=\"RabbitMQ Management\"";

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The raw target's path, split at '/' before decoding: "%2F" is a vhost named "/", not a separator.
std::vector<std::string> segments_of(std::string_view target) {
  const auto query = target.find('?');
  std::string_view path = target.substr(0, query);
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(percent_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> basic_credentials(const httplib::Request& req) {
  const auto header = req.get_header_value("Authorization");
  if (header.rfind("Basic ", 0) != 0) return std::nullopt;
  const auto decoded = engine::access::decode_base64(std::string_view(header).substr(6));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

void send_error(httplib::Response& res, int status, const std::string& error, const std::string& reason) {
  res.status = status;
  res.set_content(json{{"error", error}, {"reason", reason}}.dump(), "application/json");
}

bool pattern_matches(const route& r, const std::vector<std::string>& path) {
  if (r.pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (r.pattern[i] != "*" && r.pattern[i] != path[i]) return false;
  }
  return true;
}

}  // namespace

struct http_server::state {
  explicit state(broker_link& b) : context{b, {}} {
    add_runtime_routes(routes);
    add_topology_routes(routes);
    add_access_routes(routes);
    add_policy_routes(routes);
  }
  api_context context;
  std::vector<route> routes;

  void serve_api(const httplib::Request& req, httplib::Response& res) {
    std::vector<std::string> path = segments_of(req.target);
    path.erase(path.begin());  // "api"
    // HEAD is GET without the body (cpp-httplib drops it).
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    const route* found = nullptr;
    std::string allowed;  // the path's methods, for Allow
    for (const char* m : {"GET", "PUT", "POST", "DELETE"}) {
      for (const auto& r : routes) {
        if (r.method != m || !pattern_matches(r, path)) continue;
        allowed += std::string(allowed.empty() ? "" : ", ") + (r.method == "GET" ? "HEAD, GET" : r.method);
        if (r.method == method) found = &r;
        break;
      }
    }
    if (!allowed.empty()) res.set_header("Allow", allowed + ", OPTIONS");
    if (req.method == "OPTIONS") {
      res.status = allowed.empty() ? 404 : 200;
      return;
    }
    if (found == nullptr) {
      if (!allowed.empty()) {
        res.status = 405;
        return;
      }
      send_error(res, 404, "Object Not Found", "Not Found");
      return;
    }
    // The API answers JSON only: a client that accepts nothing of the kind gets 406.
    if (req.has_header("Accept")) {
      const auto accept = req.get_header_value("Accept");
      if (accept.find("json") == std::string::npos && accept.find("*/*") == std::string::npos &&
          accept.find("application/*") == std::string::npos) {
        res.status = 406;
        return;
      }
    }
    const auto credentials = basic_credentials(req);
    if (!credentials) {
      res.status = 401;
      res.set_header("WWW-Authenticate", realm);
      return;
    }
    const auto user = context.broker.topology().find_user(credentials->first);
    if (!user || !engine::access::password_matches(credentials->second, user->password_hash, user->algorithm)) {
      res.set_header("WWW-Authenticate", realm);
      send_error(res, 401, "not_authorized", "Login failed");
      return;
    }
    if (!user->can_use_management()) return send_error(res, 401, "not_authorised", "Not management user");
    if (found->needs == role::administrator && !user->is_administrator()) {
      return send_error(res, 401, "not_authorised", "Not administrator user");
    }
    if (found->needs == role::monitoring && !user->can_monitor()) {
      return send_error(res, 401, "not_authorised", "Not monitor user");
    }
    request r;
    r.method = req.method;
    r.path = std::move(path);
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    r.body = req.body;
    r.user = *user;
    response out;
    try {
      found->handle(context, r, out);
    } catch (const api_error& e) {
      return send_error(res, e.status, e.error, e.reason);
    } catch (const std::exception& e) {
      spdlog::error("management API: {} {}: {}", req.method, req.target, e.what());
      return send_error(res, 500, "internal_server_error", e.what());
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (!out.body.empty() || out.status == 200) res.set_content(out.body, out.content_type);
  }
};

http_server::http_server(broker_link& broker, bool metrics_only)
    : _state(std::make_unique<state>(broker)), _server(std::make_unique<httplib::Server>()), _metrics_only(metrics_only) {}

http_server::~http_server() { stop(); }

bool http_server::start(const std::string& host, std::uint16_t port, std::string& error) {
  // A few threads: the API is for operators and scrapers, not for the message path.
  _server->new_task_queue = [] { return new httplib::ThreadPool(4); };
  _server->set_default_headers({{"Cache-Control", "no-cache"}, {"Vary", "accept, accept-encoding, origin"}});
  _server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus_text(_state->context), "text/plain; version=0.0.4; charset=utf-8");
  });
  const auto api = [this](const httplib::Request& req, httplib::Response& res) { _state->serve_api(req, res); };
  if (!_metrics_only) {
    _server->Get("/api(/.*)?", api);
    _server->Put("/api(/.*)?", api);
    _server->Post("/api(/.*)?", api);
    _server->Delete("/api(/.*)?", api);
    _server->Options("/api(/.*)?", api);
  }
  for (const auto& asset : _metrics_only ? std::span<const console_asset>{} : console_assets()) {
    const std::string path{asset.path};
    const std::string type{asset.content_type};
    const std::string body{asset.content};
    _server->Get(path, [type, body](const httplib::Request&, httplib::Response& res) { res.set_content(body, type); });
  }
  if (port == 0) {
    const int bound = _server->bind_to_any_port(host);
    if (bound <= 0) {
      error = "cannot bind " + host;
      return false;
    }
    _port = static_cast<std::uint16_t>(bound);
  } else {
    if (!_server->bind_to_port(host, port)) {
      error = "cannot bind " + host + ":" + std::to_string(port);
      return false;
    }
    _port = port;
  }
  _thread = std::thread([this] { _server->listen_after_bind(); });
  return true;
}

void http_server::stop() {
  if (!_thread.joinable()) return;
  _server->stop();
  _thread.join();
}

}  // namespace haremq::mgmt
