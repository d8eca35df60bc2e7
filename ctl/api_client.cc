#include "ctl/api_client.h"

#include <httplib.h>

#include <utility>

namespace haremq::ctl {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "haremqctl"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unreachable:
        return "the management API cannot be reached";
      case errc::broker_error:
        return "the broker refused the request";
      case errc::bad_response:
        return "the broker's answer is not what the request expects";
    }
    return "unknown haremqctl error";
  }
};

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "the connection closed before a whole response arrived";
    case httplib::Error::Write:
      return "the connection closed while the request was sent";
    default:
      return httplib::to_string(error);
  }
}

// RabbitMQ's API escapes HTML in reasons ("&lt;&lt;\"x\"&gt;&gt;"); rabbitmqctl prints them plain.
std::string html_unescaped(std::string_view text) {
  static constexpr std::pair<std::string_view, char> entities[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [entity, ch] : entities) {
      if (text.substr(i, entity.size()) == entity) {
        out += ch;
        i += entity.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

// The words of a non-2xx answer: RabbitMQ's body is {"error": ..., "reason": ...}, and the
// reason is usually a string but sometimes a list (["no_such_vhost", "v"]).
std::string reason_of(int status, const std::string& body) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    for (const char* key : {"reason", "error"}) {
      const auto it = doc.find(key);
      if (it == doc.end() || it->is_null()) continue;
      if (it->is_string() && !it->get_ref<const std::string&>().empty()) return html_unescaped(it->get<std::string>());
      if (!it->is_string()) return it->dump();
    }
  }
  return "HTTP status " + std::to_string(status);
}

}  // namespace

const std::error_category& ctl_category() noexcept {
  static const category instance;
  return instance;
}

int exit_code_of(std::error_code error) noexcept {
  if (!error) return exit_ok;
  if (error == make_error_code(errc::unreachable)) return exit_unavailable;
  return exit_software;
}

std::string encode_segment(std::string_view segment) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char ch : segment) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

struct api_client::impl {
  explicit impl(const endpoint& where) : http(where.host, where.port) {
    http.set_basic_auth(where.user, where.password);
    http.set_keep_alive(true);
    http.set_connection_timeout(5);
    // Deleting a vhost or importing definitions can take a while on a loaded broker.
    http.set_read_timeout(60);
    http.set_write_timeout(60);
  }
  httplib::Client http;
};

api_client::api_client(endpoint where) : _where(std::move(where)), _impl(std::make_unique<impl>(_where)) {}

api_client::~api_client() = default;

result<std::string> api_client::send(method m, const std::string& path, const std::string* body) {
  static const std::string json_type = "application/json";
  _error_text.clear();
  _last_status = 0;
  httplib::Result answer = [&] {
    switch (m) {
      case method::get:
        return _impl->http.Get(path);
      case method::put:
        return _impl->http.Put(path, *body, json_type);
      case method::post:
        return _impl->http.Post(path, *body, json_type);
      case method::del:
        break;
    }
    return _impl->http.Delete(path);
  }();
  if (!answer) {
    _error_text = "unable to reach the management API at " + _where.host + ":" + std::to_string(_where.port) + ": " +
                  describe(answer.error());
    return errc::unreachable;
  }
  _last_status = answer->status;
  if (answer->status < 200 || answer->status > 299) {
    _error_text = reason_of(answer->status, answer->body);
    return errc::broker_error;
  }
  return std::move(answer->body);
}

result<std::string> api_client::get_text(const std::string& path) {
  return send(method::get, path, nullptr);
}

result<nlohmann::json> api_client::get(const std::string& path) {
  auto body = send(method::get, path, nullptr);
  if (!body) return body.error();
  auto doc = nlohmann::json::parse(*body, nullptr, false);
  if (doc.is_discarded()) {
    _error_text = "the answer to GET " + path + " is not JSON";
    return errc::bad_response;
  }
  return doc;
}

result<void> api_client::put(const std::string& path, const nlohmann::json& body) {
  const std::string text = body.dump();
  auto answer = send(method::put, path, &text);
  if (!answer) return answer.error();
  return {};
}

result<void> api_client::post(const std::string& path, const std::string& json_body) {
  auto answer = send(method::post, path, &json_body);
  if (!answer) return answer.error();
  return {};
}

result<void> api_client::del(const std::string& path) {
  auto answer = send(method::del, path, nullptr);
  if (!answer) return answer.error();
  return {};
}

}  // namespace haremq::ctl
