#include "engine/dead_letter.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/header_routes.h"
#include "net/amqp/byte_writer.h"

namespace haremq::engine {
namespace {

using amqp::field_table;
using amqp::field_type;
using amqp::field_value;

std::string_view string_field(const field_table& t, std::string_view name) {
  const auto v = t.find(name);
  return v && v->type() == field_type::long_string ? v->as_string() : std::string_view{};
}

// Whether an x-death entry is the death in `queue` for `reason` (RabbitMQ's event key).
bool is_event(const field_table& t, std::string_view queue, std::string_view reason) {
  return string_field(t, "queue") == queue && string_field(t, "reason") == reason;
}

// One x-death entry written with the given count, its other fields copied from `from`,
// sorted by name (RabbitMQ sorts an entry it rewrites).
void write_sorted_entry(amqp::table_writer& array, const field_table& from, std::int64_t count) {
  std::vector<amqp::field_entry> entries;
  for (const auto& e : from) entries.push_back(e);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  auto table = array.nested("", amqp::table_writer::kind::table);
  for (const auto& e : entries) table.add(e.name, e.name == "count" ? field_value::i64(count) : e.value);
  table.finish();
}

}  // namespace

message_ref make_dead_letter(const message& original, const death& d) {
  amqp::basic_properties props = original.decode_properties();
  const std::string_view routed_by = d.replace_routing_key ? d.routing_key : original.routing_key();
  const std::string_view original_expiration =
      props.has(amqp::property::expiration) ? props.expiration : std::string_view{};
  const field_table headers = props.has(amqp::property::headers) ? props.headers : field_table{};

  // The array, the headers holding it and the properties holding those: each at most the old
  // properties plus one entry (whose CC keys are no longer than the CC header they come from).
  const std::size_t entry_room = 512 + d.queue.size() + original.exchange().size() + original.routing_key().size() +
                                 original_expiration.size() + original.properties().size();
  std::vector<std::byte> buffer(4 * (original.properties().size() + entry_room));
  amqp::byte_writer w{buffer};

  // The new x-death array, written first into the buffer's front part.
  // RabbitMQ adds x-first-death-* only when there is no x-death at all, and writes a new entry
  // in its own field order only when there is no x-death array (a junk value is replaced).
  const auto deaths = headers.find("x-death");
  const bool had_deaths = deaths && deaths->type() == field_type::array;
  const bool first_death = !deaths;
  // The earlier deaths, one per queue and reason. RabbitMQ regroups them (a fold that
  // prepends) whenever there are two or more, which reverses their order: kept, for the
  // headers to be byte for byte what its clients see.
  std::vector<field_table> older;
  if (had_deaths) {
    for (const auto& v : deaths->as_array()) {
      if (v.type() != field_type::table) continue;
      const field_table t = v.as_table();
      const bool seen = std::any_of(older.begin(), older.end(), [&](const field_table& o) {
        return is_event(o, string_field(t, "queue"), string_field(t, "reason"));
      });
      if (!seen) older.push_back(t);
    }
    if (older.size() >= 2) std::reverse(older.begin(), older.end());
  }
  const auto match = std::find_if(older.begin(), older.end(), [&](const field_table& t) {
    return is_event(t, d.queue, d.reason);
  });
  amqp::table_writer array{w, amqp::table_writer::kind::array};
  if (match != older.end()) {
    // Died here for the same reason before: count+1, the rest of its first death kept.
    const auto count = match->find("count");
    write_sorted_entry(array, *match, (count && count->is_integer() ? count->as_int() : 0) + 1);
  } else {
    // A new event: RabbitMQ writes the first one in its own order, and sorts later ones.
    std::vector<std::byte> scratch(entry_room);
    amqp::byte_writer sw{scratch};
    amqp::table_writer entry{sw};
    entry.add("count", field_value::i64(1));
    entry.add("reason", field_value::string(d.reason));
    entry.add("queue", field_value::string(d.queue));
    entry.add("time", field_value::timestamp(static_cast<std::uint64_t>(d.unix_seconds)));
    entry.add("exchange", field_value::string(original.exchange()));
    {
      // Its routing key and its CC keys; not the BCC ones (RabbitMQ reads CC from the headers).
      auto keys = entry.nested("routing-keys", amqp::table_writer::kind::array);
      keys.add("", field_value::string(original.routing_key()));
      if (const auto cc = headers.find("CC"); cc && cc->type() == field_type::array) {
        for_each_route(cc->as_array(), [&](std::string_view key) { keys.add("", field_value::string(key)); });
      }
      keys.finish();
    }
    if (props.has(amqp::property::expiration)) entry.add("original-expiration", field_value::string(original_expiration));
    const field_table fresh = field_table::trusted(entry.finish());
    if (had_deaths) {
      write_sorted_entry(array, fresh, 1);
    } else {
      auto t = array.nested("", amqp::table_writer::kind::table);
      for (const auto& e : fresh) t.add(e.name, e.value);
      t.finish();
    }
  }
  for (auto it = older.begin(); it != older.end(); ++it) {
    if (it == match) continue;
    if (older.size() >= 2 && !it->find("count")) {
      // Regrouping gives an entry without a count one, in front.
      auto t = array.nested("", amqp::table_writer::kind::table);
      t.add("count", field_value::i64(1));
      for (const auto& e : *it) t.add(e.name, e.value);
      t.finish();
      continue;
    }
    array.add("", field_value::table(*it));
  }
  const auto array_bytes = array.finish();
  const field_value x_death = field_value::array(amqp::field_array::trusted(array_bytes));

  // The headers: the old ones, the x-death array, and x-first-death-* on the first death;
  // sorted by name.
  std::vector<amqp::field_entry> entries;
  for (const auto& e : headers) {
    if (e.name == "x-death") continue;
    if (first_death && e.name.starts_with("x-first-death-")) continue;
    // Routed by x-dead-letter-routing-key alone: the CC keys go (BCC ones were never there).
    if (d.replace_routing_key && e.name == "CC") continue;
    entries.push_back(e);
  }
  entries.push_back({"x-death", x_death});
  if (first_death) {
    entries.push_back({"x-first-death-exchange", field_value::string(original.exchange())});
    entries.push_back({"x-first-death-queue", field_value::string(d.queue)});
    entries.push_back({"x-first-death-reason", field_value::string(d.reason)});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  amqp::table_writer table{w};
  for (const auto& e : entries) table.add(e.name, e.value);
  props.headers = field_table::trusted(table.finish());
  props.set(amqp::property::headers);
  props.flags = static_cast<std::uint16_t>(props.flags & ~static_cast<std::uint16_t>(amqp::property::expiration));
  props.expiration = {};

  const std::size_t properties_at = w.position();
  amqp::write_properties(w, props);
  const amqp::bytes_view encoded{buffer.data() + properties_at, w.position() - properties_at};

  message_traits traits;
  traits.persistent = original.persistent();
  traits.priority = original.priority();
  // Routed again by all its keys, BCC ones included, unless x-dead-letter-routing-key replaces them.
  traits.header_routes = !d.replace_routing_key && original.header_routes();
  const amqp::bytes_view bcc = d.replace_routing_key ? amqp::bytes_view{} : original.bcc().bytes();
  message* m = message::create(d.exchange, routed_by, encoded, original.body_size(), traits, bcc);
  if (m == nullptr) return {};
  m->append_body(original.body());
  return message_ref{m};
}

bool dead_letter_cycle(const message& m, std::string_view target) {
  const amqp::basic_properties props = m.decode_properties();
  const auto deaths = props.headers.find("x-death");
  if (!deaths || deaths->type() != field_type::array) return false;
  bool automatic = true;
  for (const auto& v : deaths->as_array()) {
    if (v.type() != field_type::table) {
      automatic = false;  // something a client put there
      continue;
    }
    const field_table t = v.as_table();
    if (string_field(t, "reason") == "rejected") automatic = false;
    if (string_field(t, "queue") == target) return automatic;
  }
  return false;
}

}  // namespace haremq::engine
