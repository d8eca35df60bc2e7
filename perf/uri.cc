#include "perf/uri.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace haremq::perf {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return errc::uri_bad_escape;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return errc::uri_bad_escape;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

}  // namespace

std::string amqp_uri::endpoint() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<amqp_uri> parse_uri(std::string_view text) {
  constexpr std::string_view scheme = "amqp://";
  if (starts_with_nocase(text, "amqps://")) return errc::uri_tls_unsupported;
  if (!starts_with_nocase(text, scheme)) return errc::uri_bad_scheme;
  std::string_view rest = text.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return errc::uri_query_unsupported;

  amqp_uri out;
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    if (path.find('/') != std::string_view::npos) return errc::uri_vhost_has_slash;
    if (!path.empty()) {
      auto vhost = percent_decode(path);
      if (!vhost) return vhost.error();
      out.vhost = std::move(*vhost);
    }
  }

  // The last '@' ends the user info: a password may hold an unescaped '@' in practice.
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon));
    if (!user) return user.error();
    out.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percent_decode(info.substr(colon + 1));
      if (!password) return password.error();
      out.password = std::move(*password);
    }
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return errc::uri_bad_host;
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return errc::uri_bad_host;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    auto host = percent_decode(authority.substr(0, colon));
    if (!host) return host.error();
    out.host = std::move(*host);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return errc::uri_empty_host;

  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return errc::uri_bad_port;
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host == "localhost" || host == "localhost.") return true;
  char text[64]{};
  if (host.size() >= sizeof text) return false;
  std::memcpy(text, host.data(), host.size());
  in_addr v4{};
  if (inet_pton(AF_INET, text, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text, &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6) != 0;
  return false;
}

}  // namespace haremq::perf
