// haremqctl: the everyday commands of rabbitmqctl -- the same names, arguments, messages and
// exit codes -- done through the management HTTP API (RabbitMQ's, which HareMQ serves too),
// so it works against HareMQ and against RabbitMQ with its management plugin alike.
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/api_client.h"
#include "ctl/output.h"

namespace {

using haremq::ctl::api_client;
using haremq::ctl::cell_style;
using haremq::ctl::format;
using nlohmann::json;

struct options {
  haremq::ctl::endpoint where;
  std::string formatter = "tsv";
  std::string vhost = "/";
  bool quiet = false;
  bool no_headers = false;
};

// What one command was given: its required arguments in order, its optional trailing list
// (columns or tags), delete_queue's two flags and set_policy's two options.
struct invocation {
  std::vector<std::string> args;
  std::vector<std::string> rest;
  bool if_empty = false;
  bool if_unused = false;
  std::int64_t priority = 0;
  std::string apply_to;  // empty: not given (the broker's default, all)
};

struct context {
  api_client& api;
  const options& opts;
  format how;
  const invocation& in;

  // rabbitmqctl's "Listing queues for vhost / ..." lines: none with --quiet or JSON output.
  void banner(std::string_view text) const {
    if (!opts.quiet && how != format::json) std::cout << text << '\n' << std::flush;
  }

  // Prints the failed request's reason the way rabbitmqctl prints errors; the exit code.
  int fail(std::error_code error) const {
    if (haremq::ctl::exit_code_of(error) == haremq::ctl::exit_unavailable) {
      std::cerr << "Error: " << api.error_text() << '\n';
    } else {
      std::cerr << "Error:\n" << api.error_text() << '\n';
    }
    return haremq::ctl::exit_code_of(error);
  }

  int done(const haremq::result<void>& outcome) const { return outcome ? haremq::ctl::exit_ok : fail(outcome.error()); }

