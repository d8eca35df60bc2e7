// Covers: field tables to JSON and back by RabbitMQ's rules; the export (durable entities
// only, built-in exchanges left out, bindings between durable ends) and its import into a
// fresh store; the import of a real RabbitMQ 3.10 export, its retained users and permissions
// written back; clients redeclaring imported queues with their own integer types; errors for
// malformed files; the persistence hook (durable changes only, one call per import); the
// definitions file saved atomically and loaded back.
// Users, permissions and policies are applied: policies before the queues they limit, replaced
// by name, refused with RabbitMQ's validation text, written back from the topology in
// RabbitMQ's format, kept in the definitions file and loaded from an older HareMQ's file (which
// carried them through unread). Parameters are carried through.
#include "engine/store/definitions.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <map>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/store/definitions_file.h"
#include "tests/support/data_files.h"

namespace haremq::engine::store {
namespace {

using nlohmann::json;
using amqp::field_type;
using amqp::field_value;

// A field table built by `fill`, owning its bytes.
template <class F>
std::vector<std::byte> table(F&& fill) {
  std::vector<std::byte> buffer(4096);
  amqp::byte_writer w{buffer};
  amqp::table_writer t{w};
  fill(t);
  const auto content = t.finish();
  EXPECT_TRUE(w.ok());
  return {content.begin(), content.end()};
}

std::vector<std::byte> from_json(const json& j) {
  auto bytes = arguments_from_json(j);
  EXPECT_TRUE(std::holds_alternative<std::vector<std::byte>>(bytes)) << std::get<std::string>(bytes);
  return std::get<std::vector<std::byte>>(bytes);
}

std::string from_json_error(const json& j) {
  const auto bytes = arguments_from_json(j);
  return std::holds_alternative<std::string>(bytes) ? std::get<std::string>(bytes) : "(no error)";
}

amqp::field_value value(const std::vector<std::byte>& bytes, std::string_view name) {
  const auto v = amqp::field_table::trusted(bytes).find(name);
  EXPECT_TRUE(v.has_value()) << name;
  return v.value_or(field_value{});
}

queue_placement on_worker(std::uint16_t w) {
  return [w] { return worker_id{w}; };
}

void declare_exchange(topology_store& s, std::string_view vhost, std::string_view name, std::string_view type,
                      bool durable, std::vector<std::byte> args = {}) {
  exchange_declaration d{name, type, false, durable, false, false, amqp::field_table::trusted(args)};
  ASSERT_FALSE(s.declare_exchange(vhost, d));
}

void declare_queue(topology_store& s, std::string_view vhost, std::string_view name, bool durable,
                   bool exclusive = false, std::vector<std::byte> args = {}, connection_key owner = {}) {
  queue_declaration d;
  d.name = name;
  d.durable = durable;
  d.exclusive = exclusive;
  d.arguments = amqp::field_table::trusted(args);
  const auto r = s.declare_queue(vhost, d, worker_id{1}, owner);
  ASSERT_TRUE(std::holds_alternative<queue_record>(r)) << std::get<topology_error>(r).text;
}

std::optional<topology_error> add_binding(topology_store& s, std::string_view vhost, binding_kind kind,
                                   std::string_view destination, std::string_view source, std::string_view key,
                                   const std::vector<std::byte>& args = {}) {
  return s.bind(vhost, kind, destination, source, key, amqp::field_table::trusted(args), connection_key{});
}

// The store's entities by name, for comparing two stores.
struct entities {
  std::set<std::tuple<std::string, std::string, std::string, bool, std::vector<std::byte>>> exchanges;
  std::set<std::tuple<std::string, std::string, bool, bool, std::vector<std::byte>>> queues;
  std::set<std::tuple<std::string, std::string, std::string, std::string, std::vector<std::byte>>> bindings;
  std::set<std::string> vhosts;
};

entities entities_of(const topology_store& s) {
  entities out;
  for (const auto& [vhost, v] : s.snapshot().first) {
    out.vhosts.insert(vhost);
    std::map<std::uint32_t, std::string> exchange_names, queue_names;
    for (const auto& [name, x] : v.exchanges) exchange_names[x.id] = name;
    for (const auto& [name, q] : v.queues) {
      queue_names[q.id.value] = name;
      out.queues.emplace(vhost, name, q.settings.durable, q.settings.auto_delete, q.settings.arguments);
    }
    for (const auto& [name, x] : v.exchanges) {
      out.exchanges.emplace(vhost, name, std::string(name_of(x.type)), x.durable, x.arguments);
      for (const auto& b : x.bindings) {
        const bool to_queue = b.to.what == destination::kind::queue;
        out.bindings.emplace(vhost, name, (to_queue ? "q:" : "x:") + (to_queue ? queue_names : exchange_names)[b.to.id],
                             b.routing_key, b.arguments);
      }
    }
  }
  return out;
}

TEST(ArgumentsJson, WritesEveryFieldTypeAsRabbitMqDoes) {
  const auto inner = table([](amqp::table_writer& t) { t.add("b", field_value::boolean(true)); });
  const auto bytes = table([&](amqp::table_writer& t) {
    t.add("i8", field_value::i8(-8));
    t.add("u8", field_value::u8(200));
    t.add("i16", field_value::i16(-16000));
    t.add("u16", field_value::u16(65000));
    t.add("i32", field_value::i32(-70000));
    t.add("u32", field_value::u32(4000000000u));
    t.add("i64", field_value::i64(-1099511627776));
    t.add("ts", field_value::timestamp(1704164645));
    t.add("f32", field_value::f32(1.5f));
    t.add("f64", field_value::f64(-2.25));
    t.add("dec", field_value::decimal({2, 125}));
    t.add("str", field_value::string("text"));
    t.add("bin", field_value::byte_array(amqp::as_bytes(std::string_view("raw"))));
    t.add("yes", field_value::boolean(true));
    t.add("void", field_value::void_value());
    t.add("tab", field_value::table(amqp::field_table::trusted(inner)));
    auto a = t.nested("arr", amqp::table_writer::kind::array);
    a.add({}, field_value::i32(1));
    a.add({}, field_value::string("two"));
    a.finish();
  });
  const json expected = {{"i8", -8},
                         {"u8", 200},
                         {"i16", -16000},
                         {"u16", 65000},
                         {"i32", -70000},
                         {"u32", 4000000000u},
                         {"i64", -1099511627776},
                         {"ts", 1704164645},
                         {"f32", 1.5},
                         {"f64", -2.25},
                         {"dec", 1.25},
                         {"str", "text"},
                         {"bin", "raw"},
                         {"yes", true},
                         {"void", nullptr},
                         {"tab", {{"b", true}}},
                         {"arr", {1, "two"}}};
  EXPECT_EQ(arguments_to_json(amqp::field_table::trusted(bytes)), expected);
}

TEST(ArgumentsJson, ReadsJsonByRabbitMqsRules) {
  const auto bytes = from_json(json::parse(
      R"({"int": 10, "neg": -7, "big": 9223372036854775807, "float": 2.5, "str": "s", "yes": true,
          "none": null, "obj": {"k": "v", "n": 2}, "arr": [1, "two", false]})"));
  const auto t = amqp::field_table::trusted(bytes);
  EXPECT_EQ(t.size(), 9u);
  EXPECT_EQ(value(bytes, "int"), field_value::i64(10));
  EXPECT_EQ(value(bytes, "neg"), field_value::i64(-7));
  EXPECT_EQ(value(bytes, "big"), field_value::i64(9223372036854775807));
  EXPECT_EQ(value(bytes, "float"), field_value::f64(2.5));
  EXPECT_EQ(value(bytes, "str"), field_value::string("s"));
  EXPECT_EQ(value(bytes, "yes"), field_value::boolean(true));
  EXPECT_EQ(value(bytes, "none").type(), field_type::void_value);
  const auto obj = value(bytes, "obj");
  ASSERT_EQ(obj.type(), field_type::table);
  EXPECT_EQ(obj.as_table().find("k"), field_value::string("v"));
  EXPECT_EQ(obj.as_table().find("n"), field_value::i64(2));
  const auto arr = value(bytes, "arr");
  ASSERT_EQ(arr.type(), field_type::array);
  std::vector<field_value> items(arr.as_array().begin(), arr.as_array().end());
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], field_value::i64(1));
  EXPECT_EQ(items[1], field_value::string("two"));
  EXPECT_EQ(items[2], field_value::boolean(false));
  // The bytes are a valid table, nested containers included.
  EXPECT_TRUE(amqp::field_table::parse(bytes).has_value());
  EXPECT_EQ(arguments_to_json(t), json::parse(R"({"int": 10, "neg": -7, "big": 9223372036854775807, "float": 2.5,
      "str": "s", "yes": true, "none": null, "obj": {"k": "v", "n": 2}, "arr": [1, "two", false]})"));
}

