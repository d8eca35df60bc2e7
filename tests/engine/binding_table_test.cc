// Covers: the four exchange types' routing through one binding table; binding identity
// (destination, key, arguments compared after RabbitMQ's sort by name — checked on RabbitMQ
// 3.10.8: unbinding with {b, a} removes a binding made with {a, b}); each destination once
// per route; remove and remove_destination keeping every index consistent (fanout and
// headers slots moved by swap-remove); queue and exchange destinations with equal ids kept
// apart; arguments owned and listed sorted; exchange type names.
// Not yet: exchange-to-exchange chains (followed by the caller, topology_replica).
#include "engine/binding_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "tests/engine/routing_tables.h"

namespace haremq::engine {
namespace {

using amqp::field_value;
using namespace routing_test;

destination queue(std::uint32_t id) { return {destination::kind::queue, id}; }
destination exchange(std::uint32_t id) { return {destination::kind::exchange, id}; }

const owned_table no_arguments = make_table({});
const owned_table no_headers = make_table({});

std::vector<destination> route(const binding_table& t, std::string_view key, const amqp::field_table& headers = {}) {
  std::vector<destination> out;
  t.route(key, headers, out);
  std::sort(out.begin(), out.end(), [](destination a, destination b) {
    return std::tie(a.what, a.id) < std::tie(b.what, b.id);
  });
  return out;
}

TEST(ExchangeType, ParsesTheFourTypesByTheirAmqpNames) {
  for (const auto type : {exchange_type::direct, exchange_type::fanout, exchange_type::topic, exchange_type::headers}) {
    EXPECT_EQ(parse_exchange_type(name_of(type)), type);
  }
  EXPECT_EQ(name_of(exchange_type::headers), "headers");
  EXPECT_EQ(parse_exchange_type("Direct"), std::nullopt);  // RabbitMQ's registry is case-sensitive
  EXPECT_EQ(parse_exchange_type("x-consistent-hash"), std::nullopt);
  EXPECT_EQ(parse_exchange_type(""), std::nullopt);
}

TEST(Destination, KindAndIdBothCount) {
  EXPECT_EQ(queue(1), queue(1));
  EXPECT_NE(queue(1), exchange(1));
  EXPECT_NE(std::hash<destination>{}(queue(1)), std::hash<destination>{}(exchange(1)));
}

TEST(BindingTable, DirectRoutesByExactKey) {
  binding_table t{exchange_type::direct};
  EXPECT_TRUE(t.add(queue(1), "a", no_arguments));
  EXPECT_TRUE(t.add(queue(2), "a", no_arguments));
  EXPECT_TRUE(t.add(queue(3), "b", no_arguments));
  EXPECT_TRUE(t.add(exchange(1), "a", no_arguments));
  EXPECT_TRUE(t.add(queue(4), "", no_arguments));
  EXPECT_EQ(route(t, "a"), (std::vector{queue(1), queue(2), exchange(1)}));
  EXPECT_EQ(route(t, "b"), std::vector{queue(3)});
  EXPECT_EQ(route(t, ""), std::vector{queue(4)});
  EXPECT_TRUE(route(t, "c").empty());
  EXPECT_TRUE(route(t, "a.b").empty());
  EXPECT_TRUE(route(t, "A").empty());
}

TEST(BindingTable, DirectIgnoresArgumentsButKeepsTheBindingsApart) {
  binding_table t{exchange_type::direct};
  const auto one = make_table({{"z", I(1)}});
  EXPECT_TRUE(t.add(queue(1), "k", no_arguments));
  EXPECT_TRUE(t.add(queue(1), "k", one));  // another binding: other arguments
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(route(t, "k"), std::vector{queue(1)});  // delivered once
  EXPECT_TRUE(t.remove(queue(1), "k", no_arguments));
  EXPECT_EQ(route(t, "k"), std::vector{queue(1)});  // the other binding still routes
  EXPECT_TRUE(t.remove(queue(1), "k", one));
  EXPECT_TRUE(route(t, "k").empty());
  EXPECT_FALSE(t.has_bindings_to(queue(1)));
}

TEST(BindingTable, IdenticalBindingIsAddedOnce) {
  binding_table t{exchange_type::direct};
  const auto ab = make_table({{"a", I(1)}, {"b", S("2")}});
  const auto ba = make_table({{"b", S("2")}, {"a", I(1)}});
  const auto a_long = make_table({{"a", l(1)}, {"b", S("2")}});
  EXPECT_TRUE(t.add(queue(1), "k", ab));
  EXPECT_FALSE(t.add(queue(1), "k", ab));
  EXPECT_FALSE(t.add(queue(1), "k", ba));   // same arguments in another order
  EXPECT_TRUE(t.add(queue(1), "k", a_long));  // 'l' 1 is not 'I' 1 for identity
  EXPECT_TRUE(t.add(queue(1), "k2", ab));
  EXPECT_TRUE(t.add(queue(2), "k", ab));
  EXPECT_TRUE(t.add(exchange(1), "k", ab));
  EXPECT_EQ(t.size(), 5u);
}

TEST(BindingTable, RemoveNeedsTheSameBinding) {
  binding_table t{exchange_type::topic};
  const auto ab = make_table({{"a", I(1)}, {"b", S("2")}});
  const auto ba = make_table({{"b", S("2")}, {"a", I(1)}});
  ASSERT_TRUE(t.add(queue(1), "k.*", ab));
  EXPECT_FALSE(t.remove(queue(1), "k.*", no_arguments));
  EXPECT_FALSE(t.remove(queue(1), "k.#", ab));
  EXPECT_FALSE(t.remove(queue(2), "k.*", ab));
  EXPECT_FALSE(t.remove(exchange(1), "k.*", ab));
  EXPECT_EQ(route(t, "k.x"), std::vector{queue(1)});
  EXPECT_TRUE(t.remove(queue(1), "k.*", ba));  // RabbitMQ: reordered arguments are the same binding
  EXPECT_TRUE(route(t, "k.x").empty());
  EXPECT_FALSE(t.remove(queue(1), "k.*", ab));
  EXPECT_TRUE(t.empty());
}

TEST(BindingTable, FanoutRoutesToEveryDestinationOnce) {
  binding_table t{exchange_type::fanout};
  const auto one = make_table({{"z", I(1)}});
  t.add(queue(1), "", no_arguments);
  t.add(queue(1), "ignored", no_arguments);
  t.add(queue(1), "", one);
  t.add(queue(2), "x", no_arguments);
  t.add(exchange(7), "", no_arguments);
  EXPECT_EQ(route(t, "anything"), (std::vector{queue(1), queue(2), exchange(7)}));
  EXPECT_TRUE(t.remove(queue(1), "", no_arguments));
  EXPECT_TRUE(t.remove(queue(1), "ignored", no_arguments));
  EXPECT_EQ(route(t, ""), (std::vector{queue(1), queue(2), exchange(7)}));  // one binding left
  EXPECT_TRUE(t.remove(queue(1), "", one));
  EXPECT_EQ(route(t, ""), (std::vector{queue(2), exchange(7)}));
  // Removing the first slot moves the last one into it.
  EXPECT_EQ(t.remove_destination(queue(2)), 1u);
  EXPECT_EQ(route(t, ""), std::vector{exchange(7)});
  t.add(queue(3), "", no_arguments);
  EXPECT_EQ(t.remove_destination(exchange(7)), 1u);
  EXPECT_EQ(route(t, ""), std::vector{queue(3)});
}

TEST(BindingTable, TopicRoutesThroughTheTrieOnceEach) {
  binding_table t{exchange_type::topic};
  t.add(queue(1), "*.orange.*", no_arguments);
  t.add(queue(2), "*.*.rabbit", no_arguments);
  t.add(queue(2), "lazy.#", no_arguments);
  t.add(queue(2), "lazy.#", make_table({{"z", I(1)}}));
  EXPECT_EQ(route(t, "quick.orange.rabbit"), (std::vector{queue(1), queue(2)}));
  EXPECT_EQ(route(t, "lazy.pink.rabbit"), std::vector{queue(2)});
  EXPECT_TRUE(t.remove(queue(2), "lazy.#", no_arguments));
  EXPECT_EQ(route(t, "lazy"), std::vector{queue(2)});  // the binding with {z: 1} remains
  EXPECT_EQ(t.remove_destination(queue(2)), 2u);
  EXPECT_TRUE(route(t, "lazy").empty());
  EXPECT_EQ(route(t, "a.orange.b"), std::vector{queue(1)});
}

TEST(BindingTable, HeadersRoutesByArgumentsIgnoringTheKey) {
  binding_table t{exchange_type::headers};
  t.add(queue(1), "", make_table({{"x-match", S("all")}, {"format", S("pdf")}, {"type", S("report")}}));
  t.add(queue(2), "", make_table({{"x-match", S("any")}, {"format", S("pdf")}, {"type", S("log")}}));
  t.add(queue(3), "", make_table({{"format", S("zip")}}));
  t.add(queue(3), "other", make_table({{"type", S("report")}}));  // two bindings, one destination
  t.add(queue(4), "", make_table({{"x-match", S("any")}}));      // matches nothing
  t.add(queue(5), "", no_arguments);                             // "all" of nothing: everything
  EXPECT_EQ(route(t, "", make_table({{"format", S("pdf")}, {"type", S("report")}})),
            (std::vector{queue(1), queue(2), queue(3), queue(5)}));
  EXPECT_EQ(route(t, "ignored", make_table({{"type", S("log")}})), (std::vector{queue(2), queue(5)}));
  EXPECT_EQ(route(t, "", no_headers), std::vector{queue(5)});
  EXPECT_EQ(route(t, "", amqp::field_table{}), std::vector{queue(5)});

  EXPECT_TRUE(t.remove(queue(3), "other", make_table({{"type", S("report")}})));
  EXPECT_EQ(route(t, "", make_table({{"type", S("report")}})), std::vector{queue(5)});
  EXPECT_EQ(route(t, "", make_table({{"format", S("zip")}})), (std::vector{queue(3), queue(5)}));
  // Dropping a group in the middle moves the last one into its slot.
  EXPECT_EQ(t.remove_destination(queue(1)), 1u);
  EXPECT_EQ(t.remove_destination(queue(2)), 1u);
  EXPECT_EQ(route(t, "", make_table({{"format", S("zip")}})), (std::vector{queue(3), queue(5)}));
  EXPECT_TRUE(t.remove(queue(5), "", no_arguments));
  EXPECT_TRUE(t.remove(queue(4), "", make_table({{"x-match", S("any")}})));
  EXPECT_EQ(route(t, "", make_table({{"format", S("zip")}})), std::vector{queue(3)});
  EXPECT_EQ(t.size(), 1u);
}

TEST(BindingTable, HeadersBindingsKeepTheirArgumentsAfterTheFrameIsGone) {
  binding_table t{exchange_type::headers};
  {
    auto arguments = make_table({{"format", S("pdf")}});
    t.add(queue(1), "", arguments);
    std::fill(arguments.bytes.begin(), arguments.bytes.end(), std::byte{0x55});
  }
  EXPECT_EQ(route(t, "", make_table({{"format", S("pdf")}})), std::vector{queue(1)});
  // Moving the table (as a replica rebuild does) keeps everything valid.
  binding_table moved = std::move(t);
  EXPECT_EQ(route(moved, "", make_table({{"format", S("pdf")}})), std::vector{queue(1)});
}

TEST(BindingTable, RemoveDestinationDropsEveryBindingOfIt) {
  for (const auto type : {exchange_type::direct, exchange_type::fanout, exchange_type::topic, exchange_type::headers}) {
    SCOPED_TRACE(std::string(name_of(type)));
    binding_table t{type};
    t.add(queue(1), "a", no_arguments);
    t.add(queue(1), "b", no_arguments);
    t.add(queue(1), "a", make_table({{"q", I(1)}}));
    t.add(queue(2), "a", no_arguments);
    t.add(exchange(1), "a", no_arguments);
    EXPECT_TRUE(t.has_bindings_to(queue(1)));
    EXPECT_EQ(t.remove_destination(queue(1)), 3u);
    EXPECT_FALSE(t.has_bindings_to(queue(1)));
    EXPECT_EQ(t.remove_destination(queue(1)), 0u);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_TRUE(t.has_bindings_to(queue(2)));
    EXPECT_TRUE(t.has_bindings_to(exchange(1)));
    EXPECT_FALSE(t.has_bindings_to(exchange(2)));
    EXPECT_EQ(route(t, "a"), (std::vector{queue(2), exchange(1)}));
    // Re-adding after removal works from a clean slate.
    EXPECT_TRUE(t.add(queue(1), "a", no_arguments));
    EXPECT_EQ(route(t, "a"), (std::vector{queue(1), queue(2), exchange(1)}));
  }
}

TEST(BindingTable, RouteAppendsToWhatTheCallerHas) {
  binding_table t{exchange_type::direct};
  t.add(queue(1), "k", no_arguments);
  std::vector<destination> out{queue(9)};
  t.route("k", {}, out);
  EXPECT_EQ(out, (std::vector{queue(9), queue(1)}));
}

TEST(BindingTable, ListsBindingsWithSortedOwnedArguments) {
  binding_table t{exchange_type::topic};
  t.add(queue(1), "a.#", make_table({{"b", S("2")}, {"a", I(1)}}));
  t.add(exchange(2), "", no_arguments);
  std::vector<std::tuple<destination, std::string, std::vector<std::string>>> listed;
  t.for_each([&](destination d, std::string_view key, const amqp::field_table& arguments) {
    std::vector<std::string> names;
    for (const auto& e : arguments) names.emplace_back(e.name);
    listed.emplace_back(d, std::string(key), names);
  });
  std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return std::get<1>(a) < std::get<1>(b); });
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(std::get<0>(listed[0]), exchange(2));
  EXPECT_EQ(std::get<1>(listed[0]), "");
  EXPECT_TRUE(std::get<2>(listed[0]).empty());
  EXPECT_EQ(std::get<0>(listed[1]), queue(1));
  EXPECT_EQ(std::get<1>(listed[1]), "a.#");
  EXPECT_EQ(std::get<2>(listed[1]), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace haremq::engine