  // rabbitmqctl's answer when the vhost of a policy command does not exist.
  int no_such_vhost() const {
    std::cerr << "Virtual host '" << opts.vhost << "' does not exist\n";
    return haremq::ctl::exit_data;
  }
};

int usage_error(std::string_view text) {
  std::cerr << "Error (argument validation): " << text << '\n';
  return haremq::ctl::exit_usage;
}

// "/api" followed by each segment percent-encoded: api_path({"queues", "/", "q"}) is
// /api/queues/%2F/q.
std::string api_path(std::initializer_list<std::string_view> segments) {
  std::string out = "/api";
  for (const auto s : segments) {
    out += '/';
    out += haremq::ctl::encode_segment(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The list_* commands: which API field each rabbitmqctl column (an "info key") comes from.
// ---------------------------------------------------------------------------------------------

struct column_spec {
  std::string_view name;
  std::string_view pointer;  // a JSON pointer into one element of the API's array
  cell_style style = cell_style::plain;
  std::string_view fallback = {};  // shown when the API leaves the field out
};

// What a list_* command says when the API does not know its vhost: the API's reason (70), or
// rabbitmqctl's own words (65), as the policy commands print them.
enum class missing_vhost { api_reason, rabbitmqctl_words };

struct listing_spec {
  std::span<const column_spec> columns;
  std::vector<std::string_view> defaults;
  missing_vhost missing = missing_vhost::api_reason;
};

constexpr column_spec queue_columns[] = {
    {"name", "/name"},
    {"vhost", "/vhost"},
    {"messages", "/messages"},
    {"messages_ready", "/messages_ready"},
    {"messages_unacknowledged", "/messages_unacknowledged"},
    {"consumers", "/consumers"},
    {"durable", "/durable"},
    {"auto_delete", "/auto_delete"},
    {"exclusive", "/exclusive"},
    {"arguments", "/arguments", cell_style::arguments},
    {"type", "/type"},
    {"state", "/state"},
    {"policy", "/policy"},
    {"memory", "/memory"},
    {"message_bytes", "/message_bytes"},
};

constexpr column_spec exchange_columns[] = {
    {"name", "/name"},
    {"vhost", "/vhost"},
    {"type", "/type"},
    {"durable", "/durable"},
    {"auto_delete", "/auto_delete"},
    {"internal", "/internal"},
    {"arguments", "/arguments", cell_style::arguments},
    {"policy", "/policy"},
};

constexpr column_spec binding_columns[] = {
    {"source_name", "/source"},
    // The API has no field for it: in AMQP 0-9-1 a binding's source is always an exchange.
    {"source_kind", "/source_kind", cell_style::plain, "exchange"},
    {"destination_name", "/destination"},
    {"destination_kind", "/destination_type"},
    {"routing_key", "/routing_key"},
    {"arguments", "/arguments", cell_style::arguments},
    {"vhost", "/vhost"},
};

constexpr column_spec connection_columns[] = {
    {"name", "/name"},
    {"vhost", "/vhost"},
    {"user", "/user"},
    {"peer_host", "/peer_host"},
    {"peer_port", "/peer_port"},
    {"host", "/host"},
    {"port", "/port"},
    {"state", "/state"},
    {"channels", "/channels"},
    {"protocol", "/protocol"},
    {"auth_mechanism", "/auth_mechanism"},
    {"ssl", "/ssl"},
    {"frame_max", "/frame_max"},
    {"channel_max", "/channel_max"},
    {"timeout", "/timeout"},
    {"recv_oct", "/recv_oct"},
    {"send_oct", "/send_oct"},
    {"connected_at", "/connected_at"},
};

constexpr column_spec consumer_columns[] = {
    {"queue_name", "/queue/name"},
    // rabbitmqctl shows the channel's Erlang pid; the API names the channel instead.
    {"channel_pid", "/channel_details/name"},
    {"consumer_tag", "/consumer_tag"},
    {"ack_required", "/ack_required"},
    {"prefetch_count", "/prefetch_count"},
    {"active", "/active"},
    {"activity_status", "/activity_status"},
    {"exclusive", "/exclusive"},
    {"arguments", "/arguments", cell_style::arguments},
};

constexpr column_spec vhost_columns[] = {
    {"name", "/name"},
    {"tracing", "/tracing"},
    {"description", "/description"},
};

constexpr column_spec user_columns[] = {
    {"user", "/name"},
    {"tags", "/tags", cell_style::tags},
};

constexpr column_spec vhost_permission_columns[] = {
    {"user", "/user"},
    {"configure", "/configure"},
    {"write", "/write"},
    {"read", "/read"},
};

constexpr column_spec policy_columns[] = {
    {"vhost", "/vhost"},
    {"name", "/name"},
    {"pattern", "/pattern"},
    {"apply-to", "/apply-to"},
    {"definition", "/definition", cell_style::json_text},
    {"priority", "/priority"},
};

constexpr column_spec user_permission_columns[] = {
    {"vhost", "/vhost"},
    {"configure", "/configure"},
    {"write", "/write"},
    {"read", "/read"},
};

int run_listing(const context& ctx, const listing_spec& spec, const std::string& path, std::string_view banner) {
  std::vector<const column_spec*> chosen;
  std::vector<std::string> unknown;
  const auto find = [&](std::string_view name) -> const column_spec* {
    for (const auto& c : spec.columns) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };
  if (ctx.in.rest.empty()) {
    for (const auto name : spec.defaults) chosen.push_back(find(name));
  } else {
    for (const auto& name : ctx.in.rest) {
      if (const auto* c = find(name)) {
        chosen.push_back(c);
      } else {
        unknown.push_back(name);
      }
    }
  }
  if (!unknown.empty()) {
    std::string keys;
    for (const auto& k : unknown) keys += (keys.empty() ? "" : ", ") + k;
    std::string known;
    for (const auto& c : spec.columns) known += (known.empty() ? "" : " ") + std::string(c.name);
    return usage_error(fmt::format("Info key(s) {} are not supported (supported: {})", keys, known));
  }
  ctx.banner(banner);
  auto items = ctx.api.get(path);
  if (!items && spec.missing == missing_vhost::rabbitmqctl_words && ctx.api.last_status() == 404) {
    return ctx.no_such_vhost();
  }
  if (!items) return ctx.fail(items.error());
  if (!items->is_array()) {
    std::cerr << "Error:\nthe answer to GET " << path << " is not a JSON array\n";
    return haremq::ctl::exit_software;
  }
  haremq::ctl::listing out;
  for (const auto* c : chosen) out.columns.push_back({std::string(c->name), c->style});
  for (const auto& item : *items) {
    auto& row = out.rows.emplace_back();
    for (const auto* c : chosen) {
      const json::json_pointer where{std::string(c->pointer)};
      if (item.is_object() && item.contains(where)) {
        row.push_back(item.at(where));
      } else if (!c->fallback.empty()) {
        row.emplace_back(std::string(c->fallback));
      } else {
        row.emplace_back(nullptr);
      }
    }
  }
  haremq::ctl::print_listing(std::cout, out, ctx.how,
                             ctx.opts.no_headers ? haremq::ctl::headers::hide : haremq::ctl::headers::show);
  return haremq::ctl::exit_ok;
}

int list_queues(const context& ctx) {
  static const listing_spec spec{queue_columns, {"name", "messages"}};
  return run_listing(ctx, spec, api_path({"queues", ctx.opts.vhost}),
                     fmt::format("Listing queues for vhost {} ...", ctx.opts.vhost));
}

int list_exchanges(const context& ctx) {
  static const listing_spec spec{exchange_columns, {"name", "type"}};
  return run_listing(ctx, spec, api_path({"exchanges", ctx.opts.vhost}),
                     fmt::format("Listing exchanges for vhost {} ...", ctx.opts.vhost));
}

int list_bindings(const context& ctx) {
  static const listing_spec spec{
      binding_columns,
      {"source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"}};
  // sic: rabbitmqctl 3.10 prints no blank before the dots here.
  return run_listing(ctx, spec, api_path({"bindings", ctx.opts.vhost}),
                     fmt::format("Listing bindings for vhost {}...", ctx.opts.vhost));
}

int list_connections(const context& ctx) {
  static const listing_spec spec{connection_columns, {"user", "peer_host", "peer_port", "state"}};
  return run_listing(ctx, spec, api_path({"connections"}), "Listing connections ...");
}

int list_consumers(const context& ctx) {
  static const listing_spec spec{
      consumer_columns,
      {"queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"}};
  return run_listing(ctx, spec, api_path({"consumers", ctx.opts.vhost}),
                     fmt::format("Listing consumers in vhost {} ...", ctx.opts.vhost));
}

int list_vhosts(const context& ctx) {
  static const listing_spec spec{vhost_columns, {"name"}};
  return run_listing(ctx, spec, api_path({"vhosts"}), "Listing vhosts ...");
}

int list_users(const context& ctx) {
  static const listing_spec spec{user_columns, {"user", "tags"}};
  return run_listing(ctx, spec, api_path({"users"}), "Listing users ...");
}

int list_permissions(const context& ctx) {
  static const listing_spec spec{vhost_permission_columns, {"user", "configure", "write", "read"}};
  return run_listing(ctx, spec, api_path({"vhosts", ctx.opts.vhost, "permissions"}),
                     fmt::format("Listing permissions for vhost \"{}\" ...", ctx.opts.vhost));
}

int list_user_permissions(const context& ctx) {
  static const listing_spec spec{user_permission_columns, {"vhost", "configure", "write", "read"}};
  const auto& user = ctx.in.args[0];
  return run_listing(ctx, spec, api_path({"users", user, "permissions"}),
                     fmt::format("Listing permissions for user \"{}\" ...", user));
}

int list_policies(const context& ctx) {
  static const listing_spec spec{policy_columns,
                                 {"vhost", "name", "pattern", "apply-to", "definition", "priority"},
                                 missing_vhost::rabbitmqctl_words};
  return run_listing(ctx, spec, api_path({"policies", ctx.opts.vhost}),
                     fmt::format("Listing policies for vhost \"{}\" ...", ctx.opts.vhost));
}

// ---------------------------------------------------------------------------------------------
// Commands that change something.
// ---------------------------------------------------------------------------------------------

int add_vhost(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Adding vhost \"{}\" ...", name));
  return ctx.done(ctx.api.put(api_path({"vhosts", name}), json::object()));
}

int delete_vhost(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Deleting vhost \"{}\" ...", name));
  return ctx.done(ctx.api.del(api_path({"vhosts", name})));
}