TEST(ArgumentsJson, GrowsPastItsFirstBuffer) {
  json many = json::object();
  for (int i = 0; i < 2000; ++i) many["k" + std::to_string(i)] = json::array({i, i, i});
  const auto bytes = from_json(many);
  EXPECT_GT(bytes.size(), 2000u * 30);
  EXPECT_EQ(arguments_to_json(amqp::field_table::trusted(bytes)), many);
}

TEST(ArgumentsJson, RefusesWhatAFieldTableCannotHold) {
  EXPECT_NE(from_json_error(json::array()).find("must be an object"), std::string::npos);
  EXPECT_NE(from_json_error({{"x", 18446744073709551615u}}).find("signed 64-bit"), std::string::npos);
  EXPECT_NE(from_json_error({{std::string(256, 'k'), 1}}).find("longer than 255"), std::string::npos);
  EXPECT_NE(from_json_error({{"o", {{std::string(300, 'n'), 1}}}}).find("longer than 255"), std::string::npos);
  json deep = 1;
  for (int i = 0; i < 100; ++i) deep = json::array({deep});
  EXPECT_NE(from_json_error({{"deep", deep}}).find("nested deeper"), std::string::npos);
}

// A topology with one of each kind of entity, durable and not.
void populate(topology_store& s) {
  ASSERT_TRUE(s.add_vhost("v2"));
  const auto ae = table([](amqp::table_writer& t) { t.add("alternate-exchange", field_value::string("ae")); });
  declare_exchange(s, "/", "ex.direct", "direct", true, ae);
  declare_exchange(s, "/", "ex.topic", "topic", true);
  declare_exchange(s, "/", "ex.transient", "fanout", false);
  declare_exchange(s, "v2", "ex.v2", "headers", true);
  const auto max_length = table([](amqp::table_writer& t) { t.add("x-max-length", field_value::i32(10)); });
  declare_queue(s, "/", "q.durable", true, false, max_length);
  declare_queue(s, "/", "q.transient", false);
  declare_queue(s, "/", "q.exclusive", true, true, {}, connection_key{worker_id{0}, 9});
  declare_queue(s, "v2", "q.v2", true);
  const auto match = table([](amqp::table_writer& t) {
    t.add("x-match", field_value::string("any"));
    t.add("k", field_value::i16(3));
  });
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "q.durable", "ex.direct", "rk"));
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "q.durable", "amq.topic", "a.#"));
  ASSERT_FALSE(add_binding(s, "/", binding_kind::exchange, "ex.direct", "ex.topic", "orders.*"));
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "q.transient", "ex.direct", "rk"));
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "q.durable", "ex.transient", ""));
  ASSERT_FALSE(add_binding(s, "v2", binding_kind::queue, "q.v2", "ex.v2", "", match));
}

