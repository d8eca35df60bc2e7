// Covers: a channel remembers the exchange it last published to (allowed and found once), and
// forgets it when the topology changes: a publish after the exchange was deleted, from another
// channel, gets RabbitMQ's 404; an exchange declared again under the name routes by its new
// bindings; an exchange that became internal is refused (403).
// Not here: permissions changed under an open connection (integration test_permissions).
#include <gtest/gtest.h>

#include "tests/engine/session/session_harness.h"

namespace haremq::test {
namespace {

class PublishTarget : public ::testing::Test {
 protected:
  void SetUp() override {
    client.send(client_handshake());
    client.send(method_bytes(1, amqp::channel_open{}));
    client.send(method_bytes(2, amqp::channel_open{}));
    client.send(method_bytes(1, amqp::exchange_declare{0, "x", "direct", false, false, false, false, false, {}}));
    for (const char* q : {"q1", "q2"}) {
      client.send(method_bytes(1, amqp::queue_declare{0, q, false, false, false, false, false, {}}));
    }
    client.send(method_bytes(1, amqp::queue_bind{0, "q1", "x", "k", false, {}}));
    ASSERT_EQ(client.take_frames().size(), 9u);  // start, tune, open-ok, 2 channel.open-ok, declare-ok x3, bind-ok
  }
  std::uint32_t ready(const char* name) {
    return find_queue(host, client, name)->ready_count();
  }
  std::string close_text() {
    const auto frames = client.take_frames();
    for (const auto& f : frames) {
      const auto m = amqp::decode_method(f.payload);
      if (m && std::holds_alternative<amqp::channel_close>(*m)) {
        const auto& c = std::get<amqp::channel_close>(*m);
        return std::to_string(c.reply_code) + " " + std::string(c.reply_text);
      }
    }
    return "no channel.close";
  }
  fake_host host;
  scripted_client client{host};
};

TEST_F(PublishTarget, ADeletedExchangeIsNotFoundAnyMore) {
  client.send(publish_bytes(1, "x", "k", "one"));
  EXPECT_EQ(ready("q1"), 1u);
  client.send(method_bytes(2, amqp::exchange_delete{0, "x", false, false}));
  (void)client.take_frames();  // delete-ok
  client.send(publish_bytes(1, "x", "k", "two"));
  EXPECT_EQ(close_text(), "404 NOT_FOUND - no exchange 'x' in vhost '/'");
  EXPECT_EQ(ready("q1"), 1u);
}

TEST_F(PublishTarget, AnExchangeDeclaredAgainRoutesByItsNewBindings) {
  client.send(publish_bytes(1, "x", "k", "one"));
  client.send(method_bytes(2, amqp::exchange_delete{0, "x", false, false}));
  client.send(method_bytes(2, amqp::exchange_declare{0, "x", "direct", false, false, false, false, false, {}}));
  client.send(method_bytes(2, amqp::queue_bind{0, "q2", "x", "k", false, {}}));
  (void)client.take_frames();
  client.send(publish_bytes(1, "x", "k", "two"));
  EXPECT_EQ(ready("q1"), 1u);
  EXPECT_EQ(ready("q2"), 1u);
}

TEST_F(PublishTarget, AnExchangeThatBecameInternalIsRefused) {
  client.send(publish_bytes(1, "x", "k", "one"));
  client.send(method_bytes(2, amqp::exchange_delete{0, "x", false, false}));
  client.send(method_bytes(2, amqp::exchange_declare{0, "x", "direct", false, false, false, /*internal=*/true, false, {}}));
  (void)client.take_frames();
  client.send(publish_bytes(1, "x", "k", "two"));
  EXPECT_EQ(close_text(), "403 ACCESS_REFUSED - cannot publish to internal exchange 'x' in vhost '/'");
}

}  // namespace
}  // namespace haremq::test
