#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/access/password.h"

// Users and their rights, as RabbitMQ models them: a user has a password hash and tags
// (administrator, monitoring, management, policymaker), and in each vhost three regular
// expressions naming the exchanges and queues it may configure (declare, delete), write
// (publish to, bind to) and read (consume from, get, purge, bind from).
namespace haremq::engine::access {

struct user_record {
  std::string name;
  std::string password_hash;  // base64, see password.h; empty: no password login
  hashing algorithm = hashing::sha256;
  std::vector<std::string> tags;
  bool has_tag(std::string_view tag) const noexcept;
  // RabbitMQ's management rules: which tags open the HTTP API, and how far.
  bool is_administrator() const noexcept { return has_tag("administrator"); }
  bool can_monitor() const noexcept { return is_administrator() || has_tag("monitoring"); }
  bool can_use_management() const noexcept {
    return can_monitor() || has_tag("management") || has_tag("policymaker");
  }
};

struct permission_record {
  std::string configure;
  std::string write;
  std::string read;
  friend bool operator==(const permission_record&, const permission_record&) = default;
};

enum class permission { configure, write, read };
enum class resource_kind { exchange, queue };

using user_map = std::map<std::string, user_record, std::less<>>;
// By (vhost, user).
using permission_map = std::map<std::pair<std::string, std::string>, permission_record>;

// Tags as the API and definitions give them: an array, or one string of comma-separated tags
// (RabbitMQ 3.10 accepts both).
std::vector<std::string> split_tags(std::string_view comma_separated);

// Whether `pattern` compiles; the compiler's complaint in `error` otherwise.
bool valid_pattern(const std::string& pattern, std::string& error);

// One user's rights in one vhost, compiled once and asked often. An empty pattern grants
// nothing; the others match anywhere in the name (PCRE's search, as RabbitMQ's re:run).
class grant {
 public:
  // Patterns that do not compile grant nothing.
  explicit grant(const permission_record& p);
  bool allows(permission what, resource_kind kind, std::string_view name) const;

 private:
  std::optional<std::regex> _patterns[3];
};

// RabbitMQ's 403 text for a refused resource ("access to queue 'q' in vhost '/' refused for user 'u'").
// The default exchange is checked, and named, as "amq.default".
std::string refusal(resource_kind kind, std::string_view name, std::string_view vhost, std::string_view user);
// The name a permission check uses for an exchange.
inline std::string_view checked_name(resource_kind kind, std::string_view name) noexcept {
  return kind == resource_kind::exchange && name.empty() ? std::string_view{"amq.default"} : name;
}

}  // namespace haremq::engine::access