TEST(Definitions, ExportsOnlyTheDurableTopology) {
  topology_store s;
  populate(s);
  const json doc = json::parse(export_definitions(s));
  for (const char* key : {"rabbit_version", "rabbitmq_version", "product_name", "product_version", "users", "vhosts",
                          "permissions", "topic_permissions", "parameters", "global_parameters", "policies",
                          "queues", "exchanges", "bindings"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
  // A fresh store's only user is RabbitMQ's first-boot guest, with every right on "/".
  ASSERT_EQ(doc["users"].size(), 1u);
  EXPECT_EQ(doc["users"][0]["name"], "guest");
  EXPECT_EQ(doc["users"][0]["tags"], json::parse(R"(["administrator"])"));
  EXPECT_EQ(doc["users"][0]["hashing_algorithm"], "rabbit_password_hashing_sha256");
  EXPECT_TRUE(access::password_matches("guest", doc["users"][0]["password_hash"].get<std::string>(),
                                       access::hashing::sha256));
  EXPECT_EQ(doc["permissions"],
            json::parse(R"([{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}])"));
  EXPECT_EQ(doc["vhosts"], json::parse(R"([
      {"name": "/", "limits": [], "metadata": {"description": "Default virtual host", "tags": []}},
      {"name": "v2", "limits": [], "metadata": {"description": "", "tags": []}}])"));
  std::set<std::string> exchanges, queues, bindings;
  for (const auto& x : doc["exchanges"]) exchanges.insert(x["vhost"].get<std::string>() + x["name"].get<std::string>());
  for (const auto& q : doc["queues"]) queues.insert(q["vhost"].get<std::string>() + q["name"].get<std::string>());
  for (const auto& b : doc["bindings"]) {
    bindings.insert(b["source"].get<std::string>() + ">" + b["destination_type"].get<std::string>() + ":" +
                    b["destination"].get<std::string>());
  }
  EXPECT_EQ(exchanges, (std::set<std::string>{"/ex.direct", "/ex.topic", "v2ex.v2"}));
  EXPECT_EQ(queues, (std::set<std::string>{"/q.durable", "v2q.v2"}));
  EXPECT_EQ(bindings, (std::set<std::string>{"ex.direct>queue:q.durable", "amq.topic>queue:q.durable",
                                             "ex.topic>exchange:ex.direct", "ex.v2>queue:q.v2"}));
  const json q = *std::find_if(doc["queues"].begin(), doc["queues"].end(),
                               [](const json& e) { return e["name"] == "q.durable"; });
  EXPECT_EQ(q, json::parse(R"({"name": "q.durable", "vhost": "/", "type": "classic", "durable": true,
                               "auto_delete": false, "arguments": {"x-max-length": 10}})"));
  const json x = *std::find_if(doc["exchanges"].begin(), doc["exchanges"].end(),
                               [](const json& e) { return e["name"] == "ex.direct"; });
  EXPECT_EQ(x, json::parse(R"({"name": "ex.direct", "vhost": "/", "type": "direct", "durable": true,
                               "auto_delete": false, "internal": false, "arguments": {"alternate-exchange": "ae"}})"));
}

TEST(Definitions, RoundTripsThroughAFreshStore) {
  topology_store original;
  populate(original);
  topology_store copy;
  const auto result = import_definitions(export_definitions(original), copy, on_worker(2));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.vhosts, 2u);
  EXPECT_EQ(result.applied.exchanges, 3u);
  EXPECT_EQ(result.applied.queues, 2u);
  EXPECT_EQ(result.applied.bindings, 4u);

  const entities got = entities_of(copy);
  entities want = entities_of(original);
  // What does not survive a restart is not carried over.
  std::erase_if(want.exchanges, [](const auto& x) { return std::get<1>(x) == "ex.transient"; });
  std::erase_if(want.queues, [](const auto& q) { return std::get<1>(q) == "q.transient" || std::get<1>(q) == "q.exclusive"; });
  std::erase_if(want.bindings, [](const auto& b) {
    return std::get<1>(b) == "ex.transient" || std::get<2>(b) == "q:q.transient";
  });
  EXPECT_EQ(got.vhosts, want.vhosts);
  EXPECT_EQ(got.exchanges, want.exchanges);
  EXPECT_EQ(got.bindings, want.bindings);
  // Integer arguments come back as longs: the same entities by value, not by bytes.
  ASSERT_EQ(got.queues.size(), want.queues.size());
  const auto& [vhost, name, durable, auto_delete, args] = *got.queues.begin();
  EXPECT_EQ(name, "q.durable");
  EXPECT_EQ(value(args, "x-max-length"), field_value::i64(10));
  for (const auto& [vhost_name, v] : copy.snapshot().first) {
    for (const auto& [queue_name, q] : v.queues) EXPECT_EQ(q.owner, worker_id{2}) << queue_name;
  }
  // And exporting the copy gives the same document.
  EXPECT_EQ(json::parse(export_definitions(copy)), json::parse(export_definitions(original)));
}

TEST(Definitions, ClientsRedeclareImportedQueuesWithTheirOwnIntegerTypes) {
  topology_store s;
  const auto result = import_definitions(R"({"queues": [{"name": "q", "vhost": "/", "durable": true,
      "auto_delete": false, "arguments": {"x-max-length": 10, "x-queue-type": "classic"}}]})",
                                         s, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  // pika sends a small int as a signed 32-bit 'I' and leaves x-queue-type out.
  const auto as_pika = table([](amqp::table_writer& t) { t.add("x-max-length", field_value::i32(10)); });
  queue_declaration d;
  d.name = "q";
  d.durable = true;
  d.arguments = amqp::field_table::trusted(as_pika);
  const auto same = s.declare_queue("/", d, worker_id{1}, connection_key{worker_id{1}, 5});
  EXPECT_TRUE(std::holds_alternative<queue_record>(same)) << std::get<topology_error>(same).text;

  const auto other = table([](amqp::table_writer& t) { t.add("x-max-length", field_value::i32(11)); });
  d.arguments = amqp::field_table::trusted(other);
  const auto differs = s.declare_queue("/", d, worker_id{1}, connection_key{worker_id{1}, 5});
  ASSERT_TRUE(std::holds_alternative<topology_error>(differs));
  EXPECT_EQ(std::get<topology_error>(differs).code, amqp::reply_code::precondition_failed);
  EXPECT_EQ(std::get<topology_error>(differs).text,
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '11' but "
            "current is '10'");

  const auto quorum = table([](amqp::table_writer& t) {
    t.add("x-max-length", field_value::i32(10));
    t.add("x-queue-type", field_value::string("quorum"));
  });
  d.arguments = amqp::field_table::trusted(quorum);
  EXPECT_TRUE(std::holds_alternative<topology_error>(s.declare_queue("/", d, worker_id{1}, {})));
}