// The user's record, or nullopt with the error printed and its exit code in `code`.
std::optional<json> fetch_user(const context& ctx, const std::string& name, int& code) {
  auto user = ctx.api.get(api_path({"users", name}));
  if (!user) {
    code = ctx.fail(user.error());
    return std::nullopt;
  }
  if (!user->is_object()) {
    std::cerr << "Error:\nthe answer for user \"" << name << "\" is not a JSON object\n";
    code = haremq::ctl::exit_software;
    return std::nullopt;
  }
  return std::move(*user);
}

// Tags as PUT /api/users/NAME takes them: one comma-separated string (every API version).
std::string tags_field(const json& tags) {
  if (tags.is_string()) return tags.get<std::string>();
  std::string out;
  if (tags.is_array()) {
    for (const auto& t : tags) {
      if (t.is_string()) out += (out.empty() ? "" : ",") + t.get<std::string>();
    }
  }
  return out;
}

int add_user(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Adding user \"{}\" ...", name));
  // PUT would overwrite an existing user; rabbitmqctl refuses instead.
  auto existing = ctx.api.get(api_path({"users", name}));
  if (existing) {
    std::cerr << "Error:\nUser \"" << name << "\" already exists\n";
    return haremq::ctl::exit_software;
  }
  if (ctx.api.last_status() != 404) return ctx.fail(existing.error());
  if (auto put = ctx.api.put(api_path({"users", name}), {{"password", ctx.in.args[1]}, {"tags", ""}}); !put) {
    return ctx.fail(put.error());
  }
  ctx.banner(
      "Done. Don't forget to grant the user permissions to some virtual hosts! "
      "See 'haremqctl set_permissions --help' to learn more.");
  return haremq::ctl::exit_ok;
}

