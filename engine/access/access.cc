#include "engine/access/access.h"

#include <algorithm>

namespace haremq::engine::access {

bool user_record::has_tag(std::string_view tag) const noexcept {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

std::vector<std::string> split_tags(std::string_view comma_separated) {
  std::vector<std::string> tags;
  while (!comma_separated.empty()) {
    const auto comma = comma_separated.find(',');
    std::string_view tag = comma_separated.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (!tag.empty()) tags.emplace_back(tag);
    if (comma == std::string_view::npos) break;
    comma_separated.remove_prefix(comma + 1);
  }
  return tags;
}

bool valid_pattern(const std::string& pattern, std::string& error) {
  try {
    std::regex compiled(pattern);
    return true;
  } catch (const std::regex_error& e) {
    error = e.what();
    return false;
  }
}

grant::grant(const permission_record& p) {
  const std::string* patterns[] = {&p.configure, &p.write, &p.read};
  for (int i = 0; i < 3; ++i) {
    if (patterns[i]->empty()) continue;
    try {
      _patterns[i].emplace(*patterns[i], std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error&) {
      // Grants nothing, as an empty pattern.
    }
  }
}

bool grant::allows(permission what, resource_kind kind, std::string_view name) const {
  const auto& pattern = _patterns[static_cast<int>(what)];
  if (!pattern) return false;
  const std::string_view checked = checked_name(kind, name);
  return std::regex_search(checked.begin(), checked.end(), *pattern);
}

std::string refusal(resource_kind kind, std::string_view name, std::string_view vhost, std::string_view user) {
  std::string text = "access to ";
  text += kind == resource_kind::exchange ? "exchange '" : "queue '";
  text += checked_name(kind, name);
  text += "' in vhost '";
  text += vhost;
  text += "' refused for user '";
  text += user;
  text += "'";
  return text;
}

}  // namespace haremq::engine::access