TEST(Definitions, ClientsUnbindImportedBindingsWithTheirOwnIntegerTypes) {
  topology_store s;
  const auto result = import_definitions(R"({"queues": [{"name": "q", "vhost": "/"}],
      "bindings": [{"source": "amq.headers", "vhost": "/", "destination": "q", "destination_type": "queue",
                    "routing_key": "", "arguments": {"x-match": "all", "a": 1}}]})",
                                         s, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  auto bindings = [&] { return s.snapshot().first.at("/").exchanges.at("amq.headers").bindings.size(); };
  const auto as_pika = table([](amqp::table_writer& t) {
    t.add("a", field_value::i32(1));
    t.add("x-match", field_value::string("all"));
  });
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "q", "amq.headers", "", as_pika));
  EXPECT_EQ(bindings(), 1u);
  ASSERT_FALSE(s.unbind("/", binding_kind::queue, "q", "amq.headers", "", amqp::field_table::trusted(as_pika), {}));
  EXPECT_EQ(bindings(), 0u);
}

TEST(Definitions, ImportsARabbitMq310Export) {
  const std::string text = test::read_data_text("definitions/rabbitmq-3.10-export.json");
  const json file = json::parse(text);
  topology_store s;
  const auto result = import_definitions(text, s, on_worker(1));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.vhosts, file["vhosts"].size());
  EXPECT_EQ(result.applied.exchanges, file["exchanges"].size());
  EXPECT_EQ(result.applied.queues, file["queues"].size());
  EXPECT_EQ(result.applied.bindings, file["bindings"].size());

  const auto [vhosts, _] = s.snapshot();
  ASSERT_TRUE(vhosts.contains("v2"));
  EXPECT_TRUE(vhosts.at("v2").queues.contains("q.v2"));
  const auto& root = vhosts.at("/");
  EXPECT_EQ(root.exchanges.at("ex.headers").type, exchange_type::headers);
  EXPECT_TRUE(root.queues.at("q.auto").settings.auto_delete);
  const auto& types = root.queues.at("q.types").settings.arguments;
  EXPECT_EQ(value(types, "x-int"), field_value::i64(42));
  EXPECT_EQ(value(types, "x-long"), field_value::i64(1099511627776));
  EXPECT_EQ(value(types, "x-neg"), field_value::i64(-7));
  EXPECT_EQ(value(types, "x-str"), field_value::string("text"));
  EXPECT_EQ(value(types, "x-true"), field_value::boolean(true));
  EXPECT_EQ(value(types, "x-decimal").type(), field_type::f64);
  EXPECT_EQ(value(types, "x-table").type(), field_type::table);
  EXPECT_EQ(value(types, "x-array").type(), field_type::array);
  EXPECT_EQ(arguments_to_json(amqp::field_table::trusted(types)), file["queues"][1]["arguments"]);
  const auto& ex_direct = root.exchanges.at("ex.direct");
  EXPECT_EQ(value(ex_direct.arguments, "alternate-exchange"), field_value::string("ae"));
  EXPECT_EQ(root.exchanges.at("ex.topic").bindings.size(), 1u);
  EXPECT_EQ(root.exchanges.at("ex.topic").bindings[0].to,
            (destination{destination::kind::exchange, ex_direct.id}));

  // Written back: the same entities, and the users, permissions and vhost metadata unchanged.
  const json again = json::parse(export_definitions(s));
  for (const char* section : {"users", "permissions", "topic_permissions", "parameters", "global_parameters",
                              "policies", "vhosts"}) {
    // The same entries; HareMQ lists users by name and permissions by vhost, then user.
    std::multiset<std::string> ours, theirs;
    for (const auto& e : again[section]) ours.insert(e.dump());
    for (const auto& e : file[section]) theirs.insert(e.dump());
    EXPECT_EQ(ours, theirs) << section;
  }
  // The imported users log in with their passwords (guest's is "guest").
  EXPECT_TRUE(access::password_matches("guest", s.find_user("guest")->password_hash, s.find_user("guest")->algorithm));
  EXPECT_FALSE(access::password_matches("guesT", s.find_user("guest")->password_hash, s.find_user("guest")->algorithm));
  EXPECT_EQ(s.find_permissions("v2", "alice"), (access::permission_record{"^alice-.*", ".*", "^read-.*"}));
  EXPECT_EQ(again["queues"].size(), file["queues"].size());
  EXPECT_EQ(again["exchanges"].size(), file["exchanges"].size());
  EXPECT_EQ(again["bindings"].size(), file["bindings"].size());
  for (const auto& b : file["bindings"]) {
    EXPECT_NE(std::find(again["bindings"].begin(), again["bindings"].end(), b), again["bindings"].end()) << b;
  }

  // Importing the same file again is additive: everything is already there and equivalent.
  const auto twice = import_definitions(text, s, on_worker(0));
  EXPECT_TRUE(twice.ok()) << twice.error;
  EXPECT_EQ(json::parse(export_definitions(s)), again);
}

TEST(Definitions, ImportMergesUsersAndPermissionsByIdentity) {
  topology_store s;
  ASSERT_TRUE(import_definitions(R"({"users": [{"name": "a", "password_hash": "", "tags": []},
                                               {"name": "b", "password_hash": "", "tags": "management"}],
                                     "permissions": [{"user": "a", "vhost": "/", "configure": "", "write": "", "read": ".*"}]})",
                                 s, on_worker(0))
                  .ok());
  const auto second = import_definitions(R"({"users": [{"name": "b", "password_hash": "", "tags": ["administrator"]},
                                               {"name": "c", "password_hash": "", "tags": "monitoring,management"}],
                                     "permissions": [{"user": "a", "vhost": "/", "configure": "", "write": "", "read": "^x"}]})",
                                 s, on_worker(0));
  ASSERT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(second.applied.users, 2u);
  EXPECT_EQ(second.applied.permissions, 1u);
  const json doc = json::parse(export_definitions(s));
  std::map<std::string, json> tags;
  for (const auto& u : doc["users"]) tags[u["name"]] = u["tags"];
  EXPECT_EQ(tags, (std::map<std::string, json>{{"a", json::array()},
                                               {"b", json::parse(R"(["administrator"])")},
                                               {"c", json::parse(R"(["monitoring", "management"])")},
                                               {"guest", json::parse(R"(["administrator"])")}}));
  EXPECT_EQ(s.find_permissions("/", "a"), (access::permission_record{"", "", "^x"}));
  // A user without a password hash cannot log in with any password.
  EXPECT_FALSE(access::password_matches("", s.find_user("a")->password_hash, s.find_user("a")->algorithm));
}

