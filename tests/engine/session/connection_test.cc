// Covers: a whole session replayed from the pika <-> RabbitMQ capture (handshake, declares,
// publish with every property, confirms, mandatory return, get, nack, two consumers, acks,
// deletes, close) answered frame for frame as RabbitMQ answered; the protocol header;
// frame errors with RabbitMQ's texts; bad logins; channel errors.
// Not yet: heartbeat timing (integration tests), multi-worker routing (integration tests).
#include "engine/session/connection.h"

#include <gtest/gtest.h>

#include <array>

#include "net/amqp/method_codec.h"
#include "tests/engine/session/session_harness.h"
#include "tests/support/data_files.h"
#include "tests/support/tshark_render.h"

namespace haremq::test {
namespace {

std::string show(const std::vector<tshark_line>& lines) {
  std::string out;
  for (const auto& l : lines) out += std::string(static_cast<std::size_t>(l.indent), ' ') + l.text + "\n";
  return out;
}

std::vector<std::byte> raw(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(SessionReplay, SeedflowIsAnsweredAsRabbitMqAnswered) {
  fake_host host;
  // The capture's client binds the queue name RabbitMQ generated; generate the same one.
  host.topology().set_name_generator([] { return std::string("amq.gen-L51Ow9ieO44WVYh7h5W_dQ"); });
  scripted_client client(host);
  // Frame by frame, everything the broker does in between run to the end: pika waited for
  // each confirm before publishing again, and the order of the answers depends on it.
  const auto sent = read_data_file("seedflow.client-to-server.bin");
  client.send(std::span(sent).first(amqp::protocol_header.size()));
  std::vector<std::byte> rest(sent.begin() + amqp::protocol_header.size(), sent.end());
  for (const auto& frame : feed_whole(rest, 0).frames) client.send(frame.wire);

  const auto ours = client.take_frames();
  const auto theirs = feed_whole(read_data_file("seedflow.server-to-client.bin"), 0).frames;
  ASSERT_EQ(ours.size(), theirs.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    if (i == 0) {  // connection.start: our own product and properties
      EXPECT_EQ(amqp::peek_method_id(ours[0].payload), amqp::connection_start::id);
      continue;
    }
    EXPECT_EQ(show(render_tshark(ours[i])), show(render_tshark(theirs[i]))) << "frame " << i;
  }
  EXPECT_TRUE(client.transport().closed);
}

TEST(SessionProtocolHeader, WrongHeaderIsAnsweredWithOursAndClosed) {
  fake_host host;
  scripted_client client(host);
  const std::string_view http = "HTTP/1.1 GET /\r\n\r\n";
  client.send(amqp::as_bytes(http));
  const auto& w = client.transport().written;
  ASSERT_EQ(w.size(), 8u);
  EXPECT_TRUE(std::equal(w.begin(), w.end(), amqp::protocol_header.begin()));
  EXPECT_TRUE(client.transport().closed);
}

std::string close_text(const owned_frame& f) {
  auto m = amqp::decode_method(f.payload);
  if (!m) return "undecodable";
  if (const auto* c = std::get_if<amqp::connection_close>(&*m)) {
    return std::to_string(c->reply_code) + " " + std::string(c->reply_text);
  }
  if (const auto* c = std::get_if<amqp::channel_close>(&*m)) {
    return "channel " + std::to_string(c->reply_code) + " " + std::string(c->reply_text);
  }
  return std::string(amqp::name_of(*m));
}

class BadFrames : public ::testing::Test {
 protected:
  void SetUp() override {
    client.send(client_handshake());
    const auto frames = client.take_frames();
    ASSERT_EQ(frames.size(), 3u);  // start, tune, open-ok
  }
  std::string answer_to(const std::vector<std::byte>& bytes) {
    client.send(bytes);
    const auto frames = client.take_frames();
    return frames.empty() ? "nothing" : close_text(frames.back());
  }
  fake_host host;
  scripted_client client{host};
};

// The texts below are RabbitMQ's, from tests/data/badframes.client-output.txt.
TEST_F(BadFrames, BadFrameEnd) {
  EXPECT_EQ(answer_to(raw({1, 0, 0, 0, 0, 0, 4, 0, 20, 0, 10, 0})),
            "501 FRAME_ERROR - type 1, all octets = <<0,20,0,10>>: {invalid_frame_end_marker,0}");
}

TEST_F(BadFrames, UnknownFrameType) {
  EXPECT_EQ(answer_to(raw({9, 0, 0, 0, 0, 0, 0, 0xCE})), "501 FRAME_ERROR - type 9, all octets = <<>>: unknown_frame");
}

TEST_F(BadFrames, FrameTooLarge) {
  auto bytes = raw({1, 0, 1, 0x00, 0x98, 0x96, 0x80});
  bytes.resize(bytes.size() + 64);
  EXPECT_EQ(answer_to(bytes), "501 FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,10000000,131064}");
}

TEST_F(BadFrames, UndecodableMethodOnUnopenedChannel) {
  EXPECT_EQ(answer_to(raw({1, 0, 7, 0, 0, 0, 8, 0, 50, 0, 10, 0, 0, 0, 0, 0xCE})),
            "501 FRAME_ERROR - cannot decode <<0,0,0,0>>");
}

TEST_F(BadFrames, UnknownMethodDropsTheConnection) {
  client.send(raw({1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 99, 0xCE}));
  EXPECT_TRUE(client.transport().aborted);
}

TEST(SessionLogin, BadPasswordIsRefused) {
  fake_host host;
  scripted_client client(host);
  client.send(client_handshake("wrong"));
  const auto frames = client.take_frames();
  ASSERT_EQ(frames.size(), 2u);  // start, close
  EXPECT_EQ(close_text(frames[1]),
            "403 ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker "
            "logfile.");
  EXPECT_TRUE(client.transport().closed);
}

TEST(SessionLogin, BadPasswordWithoutTheCapabilityClosesSilently) {
  fake_host host;
  scripted_client client(host);
  client.send(client_handshake("wrong", /*auth_close=*/false));
  const auto frames = client.take_frames();
  ASSERT_EQ(frames.size(), 1u);  // start only
  EXPECT_TRUE(client.transport().closed);
}

TEST(SessionLogin, GuestOnlyFromLoopback) {
  fake_host host;
  scripted_client client(host, /*loopback=*/false);
  client.send(client_handshake());
  const auto frames = client.take_frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(close_text(frames[1]).substr(0, 17), "403 ACCESS_REFUSE");
}

}  // namespace
}  // namespace haremq::test