int delete_user(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Deleting user \"{}\" ...", name));
  return ctx.done(ctx.api.del(api_path({"users", name})));
}

int change_password(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Changing password for user \"{}\" ...", name));
  int code = 0;
  const auto user = fetch_user(ctx, name, code);
  if (!user) return code;
  // PUT replaces the whole user: send the tags it has.
  const json body = {{"password", ctx.in.args[1]}, {"tags", tags_field(user->value("tags", json()))}};
  return ctx.done(ctx.api.put(api_path({"users", name}), body));
}

int set_user_tags(const context& ctx) {
  const auto& name = ctx.in.args[0];
  std::string shown;
  for (const auto& t : ctx.in.rest) shown += (shown.empty() ? "" : ", ") + t;
  ctx.banner(fmt::format("Setting tags for user \"{}\" to [{}] ...", name, shown));
  int code = 0;
  const auto user = fetch_user(ctx, name, code);
  if (!user) return code;
  // A PUT without a password clears it; sending the hash back keeps it.
  const auto hash = user->find("password_hash");
  if (hash == user->end() || !hash->is_string()) {
    std::cerr << "Error:\nthe API does not show the password hash of user \"" << name
              << "\", so its tags cannot be set without losing its password\n";
    return haremq::ctl::exit_software;
  }
  std::string tags;
  for (const auto& t : ctx.in.rest) tags += (tags.empty() ? "" : ",") + t;
  json body = {{"password_hash", *hash}, {"tags", tags}};
  if (const auto algorithm = user->find("hashing_algorithm"); algorithm != user->end() && algorithm->is_string()) {
    body["hashing_algorithm"] = *algorithm;
  }
  return ctx.done(ctx.api.put(api_path({"users", name}), body));
}

int set_permissions(const context& ctx) {
  const auto& user = ctx.in.args[0];
  ctx.banner(fmt::format("Setting permissions for user \"{}\" in vhost \"{}\" ...", user, ctx.opts.vhost));
  const json body = {{"configure", ctx.in.args[1]}, {"write", ctx.in.args[2]}, {"read", ctx.in.args[3]}};
  return ctx.done(ctx.api.put(api_path({"permissions", ctx.opts.vhost, user}), body));
}

int clear_permissions(const context& ctx) {
  const auto& user = ctx.in.args[0];
  ctx.banner(fmt::format("Clearing permissions for user \"{}\" in vhost \"{}\" ...", user, ctx.opts.vhost));
  return ctx.done(ctx.api.del(api_path({"permissions", ctx.opts.vhost, user})));
}

int set_policy(const context& ctx) {
  const auto& name = ctx.in.args[0];
  const auto& pattern = ctx.in.args[1];
  const auto& definition = ctx.in.args[2];
  ctx.banner(fmt::format("Setting policy \"{}\" for pattern \"{}\" to \"{}\" with priority \"{}\" for vhost \"{}\" ...",
                         name, pattern, definition, ctx.in.priority, ctx.opts.vhost));
  // rabbitmqctl decodes the definition itself, and says so in its own words; like a
  // definition the broker refuses, that ends with 69.
  const json parsed = json::parse(definition, nullptr, false);
  if (parsed.is_discarded()) {
    std::cerr << "Error:\nJSON decoding error. Reason: badarg\n";
    return haremq::ctl::exit_unavailable;
  }
  json body = {{"pattern", pattern}, {"definition", parsed}, {"priority", ctx.in.priority}};
  if (!ctx.in.apply_to.empty()) body["apply-to"] = ctx.in.apply_to;
  const auto put = ctx.api.put(api_path({"policies", ctx.opts.vhost, name}), body);
  if (put) return haremq::ctl::exit_ok;
  if (ctx.api.last_status() == 404) return ctx.no_such_vhost();
  if (ctx.api.last_status() == 400) {
    std::cerr << "Error:\n" << ctx.api.error_text() << '\n';
    return haremq::ctl::exit_unavailable;
  }
  return ctx.fail(put.error());
}