TEST(Definitions, PermissionsNeedTheirUserVhostAndValidPatterns) {
  topology_store s;
  EXPECT_EQ(import_definitions(R"({"permissions": [{"user": "nobody", "vhost": "/", "configure": "", "write": "", "read": ""}]})",
                               s, on_worker(0)).error,
            "permissions[0]: no_such_user: nobody");
  EXPECT_EQ(import_definitions(R"({"permissions": [{"user": "guest", "vhost": "/", "configure": "(", "write": "", "read": ""}]})",
                               s, on_worker(0)).error.rfind("permissions[0]: invalid regular expression '(': ", 0),
            0u);
  EXPECT_EQ(import_definitions(R"({"users": [{"name": "x", "hashing_algorithm": "rot13"}]})", s, on_worker(0)).error,
            "users[0]: unknown \"hashing_algorithm\" 'rot13'");
}

TEST(Definitions, MalformedFilesGiveAClearError) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{\"queues\": [", "not valid JSON: "},
      {"", "not valid JSON: "},
      {"[]", "the definitions must be a JSON object"},
      {R"({"queues": {}})", "\"queues\" must be an array"},
      {R"({"queues": [7]})", "queues[0]: must be an object"},
      {R"({"queues": [{"vhost": "/"}]})", "queues[0]: \"name\" is missing"},
      {R"({"queues": [{"name": "q", "vhost": "/"}, {"name": "r", "vhost": "/", "durable": "yes"}]})",
       "queues[1]: \"durable\" must be true or false"},
      {R"({"queues": [{"name": "q", "vhost": "nowhere"}]})",
       "queues[0]: vhost 'nowhere' does not exist and is not listed in \"vhosts\""},
      {R"({"queues": [{"name": "q", "vhost": "/", "arguments": 3}]})", "queues[0]: \"arguments\": must be an object"},
      {R"({"exchanges": [{"name": "x", "vhost": "/", "type": "nonsense"}]})",
       "exchanges[0]: COMMAND_INVALID - unknown exchange type 'nonsense'"},
      {R"({"bindings": [{"source": "amq.direct", "vhost": "/", "destination": "q", "destination_type": "queue"}]})",
       "bindings[0]: NOT_FOUND - no queue 'q' in vhost '/'"},
      {R"({"bindings": [{"source": "amq.direct", "vhost": "/", "destination": "q", "destination_type": "topic"}]})",
       "bindings[0]: \"destination_type\" must be \"queue\" or \"exchange\", not \"topic\""},
      {R"({"users": [{"name": "a"}, "b"]})", "users[1]: must be an object"},
      {R"({"vhosts": [{"name": 5}]})", "vhosts[0]: \"name\" must be a string"},
  };
  for (const auto& [text, error] : cases) {
    topology_store s;
    const auto result = import_definitions(text, s, on_worker(0));
    EXPECT_FALSE(result.ok()) << text;
    EXPECT_EQ(result.error.substr(0, error.size()), error) << result.error;
  }
}

TEST(Definitions, SkipsBuiltInNamesAsRabbitMqDoes) {
  topology_store s;
  const auto result = import_definitions(R"({
      "exchanges": [{"name": "amq.direct", "vhost": "/", "type": "fanout"}, {"name": "", "vhost": "/", "type": "direct"}],
      "queues": [{"name": "amq.gen-x", "vhost": "/"}]})",
                                         s, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.exchanges, 0u);
  EXPECT_EQ(result.applied.queues, 0u);
  EXPECT_EQ(s.snapshot().first.at("/").exchanges.at("amq.direct").type, exchange_type::direct);
  EXPECT_TRUE(s.snapshot().first.at("/").queues.empty());
}

TEST(Definitions, AFailedSaveStaysFailingUntilARetrySaves) {
  topology_store s;
  bool disk_ok = false;
  int saves = 0;
  s.set_persistence([&](const definitions_view&) {
    ++saves;
    return disk_ok;
  });
  queue_declaration d;
  d.name = "q";
  d.durable = true;
  ASSERT_TRUE(std::holds_alternative<queue_record>(s.declare_queue("/", d, worker_id{0}, connection_key{})));
  EXPECT_TRUE(s.persistence_failing());
  s.retry_persistence();  // still failing
  EXPECT_TRUE(s.persistence_failing());
  disk_ok = true;
  s.retry_persistence();
  EXPECT_FALSE(s.persistence_failing());
  EXPECT_EQ(saves, 3);
  s.retry_persistence();  // nothing to do
  EXPECT_EQ(saves, 3);
}

TEST(Definitions, PersistenceHookFiresOnDurableChangesOnly) {
  topology_store s;
  int saves = 0;
  std::string last;
  s.set_persistence([&](const definitions_view& d) {
    ++saves;
    last = write_definitions(d, false);
    return true;
  });
  auto expect_saves = [&](int n, const char* what) {
    EXPECT_EQ(saves, n) << what;
    saves = 0;
  };

  declare_exchange(s, "/", "transient.x", "fanout", false);
  declare_queue(s, "/", "transient.q", false);
  declare_queue(s, "/", "exclusive.q", true, true, {}, connection_key{worker_id{0}, 3});
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "transient.q", "transient.x", ""));
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "transient.q", "amq.direct", "k"));
  ASSERT_FALSE(s.unbind("/", binding_kind::queue, "transient.q", "amq.direct", "k", {}, {}));
  EXPECT_TRUE(s.remove_queue("/", std::get<queue_record>(s.find_queue("/", "transient.q", {})).id));
  ASSERT_FALSE(s.delete_exchange("/", "transient.x", false));
  expect_saves(0, "transient changes");

  declare_exchange(s, "/", "durable.x", "direct", true);
  expect_saves(1, "durable exchange");
  declare_exchange(s, "/", "durable.x", "direct", true);
  expect_saves(0, "equivalent redeclare");
  declare_queue(s, "/", "durable.q", true);
  expect_saves(1, "durable queue");
  EXPECT_NE(last.find("durable.q"), std::string::npos);
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "durable.q", "durable.x", "k"));
  expect_saves(1, "durable binding");
  ASSERT_FALSE(add_binding(s, "/", binding_kind::queue, "durable.q", "durable.x", "k"));
  expect_saves(0, "the same binding again");
  ASSERT_FALSE(s.unbind("/", binding_kind::queue, "durable.q", "durable.x", "k", {}, {}));
  expect_saves(1, "durable unbind");
  EXPECT_TRUE(s.remove_queue("/", std::get<queue_record>(s.find_queue("/", "durable.q", {})).id));
  expect_saves(1, "durable queue deleted");
  ASSERT_FALSE(s.delete_exchange("/", "durable.x", false));
  expect_saves(1, "durable exchange deleted");
  EXPECT_EQ(last.find("durable.x"), std::string::npos);
  EXPECT_TRUE(s.add_vhost("v2"));
  expect_saves(1, "vhost");
  EXPECT_FALSE(s.add_vhost("v2"));
  expect_saves(0, "existing vhost");

  const auto result = import_definitions(test::read_data_text("definitions/rabbitmq-3.10-export.json"), s,
                                         on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  expect_saves(1, "an import, whole");
  EXPECT_EQ(json::parse(last), json::parse(export_definitions(s)));
}

