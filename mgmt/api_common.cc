// What the handlers of the three route groups share: requests' parameters and bodies, errors,
// visibility of vhosts, permission checks, and the shaping of list answers.
#include <algorithm>
#include <regex>

#include "mgmt/api.h"

namespace haremq::mgmt {

std::optional<std::string> request::param(std::string_view name) const {
  const auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

json request::body_json() const {
  if (body.empty()) return json::object();
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw bad_request("not_json");
  return j;
}

api_error not_found() { return {404, "Object Not Found", "Not Found"}; }
api_error bad_request(std::string reason) { return {400, "bad_request", std::move(reason)}; }
api_error not_authorised(std::string reason) { return {401, "not_authorised", std::move(reason)}; }

bool may_see_vhost(api_context& c, const request& r, std::string_view vhost) {
  return r.user.can_monitor() || c.broker.topology().find_permissions(vhost, r.user.name).has_value();
}

void check_vhost(api_context& c, const request& r, std::string_view vhost) {
  if (!c.broker.topology().vhost_exists(vhost)) throw not_found();
  if (!may_see_vhost(c, r, vhost)) throw not_authorised("User not authorised to access virtual host");
}

void check_permission(api_context& c, const request& r, engine::access::permission what,
                      engine::access::resource_kind kind, std::string_view vhost, std::string_view name) {
  const auto p = c.broker.topology().find_permissions(vhost, r.user.name);
  if (!p) throw not_authorised("User not authorised to access virtual host");
  if (!engine::access::grant(*p).allows(what, kind, name)) throw not_authorised("Access refused.");
}

namespace {

// The value at a dotted path ("message_stats.publish"), or null.
const json* at_path(const json& item, std::string_view path) {
  const json* node = &item;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string key{path.substr(0, dot)};
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return node;
}

}  // namespace

// Keeps the "columns" the query names, when it names some. A dotted column keeps its whole
// top-level member ("queue_totals.messages" keeps "queue_totals"), as RabbitMQ does.
json keep_columns(const request& r, json item) {
  const auto columns = r.param("columns");
  if (!columns || columns->empty()) return item;
  json kept = json::object();
  std::string_view rest = *columns;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view column = rest.substr(0, comma);
    const std::string top{column.substr(0, column.find('.'))};
    if (item.is_object() && item.contains(top)) kept[top] = item[top];
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return kept;
}

json shape_object(const request& r, json item) { return keep_columns(r, std::move(item)); }

json shape_list(const request& r, json items) {
  const auto unfiltered = static_cast<long long>(items.size());
  // "name": a substring of the name, or a regular expression with use_regex=true.
  if (const auto name = r.param("name"); name && !name->empty()) {
    const bool regex = r.param("use_regex") == std::optional<std::string>("true");
    std::optional<std::regex> pattern;
    if (regex) {
      try {
        pattern.emplace(*name);
      } catch (const std::regex_error&) {
        throw bad_request("invalid regular expression: " + *name);
      }
    }
    json kept = json::array();
    for (auto& item : items) {
      const std::string n = item.contains("name") && item["name"].is_string() ? item["name"].get<std::string>() : "";
      if (regex ? std::regex_search(n, *pattern) : n.find(*name) != std::string::npos) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (const auto sort = r.param("sort"); sort && !sort->empty()) {
    std::stable_sort(items.begin(), items.end(), [&](const json& a, const json& b) {
      const json* x = at_path(a, *sort);
      const json* y = at_path(b, *sort);
      const json nx = x ? *x : json(), ny = y ? *y : json();
      return nx < ny;
    });
    // Reversed whole, ties included, as RabbitMQ reverses its sorted list.
    if (r.param("sort_reverse") == std::optional<std::string>("true")) std::reverse(items.begin(), items.end());
  }
  for (auto& item : items) item = keep_columns(r, std::move(item));
  const auto page = r.param("page");
  if (!page) return items;
  const long long size = std::max(1LL, std::atoll(r.param("page_size").value_or("100").c_str()));
  const long long number = std::max(1LL, std::atoll(page->c_str()));
  const long long total = static_cast<long long>(items.size());
  const long long pages = std::max(1LL, (total + size - 1) / size);
  if (number > pages) {
    throw api_error(400, "page_out_of_range",
                    "Page out of range, page: " + std::to_string(number) + " page size: " + std::to_string(size) +
                        ", len: " + std::to_string(total));
  }
  json out_items = json::array();
  for (long long i = (number - 1) * size; i < std::min(total, number * size); ++i) {
    out_items.push_back(items[static_cast<std::size_t>(i)]);
  }
  return json{{"filtered_count", total}, {"item_count", out_items.size()}, {"items", std::move(out_items)},
              {"page", number},          {"page_count", pages},             {"page_size", size},
              {"total_count", unfiltered}};
}

bool json_flag(const json& body, std::string_view key, bool fallback) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  throw bad_request("\"" + std::string(key) + "\" must be true or false");
}

long long json_number(const json& body, std::string_view key, long long fallback) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return it->get<long long>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
    }
  }
  throw bad_request("\"" + std::string(key) + "\" must be a number");
}

}  // namespace haremq::mgmt