int clear_policy(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Clearing policy \"{}\" on vhost \"{}\" ...", name, ctx.opts.vhost));
  const auto gone = ctx.api.del(api_path({"policies", ctx.opts.vhost, name}));
  if (gone) return haremq::ctl::exit_ok;
  // rabbitmqctl's words for a missing policy (or vhost), with its exit code.
  if (ctx.api.last_status() == 404) {
    std::cerr << "Error:\nParameter does not exist\n";
    return haremq::ctl::exit_unavailable;
  }
  return ctx.fail(gone.error());
}

int purge_queue(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Purging queue '{}' in vhost '{}' ...", name, ctx.opts.vhost));
  return ctx.done(ctx.api.del(api_path({"queues", ctx.opts.vhost, name, "contents"})));
}

int delete_queue(const context& ctx) {
  const auto& name = ctx.in.args[0];
  ctx.banner(fmt::format("Deleting queue '{}' on vhost '{}' ...", name, ctx.opts.vhost));
  const std::string path = api_path({"queues", ctx.opts.vhost, name});
  // queue.delete-ok carries the count; the API does not, so it is read just before. The
  // statistics behind it may lag the queue by a few seconds.
  std::optional<std::int64_t> ready;
  if (auto queue = ctx.api.get(path); queue && queue->is_object()) {
    if (const auto it = queue->find("messages_ready"); it != queue->end() && it->is_number_integer()) {
      ready = it->get<std::int64_t>();
    }
  }
  std::string query;
  if (ctx.in.if_empty) query += "if-empty=true";
  if (ctx.in.if_unused) query += std::string(query.empty() ? "" : "&") + "if-unused=true";
  if (auto gone = ctx.api.del(query.empty() ? path : path + "?" + query); !gone) return ctx.fail(gone.error());
  if (ready && ctx.how != format::json)
    std::cout << "Queue was successfully deleted with " << *ready << " ready messages\n";
  return haremq::ctl::exit_ok;
}