// A definitions document with policies in two vhosts and a queue the first one limits.
constexpr const char* with_policies = R"({
    "vhosts": [{"name": "/"}, {"name": "v2"}],
    "policies": [
      {"vhost": "/", "name": "ttl", "pattern": "^limited\\.", "apply-to": "queues",
       "definition": {"message-ttl": 5000, "max-length": 10, "dead-letter-exchange": "dlx"}, "priority": 2},
      {"vhost": "/", "name": "ae", "pattern": "^ex$", "apply-to": "exchanges",
       "definition": {"alternate-exchange": "other"}, "priority": 0},
      {"vhost": "v2", "name": "all", "pattern": ".*", "definition": {"expires": 60000, "ha-mode": "all"}}],
    "queues": [{"name": "limited.q", "vhost": "/", "arguments": {"x-max-length": 3}},
               {"name": "free.q", "vhost": "/"}]})";

json policies_of(const json& doc) {
  std::map<std::string, json> by_name;
  for (const auto& p : doc["policies"]) by_name[p["vhost"].get<std::string>() + "|" + p["name"].get<std::string>()] = p;
  json out = json::object();
  for (auto& [key, p] : by_name) out[key] = p;
  return out;
}

TEST(DefinitionsPolicies, AreAppliedBeforeTheQueuesTheyLimit) {
  topology_store s;
  const auto result = import_definitions(with_policies, s, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.policies, 3u);
  const auto [vhosts, _] = s.snapshot();
  const auto& root = vhosts.at("/");
  ASSERT_EQ(root.policies.size(), 2u);
  EXPECT_EQ(root.policies.at("ttl").apply_to, policy_target::queues);
  EXPECT_EQ(root.policies.at("ttl").priority, 2);
  EXPECT_EQ(vhosts.at("v2").policies.at("all").apply_to, policy_target::all);  // apply-to's default

  const auto& limited = root.queues.at("limited.q").settings;
  EXPECT_EQ(limited.policy, "ttl");
  EXPECT_EQ(limited.limits.message_ttl_ms, 5000);
  EXPECT_EQ(limited.limits.max_length, 3u);  // the argument's, lower than the policy's
  EXPECT_EQ(limited.limits.dead_letter_exchange, "dlx");
  const auto& free = root.queues.at("free.q").settings;
  EXPECT_EQ(free.policy, "");
  EXPECT_EQ(free.limits, queue_limits{});
}

TEST(DefinitionsPolicies, AreWrittenBackInRabbitMqsFormat) {
  topology_store s;
  ASSERT_TRUE(import_definitions(with_policies, s, on_worker(0)).ok());
  const json doc = json::parse(export_definitions(s));
  EXPECT_EQ(policies_of(doc), json::parse(R"({
      "/|ae": {"vhost": "/", "name": "ae", "pattern": "^ex$", "apply-to": "exchanges",
               "definition": {"alternate-exchange": "other"}, "priority": 0},
      "/|ttl": {"vhost": "/", "name": "ttl", "pattern": "^limited\\.", "apply-to": "queues",
                "definition": {"dead-letter-exchange": "dlx", "max-length": 10, "message-ttl": 5000}, "priority": 2},
      "v2|all": {"vhost": "v2", "name": "all", "pattern": ".*", "apply-to": "all",
                 "definition": {"expires": 60000, "ha-mode": "all"}, "priority": 0}})"));
  // A policy deleted from the topology is gone from the next export: they come from the
  // topology, not from what the import kept.
  EXPECT_TRUE(s.delete_policy("/", "ae"));
  EXPECT_EQ(policies_of(json::parse(export_definitions(s))).size(), 2u);
  // And a fresh store importing the export has the same policies.
  topology_store copy;
  ASSERT_TRUE(import_definitions(export_definitions(s), copy, on_worker(1)).ok());
  EXPECT_EQ(policies_of(json::parse(export_definitions(copy))), policies_of(json::parse(export_definitions(s))));
}

TEST(DefinitionsPolicies, ReplaceAPolicyOfTheSameName) {
  topology_store s;
  ASSERT_TRUE(import_definitions(with_policies, s, on_worker(0)).ok());
  const auto second = import_definitions(R"({"policies": [
      {"vhost": "/", "name": "ttl", "pattern": "^limited\\.", "definition": {"max-length": 1}, "priority": 1}]})",
                                         s, on_worker(0));
  ASSERT_TRUE(second.ok()) << second.error;
  const auto [vhosts, _] = s.snapshot();
  EXPECT_EQ(vhosts.at("/").policies.at("ttl").apply_to, policy_target::all);
  const auto& limited = vhosts.at("/").queues.at("limited.q").settings.limits;
  EXPECT_EQ(limited.max_length, 1u);  // now the policy's, the lower
  EXPECT_FALSE(limited.message_ttl_ms.has_value());
  EXPECT_FALSE(limited.dead_letter_exchange.has_value());
}

