#include "perf/errc.h"

#include <string>

namespace haremq::perf {
namespace {

class perf_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "perf"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::uri_bad_scheme: return "the URI must start with amqp://";
      case errc::uri_tls_unsupported: return "amqps:// (TLS) is not supported";
      case errc::uri_empty_host: return "the URI has no host";
      case errc::uri_bad_host: return "the URI's [IPv6] host is malformed";
      case errc::uri_bad_port: return "the URI's port is not a number from 1 to 65535";
      case errc::uri_bad_escape: return "the URI has a '%' not followed by two hex digits";
      case errc::uri_vhost_has_slash: return "the vhost is one path segment: write '/' inside it as %2F";
      case errc::uri_query_unsupported: return "URI query parameters and fragments are not supported";
    }
    return "unknown perf error";
  }
};

}  // namespace

const std::error_category& perf_category() noexcept {
  static const perf_category_impl category;
  return category;
}

}  // namespace haremq::perf
