#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "base/result.h"

// The management HTTP API client of haremqctl: RabbitMQ's API (same paths, JSON bodies, HTTP
// basic auth), which HareMQ's mgmt/ serves as well.
namespace haremq::ctl {

// How a request failed; each maps to one of rabbitmqctl's exit codes (see exit_code_of).
enum class errc {
  unreachable = 1,  // no TCP connection, or it broke before a whole response came back
  broker_error,     // the broker answered with a status other than 2xx
  bad_response,     // a 2xx answer whose body is not the JSON the request expects
};

const std::error_category& ctl_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), ctl_category()};
}

// sysexits.h values, as rabbitmqctl uses them.
inline constexpr int exit_ok = 0;
inline constexpr int exit_usage = 64;        // EX_USAGE
inline constexpr int exit_data = 65;         // EX_DATAERR: a definitions file that cannot be read or written
inline constexpr int exit_unavailable = 69;  // EX_UNAVAILABLE
inline constexpr int exit_software = 70;     // EX_SOFTWARE

int exit_code_of(std::error_code error) noexcept;

struct endpoint {
  std::string host = "127.0.0.1";
  int port = 15672;
  std::string user = "guest";
  std::string password = "guest";
};

// Percent-encodes one path segment (a vhost, a queue or a user name) as RabbitMQ's API wants
// it: every byte but the RFC 3986 unreserved ones, so "/" becomes "%2F" and " " "%20".
std::string encode_segment(std::string_view segment);

// One client per process; it sends one request at a time, on one kept-alive connection.
// Not thread-safe. After a failed request, error_text() says what went wrong in words: the
// connection error, or the "reason" of RabbitMQ's {"error": ..., "reason": ...} body.
class api_client {
 public:
  explicit api_client(endpoint where);
  ~api_client();
  api_client(const api_client&) = delete;
  api_client& operator=(const api_client&) = delete;

  // GET path: the parsed JSON body. A 2xx body that is not JSON is errc::bad_response.
  [[nodiscard]] result<nlohmann::json> get(const std::string& path);
  // GET path, the body as it came (for definitions, written out unchanged).
  [[nodiscard]] result<std::string> get_text(const std::string& path);
  [[nodiscard]] result<void> put(const std::string& path, const nlohmann::json& body);
  [[nodiscard]] result<void> post(const std::string& path, const std::string& json_body);
  [[nodiscard]] result<void> del(const std::string& path);

  const std::string& error_text() const noexcept { return _error_text; }
  // The HTTP status of the last answer (0 when none came).
  int last_status() const noexcept { return _last_status; }

 private:
  struct impl;
  enum class method { get, put, post, del };
  result<std::string> send(method m, const std::string& path, const std::string* body);

  endpoint _where;
  std::unique_ptr<impl> _impl;  // the httplib client, kept out of this header
  std::string _error_text;
  int _last_status = 0;
};

}  // namespace haremq::ctl

template <>
struct std::is_error_code_enum<haremq::ctl::errc> : std::true_type {};