TEST(DefinitionsPolicies, AnInvalidPolicyFailsTheImportWithRabbitMqsText) {
  const auto policy = [](const std::string& fields) {
    return R"({"policies": [{"vhost": "/", "name": "p", )" + fields + "}]}";
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {policy(R"("pattern": ".*", "definition": {"message-ttl": -1})"),
       "policies[0]: Validation failed\n\n-1 is not a valid message TTL\n (//p)"},
      {policy(R"("pattern": ".*", "definition": {"bogus": 1, "also": "x"})"),
       "policies[0]: Validation failed\n\n[{<<\"also\">>,<<\"x\">>},{<<\"bogus\">>,1}] are not recognised policy "
       "settings\n (//p)"},
      {policy(R"("pattern": ".*", "apply-to": "nothing", "definition": {"max-length": 1})"),
       "policies[0]: Validation failed\n\napply-to 'nothing' unrecognised; should be 'queues', 'exchanges' or 'all'\n "
       "(//p)"},
      {policy(R"("pattern": "(", "definition": {"max-length": 1})"),
       "policies[0]: Validation failed\n\npattern should be regular expression but is invalid: {\"missing )\",1}\n (//p)"},
      {policy(R"("pattern": ".*", "definition": {})"), "policies[0]: Validation failed\n\nno policy provided\n (//p)"},
      {policy(R"("pattern": ".*", "definition": [1])"),
       "policies[0]: Validation failed\n\ndefinition must be a dictionary: [1]\n (//p)"},
      {policy(R"("pattern": ".*", "definition": {"max-length": 1}, "priority": "7")"),
       "policies[0]: Validation failed\n\npriority should be a number, actually was <<\"7\">>\n (//p)"},
      {policy(R"("definition": {"max-length": 1})"),
       "policies[0]: Validation failed\n\npattern should be a binary but was undefined\n (//p)"},
      // Every problem, the definition's first, as RabbitMQ lists them.
      {policy(R"x("pattern": ")", "apply-to": "x", "priority": null, "definition": {"overflow": "block-publishers"})x"),
       "policies[0]: Validation failed\n\n<<\"block-publishers\">> is not a valid overflow value\n"
       "apply-to 'x' unrecognised; should be 'queues', 'exchanges' or 'all'\n"
       "pattern should be regular expression but is invalid: {\"unmatched parentheses\",\n"
       "                                                      0}\n"
       "priority should be a number, actually was null\n (//p)"},
      {R"({"policies": [{"vhost": "nowhere", "name": "p", "pattern": ".*", "definition": {"max-length": 1}}]})",
       "policies[0]: vhost 'nowhere' does not exist and is not listed in \"vhosts\""},
      {R"({"policies": [{"vhost": "/", "pattern": ".*", "definition": {"max-length": 1}}]})",
       "policies[0]: \"name\" is missing"},
  };
  for (const auto& [text, error] : cases) {
    topology_store s;
    const auto result = import_definitions(text, s, on_worker(0));
    EXPECT_EQ(result.error, error) << text;
    EXPECT_TRUE(s.policies().empty()) << text;
  }
}

TEST(DefinitionsPolicies, ValuesAreQuotedAsErlangPrintsThem) {
  const auto error_for = [](const char* definition) {
    topology_store s;
    const std::string text =
        std::string(R"({"policies": [{"vhost": "/", "name": "p", "pattern": ".*", "definition": )") + definition + "}]}";
    return import_definitions(text, s, on_worker(0)).error;
  };
  const auto expect_problem = [&](const char* definition, const std::string& problem) {
    EXPECT_EQ(error_for(definition), "policies[0]: Validation failed\n\n" + problem + "\n (//p)") << definition;
  };
  expect_problem(R"({"message-ttl": 1.5})", "1.5 is not a valid message TTL");
  expect_problem(R"({"message-ttl": 1000.0})", "1.0e3 is not a valid message TTL");
  expect_problem(R"({"message-ttl": 100.0})", "100.0 is not a valid message TTL");
  expect_problem(R"({"message-ttl": 1e-7})", "1.0e-7 is not a valid message TTL");
  expect_problem(R"({"message-ttl": true})", "true is not a valid message TTL");
  expect_problem(R"({"message-ttl": {"a": 1, "b": [2]}})", "#{<<\"a\">> => 1,<<\"b\">> => [2]} is not a valid message TTL");
  expect_problem(R"({"expires": 0})", "0 is not a valid queue expiry");
  expect_problem(R"({"dead-letter-exchange": [104, 105]})", "\"hi\" is not a valid dead letter exchange name");
  expect_problem(R"({"ha-params": 1})",
                 "ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown");
  expect_problem(R"({"ha-mode": "exactly"})", "ha-mode=\"exactly\" takes an integer, none given");
  expect_problem(R"({"queue-master-locator": "x", "message-ttl": -1})", "<<\"x\">> invalid queue-master-locator value");
  expect_problem(R"({"consumer-timeout": 5})", "[{<<\"consumer-timeout\">>,5}] are not recognised policy settings");
  // Keys of features HareMQ does not have load as RabbitMQ 3.10 takes them.
  EXPECT_EQ(error_for(R"({"queue-mode": "lazy", "ha-mode": "nodes", "ha-params": ["a"], "max-age": "1D",
                          "queue-version": 2, "queue-master-locator": "min-masters"})"),
            "");
}

TEST(DefinitionsPolicies, PatternErrorsAsPcreReportsThem) {
  const auto problem_for = [](const std::string& pattern) {
    const auto made = make_policy("p", pattern, "all", 0, R"({"max-length": 1})");
    const auto* text = std::get_if<std::string>(&made);
    return text == nullptr ? std::string("(valid)") : *text;
  };
  const auto expect = [&](const std::string& pattern, const std::string& tuple) {
    EXPECT_EQ(problem_for(pattern), "Validation failed\n\npattern should be regular expression but is invalid: " + tuple + "\n")
        << pattern;
  };
  expect("(", "{\"missing )\",1}");
  expect("ab(c", "{\"missing )\",4}");
  expect("a)b", "{\"unmatched parentheses\",\n" + std::string(54, ' ') + "1}");
  expect("abc[", "{\"missing terminating ] for character class\",\n" + std::string(54, ' ') + "4}");
  expect("*", "{\"nothing to repeat\",0}");
  expect("a**", "{\"nothing to repeat\",2}");
  expect("a{2,1}", "{\"numbers out of order in {} quantifier\",\n" + std::string(54, ' ') + "5}");
  expect("[b-a]", "{\"range out of order in character class\",\n" + std::string(54, ' ') + "3}");
  EXPECT_EQ(problem_for("^amq\\.(direct|topic)$"), "(valid)");
}

