// Covers: sender-selected distribution (CC and BCC headers) as RabbitMQ does it: which headers
// are routes (message_traits), RabbitMQ's term for one that is not an array (CC named first),
// BCC taken out of the properties (the rest kept byte for byte, an emptied headers table kept),
// the keys a message is routed by (its own, CC's strings, BCC's strings; other values skipped),
// and a dead letter's copy: x-death routing-keys with the CC keys but not the BCC ones, CC and
// BCC kept for routing again, both dropped with x-dead-letter-routing-key.
// Not here: routing through exchanges (integration test_exchanges, test_dead_lettering).
#include "engine/header_routes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/dead_letter.h"
#include "net/amqp/byte_writer.h"

namespace haremq::engine {
namespace {

using amqp::field_value;

// Properties with content-type and headers built by `fill`, encoded.
template <class Fill>
std::vector<std::byte> encoded_properties(Fill&& fill) {
  std::vector<std::byte> buffer(4096);
  amqp::byte_writer w{buffer};
  amqp::table_writer headers{w};
  fill(headers);
  amqp::basic_properties p;
  p.set(amqp::property::content_type);
  p.content_type = "text/plain";
  p.set(amqp::property::headers);
  p.headers = amqp::field_table::trusted(headers.finish());
  p.set(amqp::property::app_id);
  p.app_id = "app";
  const std::size_t at = w.position();
  amqp::write_properties(w, p);
  return {buffer.begin() + static_cast<std::ptrdiff_t>(at), buffer.begin() + static_cast<std::ptrdiff_t>(w.position())};
}

// Adds an array of strings (and, if given, an integer) named `name`.
void add_routes(amqp::table_writer& t, std::string_view name, std::vector<std::string_view> keys, bool with_integer = false) {
  auto a = t.nested(name, amqp::table_writer::kind::array);
  for (auto k : keys) a.add("", field_value::string(k));
  if (with_integer) a.add("", field_value::i32(5));
  a.finish();
}

amqp::basic_properties decoded(amqp::bytes_view bytes) {
  auto p = amqp::decode_properties(bytes);
  EXPECT_TRUE(p.has_value());
  return p ? *p : amqp::basic_properties{};
}

message_ref make(amqp::bytes_view properties, amqp::bytes_view bcc = {}, std::string_view routing_key = "rk") {
  const auto traits = message_traits::of(decoded(properties));
  message* m = message::create("in", routing_key, properties, 4, traits, bcc);
  EXPECT_TRUE(m->append_body(amqp::as_bytes("body")));
  return message_ref{m};
}

std::vector<std::string> keys_of(const message& m) {
  std::vector<std::string_view> keys;
  routing_keys_of(m, keys);
  return {keys.begin(), keys.end()};
}

TEST(HeaderRoutes, OnlyCcAndBccHeadersAreRoutes) {
  auto plain = encoded_properties([](auto& t) { t.add("cc", field_value::string("x")); });
  EXPECT_FALSE(message_traits::of(decoded(plain)).header_routes);
  auto cc = encoded_properties([](auto& t) { add_routes(t, "CC", {"a"}); });
  EXPECT_TRUE(message_traits::of(decoded(cc)).header_routes);
  auto bcc = encoded_properties([](auto& t) { add_routes(t, "BCC", {}); });
  EXPECT_TRUE(message_traits::of(decoded(bcc)).header_routes);
  EXPECT_EQ(header_routes_error(decoded(cc)), "");
}

TEST(HeaderRoutes, AHeaderThatIsNotAnArrayIsNamedAsRabbitMQNamesIt) {
  auto cc = encoded_properties([](auto& t) { t.add("CC", field_value::string("a")); });
  EXPECT_EQ(header_routes_error(decoded(cc)), "{unacceptable_type_in_header,\"CC\",longstr}");
  auto bcc = encoded_properties([](auto& t) {
    add_routes(t, "CC", {"ok"});
    t.add("BCC", field_value::i32(5));
  });
  EXPECT_EQ(header_routes_error(decoded(bcc)), "{unacceptable_type_in_header,\"BCC\",signedint}");
  auto both = encoded_properties([](auto& t) {
    t.add("BCC", field_value::i32(5));
    t.add("CC", field_value::boolean(true));
  });
  EXPECT_EQ(header_routes_error(decoded(both)), "{unacceptable_type_in_header,\"CC\",bool}");
}

TEST(HeaderRoutes, BccIsTakenOutAndTheRestKept) {
  auto with_bcc = encoded_properties([](auto& t) {
    t.add("a", field_value::i32(1));
    add_routes(t, "BCC", {"b1", "b2"});
    add_routes(t, "CC", {"c1"});
  });
  auto expected = encoded_properties([](auto& t) {
    t.add("a", field_value::i32(1));
    add_routes(t, "CC", {"c1"});
  });
  std::vector<std::byte> buffer;
  const auto kept = take_out_bcc(decoded(with_bcc), with_bcc, buffer);
  EXPECT_EQ(std::vector<std::byte>(kept.properties.begin(), kept.properties.end()), expected);
  std::vector<std::string> bcc;
  for_each_route(amqp::field_array::trusted(kept.bcc), [&](std::string_view k) { bcc.emplace_back(k); });
  EXPECT_EQ(bcc, (std::vector<std::string>{"b1", "b2"}));

  // Without BCC: the properties as they came, not a copy.
  const auto same = take_out_bcc(decoded(expected), expected, buffer);
  EXPECT_EQ(same.properties.data(), expected.data());
  EXPECT_TRUE(same.bcc.empty());

  // BCC alone: the headers stay, empty.
  auto only_bcc = encoded_properties([](auto& t) { add_routes(t, "BCC", {"b"}); });
  const auto emptied = decoded(take_out_bcc(decoded(only_bcc), only_bcc, buffer).properties);
  EXPECT_TRUE(emptied.has(amqp::property::headers));
  EXPECT_TRUE(emptied.headers.empty());
  EXPECT_EQ(emptied.app_id, "app");
}

TEST(HeaderRoutes, AMessageIsRoutedByItsKeyThenCcThenBcc) {
  auto plain = encoded_properties([](auto& t) { t.add("x", field_value::i32(1)); });
  EXPECT_EQ(keys_of(*make(plain)), (std::vector<std::string>{"rk"}));
  auto cc = encoded_properties([](auto& t) { add_routes(t, "CC", {"c1", "c2"}, /*with_integer=*/true); });
  std::vector<std::byte> bcc_bytes(64);
  amqp::byte_writer w{bcc_bytes};
  amqp::table_writer bcc{w, amqp::table_writer::kind::array};
  bcc.add("", field_value::string("b1"));
  const auto bcc_content = bcc.finish();
  const auto m = make(cc, bcc_content);
  EXPECT_TRUE(m->header_routes());
  EXPECT_EQ(keys_of(*m), (std::vector<std::string>{"rk", "c1", "c2", "b1"}));
  // BCC keys alone make a message routed by more than its key.
  const auto only_bcc = make(plain, bcc_content);
  EXPECT_TRUE(only_bcc->header_routes());
  EXPECT_EQ(keys_of(*only_bcc), (std::vector<std::string>{"rk", "b1"}));
}

std::vector<std::string> death_routing_keys(const message& m) {
  const auto p = m.decode_properties();
  const auto deaths = p.headers.find("x-death");
  EXPECT_TRUE(deaths.has_value());
  std::vector<std::string> keys;
  if (!deaths) return keys;
  for (const auto& d : deaths->as_array()) {
    const auto rk = d.as_table().find("routing-keys");
    if (!rk) continue;
    for (const auto& k : rk->as_array()) keys.emplace_back(k.as_string());
  }
  return keys;
}

TEST(HeaderRoutes, ADeadLetterNamesCcKeysAndIsRoutedByAllOfThemAgain) {
  auto cc = encoded_properties([](auto& t) { add_routes(t, "CC", {"c1"}); });
  std::vector<std::byte> bcc_bytes(64);
  amqp::byte_writer w{bcc_bytes};
  amqp::table_writer bcc{w, amqp::table_writer::kind::array};
  bcc.add("", field_value::string("b1"));
  const auto original = make(cc, bcc.finish());

  death d{"q", "rejected", "dlx", "", false, 1700000000};
  const auto letter = make_dead_letter(*original, d);
  ASSERT_TRUE(letter);
  EXPECT_EQ(death_routing_keys(*letter), (std::vector<std::string>{"rk", "c1"}));
  EXPECT_EQ(keys_of(*letter), (std::vector<std::string>{"rk", "c1", "b1"}));

  death rekeyed{"q", "rejected", "dlx", "new", true, 1700000000};
  const auto replaced = make_dead_letter(*original, rekeyed);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(death_routing_keys(*replaced), (std::vector<std::string>{"rk", "c1"}));
  EXPECT_FALSE(replaced->decode_properties().headers.find("CC").has_value());
  EXPECT_EQ(keys_of(*replaced), (std::vector<std::string>{"new"}));
}

}  // namespace
}  // namespace haremq::engine