int export_definitions(const context& ctx) {
  const auto& file = ctx.in.args[0];
  if (file != "-") ctx.banner(fmt::format("Exporting definitions in JSON to a file at \"{}\" ...", file));
  auto text = ctx.api.get_text(api_path({"definitions"}));
  if (!text) return ctx.fail(text.error());
  if (file == "-") {
    std::cout << *text << std::flush;
    return haremq::ctl::exit_ok;
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << *text;
  out.close();
  if (!out) {
    std::cerr << "Error:\ncannot write " << file << "\n";
    return haremq::ctl::exit_data;
  }
  return haremq::ctl::exit_ok;
}

int import_definitions(const context& ctx) {
  const auto& file = ctx.in.args[0];
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "Error (argument validation): Bad argument: File " << file << " does not exist\n";
      return haremq::ctl::exit_data;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ctx.banner(file == "-" ? std::string("Importing definitions in JSON from standard input ...")
                         : fmt::format("Importing definitions in JSON from a file at \"{}\" ...", file));
  if (!json::accept(text)) {
    std::cerr << "Error:\nFailed to deserialise input (format: JSON)\n";
    return haremq::ctl::exit_data;
  }
  return ctx.done(ctx.api.post(api_path({"definitions"}), text));
}

// ---------------------------------------------------------------------------------------------
// status: /api/overview, plus /api/nodes and /api/vhosts when the broker has them.
// ---------------------------------------------------------------------------------------------

const json* field(const json& object, std::string_view pointer) {
  const json::json_pointer where{std::string(pointer)};
  if (!object.is_object() || !object.contains(where)) return nullptr;
  const json& value = object.at(where);
  return value.is_null() ? nullptr : &value;
}

std::string text_of(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string gigabytes(const json& bytes) {
  return bytes.is_number() ? fmt::format("{:.4f} gb", bytes.get<double>() / 1e9) : text_of(bytes);
}

std::string_view purpose_of(std::string_view protocol) {
  if (protocol == "amqp") return "AMQP 0-9-1";
  if (protocol == "amqp/ssl") return "AMQP 0-9-1 over TLS";
  if (protocol == "http") return "HTTP API";
  if (protocol == "clustering") return "inter-node and CLI tool communication";
  if (protocol == "http/prometheus") return "Prometheus exporter API over HTTP";
  return "";
}

// Sections of "Label: value" lines, printed as rabbitmqctl status prints them and collected
// into one JSON object (section -> label -> value) for --formatter json.
class status_report {
 public:
  void section(std::string title) { _sections.push_back({std::move(title), {}}); }
  void line(std::string label, json value, std::string text) {
    _sections.back().lines.push_back({std::move(label), std::move(value), std::move(text)});
  }
  void line_if(std::string label, const json* value) {
    if (value != nullptr) line(std::move(label), *value, text_of(*value));
  }

  void print(std::ostream& out, format how) const {
    if (how == format::json) {
      json doc = json::object();
      for (const auto& s : _sections) {
        if (s.lines.empty()) continue;
        // A section of unlabelled lines (listeners, alarms) is one value: the list they show.
        if (s.lines.front().label.empty()) {
          doc[s.title] = s.lines.front().value;
          continue;
        }
        json& lines = doc[s.title] = json::object();
        for (const auto& l : s.lines) lines[l.label] = l.value;
      }
      out << doc.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      return;
    }
    for (const auto& s : _sections) {
      if (s.lines.empty()) continue;
      out << s.title << "\n\n";
      for (const auto& l : s.lines) out << (l.label.empty() ? l.text : l.label + ": " + l.text) << '\n';
      out << '\n';
    }
  }

 private:
  struct status_line {
    std::string label;  // empty: the text stands alone
    json value;
    std::string text;
  };
  struct part {
    std::string title;
    std::vector<status_line> lines;
  };
  std::vector<part> _sections;
};

int status(const context& ctx) {
  auto overview = ctx.api.get(api_path({"overview"}));
  if (!overview) return ctx.fail(overview.error());
  const json& o = *overview;
  const std::string node_name = field(o, "/node") != nullptr ? text_of(*field(o, "/node")) : std::string("unknown");
  ctx.banner(fmt::format("Status of node {} ...", node_name));

  json node = json::object();  // tolerated: a broker without /api/nodes
  if (auto nodes = ctx.api.get(api_path({"nodes"})); nodes && nodes->is_array()) {
    for (const auto& n : *nodes) {
      if (n.is_object() && (node.empty() || n.value("name", json()) == json(node_name))) node = n;
    }
  }
  std::optional<std::size_t> vhost_count;
  if (auto vhosts = ctx.api.get(api_path({"vhosts"})); vhosts && vhosts->is_array()) vhost_count = vhosts->size();

  status_report report;
  report.section("Runtime");
  report.line_if("OS PID", field(node, "/os_pid"));
  if (const auto* uptime = field(node, "/uptime"); uptime != nullptr && uptime->is_number()) {
    const auto seconds = uptime->get<std::int64_t>() / 1000;
    report.line("Uptime (seconds)", seconds, std::to_string(seconds));
  }
  report.line_if("Product name", field(o, "/product_name"));
  report.line_if("Product version", field(o, "/product_version"));
  report.line_if("RabbitMQ version", field(o, "/rabbitmq_version"));
  report.line_if("Node name", field(o, "/node"));
  report.line_if("Cluster name", field(o, "/cluster_name"));
  report.line_if("Erlang configuration", field(o, "/erlang_full_version"));
  report.line_if("Processors", field(node, "/processors"));

  report.section("Alarms");
  std::vector<std::string> alarms;
  if (const auto* a = field(node, "/mem_alarm"); a != nullptr && a->is_boolean() && a->get<bool>()) {
    alarms.emplace_back("memory");
  }
  if (const auto* a = field(node, "/disk_free_alarm"); a != nullptr && a->is_boolean() && a->get<bool>()) {
    alarms.emplace_back("free disk space");
  }
  if (field(node, "/mem_alarm") != nullptr || field(node, "/disk_free_alarm") != nullptr) {
    if (alarms.empty()) report.line("", json::array(), "(none)");
    for (const auto& a : alarms) report.line("", alarms, fmt::format("Alarm: {}", a));
  }

  report.section("Memory");
  if (const auto* used = field(node, "/mem_used")) report.line("Total memory used", *used, gigabytes(*used));
  if (const auto* limit = field(node, "/mem_limit")) report.line("Memory high watermark", *limit, gigabytes(*limit));

  report.section("File Descriptors");
  if (const auto* used = field(node, "/fd_used")) {
    const auto* limit = field(node, "/fd_total");
    report.line("Total", *used, text_of(*used) + (limit != nullptr ? ", limit: " + text_of(*limit) : ""));
  }
  if (const auto* used = field(node, "/sockets_used")) {
    const auto* limit = field(node, "/sockets_total");
    report.line("Sockets", *used, text_of(*used) + (limit != nullptr ? ", limit: " + text_of(*limit) : ""));
  }

  report.section("Free Disk Space");
  if (const auto* limit = field(node, "/disk_free_limit")) {
    report.line("Low free disk space watermark", *limit, gigabytes(*limit));
  }
  if (const auto* free = field(node, "/disk_free")) report.line("Free disk space", *free, gigabytes(*free));

  report.section("Totals");
  report.line_if("Connection count", field(o, "/object_totals/connections"));
  report.line_if("Channel count", field(o, "/object_totals/channels"));
  report.line_if("Queue count", field(o, "/object_totals/queues"));
  report.line_if("Exchange count", field(o, "/object_totals/exchanges"));
  report.line_if("Consumer count", field(o, "/object_totals/consumers"));
  if (vhost_count) report.line("Virtual host count", *vhost_count, std::to_string(*vhost_count));

  report.section("Messages");
  report.line_if("Total", field(o, "/queue_totals/messages"));
  report.line_if("Ready", field(o, "/queue_totals/messages_ready"));
  report.line_if("Unacknowledged", field(o, "/queue_totals/messages_unacknowledged"));
  report.line_if("Published", field(o, "/message_stats/publish"));
  report.line_if("Delivered and fetched", field(o, "/message_stats/deliver_get"));

  report.section("Listeners");
  if (const auto* listeners = field(o, "/listeners"); listeners != nullptr && listeners->is_array()) {
    for (const auto& l : *listeners) {
      const std::string protocol = l.contains("protocol") ? text_of(l["protocol"]) : "";
      std::string text = fmt::format("Interface: {}, port: {}, protocol: {}",
                                     l.contains("ip_address") ? text_of(l["ip_address"]) : "?",
                                     l.contains("port") ? text_of(l["port"]) : "?", protocol);
      if (const auto purpose = purpose_of(protocol); !purpose.empty()) text += fmt::format(", purpose: {}", purpose);
      report.line("", *listeners, text);
    }
  }
  report.print(std::cout, ctx.how);
  return haremq::ctl::exit_ok;
}

// ---------------------------------------------------------------------------------------------
// The command table.
// ---------------------------------------------------------------------------------------------

enum class extra_flags { none, delete_queue, set_policy };

struct command {
  std::string_view name;
  std::string_view help;
  std::vector<std::string_view> params;  // required arguments, in order
  std::string_view rest;                 // an optional trailing list, or empty
  extra_flags extra;
  int (*run)(const context&);
};

const std::vector<command>& commands() {
  static const std::vector<command> table = {
      {"list_queues", "Lists queues of a vhost and their properties", {}, "column", extra_flags::none, list_queues},
      {"list_exchanges", "Lists exchanges of a vhost", {}, "column", extra_flags::none, list_exchanges},
      {"list_bindings", "Lists bindings of a vhost", {}, "column", extra_flags::none, list_bindings},
      {"list_connections", "Lists AMQP connections", {}, "column", extra_flags::none, list_connections},
      {"list_consumers", "Lists consumers of a vhost", {}, "column", extra_flags::none, list_consumers},
      {"list_vhosts", "Lists virtual hosts", {}, "column", extra_flags::none, list_vhosts},
      {"list_users", "Lists users and their tags", {}, "column", extra_flags::none, list_users},
      {"list_permissions", "Lists user permissions in a vhost", {}, "column", extra_flags::none, list_permissions},
      {"list_user_permissions",
       "Lists the permissions of a user in every vhost",
       {"USER"},
       "column",
       extra_flags::none,
       list_user_permissions},
      {"add_vhost", "Creates a virtual host", {"VHOST"}, {}, extra_flags::none, add_vhost},
      {"delete_vhost", "Deletes a virtual host and everything in it", {"VHOST"}, {}, extra_flags::none, delete_vhost},
      {"add_user",
       "Creates a user (with no tags and no permissions)",
       {"USER", "PASSWORD"},
       {},
       extra_flags::none,
       add_user},
      {"delete_user", "Deletes a user", {"USER"}, {}, extra_flags::none, delete_user},
      {"change_password", "Changes a user's password", {"USER", "PASSWORD"}, {}, extra_flags::none, change_password},
      {"set_user_tags", "Sets a user's tags (none: clears them)", {"USER"}, "tag", extra_flags::none, set_user_tags},
      {"set_permissions",
       "Sets a user's configure, write and read permissions (regular expressions) in a vhost",
       {"USER", "CONF", "WRITE", "READ"},
       {},
       extra_flags::none,
       set_permissions},
      {"clear_permissions",
       "Revokes a user's permissions in a vhost",
       {"USER"},
       {},
       extra_flags::none,
       clear_permissions},
      {"list_policies", "Lists the policies of a vhost", {}, {}, extra_flags::none, list_policies},
      {"set_policy",
       "Sets or updates a policy: a regular expression for the names it applies to and its definition (JSON)",
       {"NAME", "PATTERN", "DEFINITION"},
       {},
       extra_flags::set_policy,
       set_policy},
      {"clear_policy", "Clears (removes) a policy", {"NAME"}, {}, extra_flags::none, clear_policy},
      {"purge_queue", "Removes every ready message from a queue", {"QUEUE"}, {}, extra_flags::none, purge_queue},
      {"delete_queue", "Deletes a queue", {"QUEUE"}, {}, extra_flags::delete_queue, delete_queue},
      {"export_definitions",
       "Writes the broker's definitions as JSON to FILE (- for standard output)",
       {"FILE"},
       {},
       extra_flags::none,
       export_definitions},
      {"import_definitions",
       "Imports definitions from a JSON FILE (- for standard input)",
       {"FILE"},
       {},
       extra_flags::none,
       import_definitions},
      {"status", "Shows the broker's version, listeners, totals, memory and alarms", {}, {}, extra_flags::none, status},
  };
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  CLI::App app{"haremqctl: rabbitmqctl's everyday commands over the management HTTP API of HareMQ or RabbitMQ"};
  app.fallthrough();  // global options may come after the command, as with rabbitmqctl
  app.require_subcommand(1);
  app.add_option("--host", opts.where.host, "Management API host")->capture_default_str();
  app.add_option("--port", opts.where.port, "Management API port")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("-u,--user", opts.where.user, "User name (HTTP basic auth)")->capture_default_str();
  app.add_option("--password", opts.where.password, "Password")->capture_default_str();
  app.add_option("-p,--vhost", opts.vhost, "Virtual host")->capture_default_str();
  app.add_option("--formatter", opts.formatter, "Output format: tsv (as rabbitmqctl prints), table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"tsv", "table", "json"}));
  app.add_flag("-q,--quiet", opts.quiet, "No informational messages");
  app.add_flag("--no-table-headers", opts.no_headers, "No header line in tsv and table output");

  const auto& table = commands();
  std::vector<invocation> given(table.size());
  std::vector<CLI::App*> subcommands;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& c = table[i];
    auto& in = given[i];
    in.args.resize(c.params.size());  // bound below by reference: never resized again
    auto* sub = app.add_subcommand(std::string(c.name), std::string(c.help));
    for (std::size_t p = 0; p < c.params.size(); ++p) {
      sub->add_option(std::string(c.params[p]), in.args[p])->required();
    }
    if (!c.rest.empty()) sub->add_option(std::string(c.rest), in.rest);
    if (c.extra == extra_flags::delete_queue) {
      sub->add_flag("--if-empty", in.if_empty, "Only if the queue has no messages");
      sub->add_flag("--if-unused", in.if_unused, "Only if the queue has no consumers");
    }
    if (c.extra == extra_flags::set_policy) {
      sub->add_option("--priority", in.priority, "Policy priority: the highest of those that match applies")
          ->capture_default_str();
      sub->add_option("--apply-to", in.apply_to, "What the policy applies to: queues, exchanges or all (the default)");
    }
    subcommands.push_back(sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? haremq::ctl::exit_ok : haremq::ctl::exit_usage;
  }

  api_client api(opts.where);
  const format how = haremq::ctl::parse_format(opts.formatter).value_or(format::tsv);
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (subcommands[i]->parsed()) return table[i].run(context{api, opts, how, given[i]});
  }
  return haremq::ctl::exit_usage;
}