TEST(DefinitionsPolicies, PolicyChangesAreSaved) {
  topology_store s;
  int saves = 0;
  std::string last;
  s.set_persistence([&](const definitions_view& d) {
    ++saves;
    last = write_definitions(d, false);
    return true;
  });
  auto made = make_policy("p", "^q$", "queues", 1, R"({"max-length": 1})");
  ASSERT_TRUE(std::holds_alternative<policy_record>(made)) << std::get<std::string>(made);
  EXPECT_FALSE(s.put_policy("/", std::get<policy_record>(made)));
  EXPECT_EQ(saves, 1);
  EXPECT_EQ(policies_of(json::parse(last)).size(), 1u);
  EXPECT_TRUE(s.delete_policy("/", "p"));
  EXPECT_EQ(saves, 2);
  EXPECT_EQ(policies_of(json::parse(last)).size(), 0u);
  EXPECT_EQ(s.put_policy("nowhere", std::get<policy_record>(made)), "no vhost 'nowhere'");
}

// A fresh directory under the system's temporary one, removed with the test.
class DefinitionsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "haremq-definitions-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  static std::string contents(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::filesystem::path dir;
};

TEST_F(DefinitionsFile, SavesAtomicallyAndLoadsBack) {
  const definitions_file file{dir / "definitions.json"};
  topology_store original;
  original.set_persistence(
      [&file](const definitions_view& d) { return file.save(d); });
  populate(original);
  ASSERT_TRUE(std::filesystem::exists(file.path()));
  EXPECT_FALSE(std::filesystem::exists(dir / "definitions.json.tmp"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  EXPECT_EQ((std::filesystem::status(file.path()).permissions() & std::filesystem::perms::all),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  topology_store loaded;
  const auto result = file.load(loaded, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.queues, 2u);
  EXPECT_EQ(json::parse(export_definitions(loaded)), json::parse(export_definitions(original)));
}

TEST_F(DefinitionsFile, AMissingFileIsAnEmptyTopology) {
  topology_store s;
  const auto result = definitions_file{dir / "absent.json"}.load(s, on_worker(0));
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.vhosts + result.applied.exchanges + result.applied.queues + result.applied.bindings, 0u);
}

TEST_F(DefinitionsFile, ABrokenFileNamesItselfInTheError) {
  std::ofstream(dir / "broken.json") << "{\"queues\": [{\"name\": ";
  topology_store s;
  const auto result = definitions_file{dir / "broken.json"}.load(s, on_worker(0));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error.find((dir / "broken.json").string() + ": not valid JSON"), 0u) << result.error;
}

TEST_F(DefinitionsFile, AFailedSaveKeepsThePreviousFile) {
  const definitions_file file{dir / "definitions.json"};
  topology_store s;
  populate(s);
  const auto [vhosts, _] = s.snapshot();
  const access::user_map no_users;
  const access::permission_map no_permissions;
  file.save({vhosts, no_users, no_permissions, ""});
  const std::string before = contents(file.path());
  // A directory where the temporary file should go: the save fails and is only logged.
  std::filesystem::create_directory(dir / "definitions.json.tmp");
  std::filesystem::create_directory(dir / "definitions.json.tmp" / "occupied");
  const auto empty = topology_store{}.snapshot().first;
  file.save({empty, no_users, no_permissions, ""});
  EXPECT_EQ(contents(file.path()), before);
  // Nor does saving into a directory that does not exist throw.
  definitions_file{dir / "missing" / "definitions.json"}.save({vhosts, no_users, no_permissions, ""});
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
}

TEST_F(DefinitionsFile, KeepsPoliciesAcrossARestart) {
  const definitions_file file{dir / "definitions.json"};
  topology_store before;
  before.set_persistence([&file](const definitions_view& d) { return file.save(d); });
  ASSERT_TRUE(import_definitions(with_policies, before, on_worker(0)).ok());
  topology_store after;
  const auto result = file.load(after, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.applied.policies, 3u);
  EXPECT_EQ(after.snapshot().first.at("/").queues.at("limited.q").settings.policy, "ttl");
  EXPECT_EQ(policies_of(json::parse(export_definitions(after))), policies_of(json::parse(export_definitions(before))));
}

TEST_F(DefinitionsFile, LoadsThePoliciesAnOlderHareMqCarriedThrough) {
  // An older HareMQ kept policies unread: its file has them as the import gave them, in the
  // "policies" section, with the sections it did model.
  std::ofstream(dir / "definitions.json") << R"({
      "rabbit_version": "3.10.0", "rabbitmq_version": "3.10.0", "product_name": "HareMQ", "product_version": "0.1.0",
      "users": [], "permissions": [], "topic_permissions": [], "parameters": [], "global_parameters": [],
      "vhosts": [{"name": "/", "limits": [], "metadata": {"description": "Default virtual host", "tags": []}}],
      "policies": [{"vhost": "/", "name": "old", "pattern": "^q", "apply-to": "queues",
                    "definition": {"max-length": 7}, "priority": 0}],
      "queues": [{"name": "q1", "vhost": "/", "type": "classic", "durable": true, "auto_delete": false,
                  "arguments": {}, "haremq_incarnation": 5}],
      "exchanges": [], "bindings": []})";
  topology_store s;
  const auto result = definitions_file{dir / "definitions.json"}.load(s, on_worker(0));
  ASSERT_TRUE(result.ok()) << result.error;
  const auto [vhosts, _] = s.snapshot();
  EXPECT_EQ(vhosts.at("/").queues.at("q1").settings.limits.max_length, 7u);
  EXPECT_EQ(policies_of(json::parse(export_definitions(s))), json::parse(R"({"/|old": {"vhost": "/", "name": "old",
      "pattern": "^q", "apply-to": "queues", "definition": {"max-length": 7}, "priority": 0}})"));
}

}  // namespace
}  // namespace haremq::engine::store
