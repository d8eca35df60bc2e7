// Covers: the byte streams captured between pika and RabbitMQ 3.10 (tests/data/*.bin),
// fed whole, byte by byte, at every chunk size up to 64 and at random splits; every frame
// decoded and checked field by field against tshark's dissection (*.decoded.txt) and
// re-encoded to the same bytes; the badframes scenario's raw inputs give the errors whose
// figures RabbitMQ's FRAME_ERROR texts report.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"
#include "tests/support/data_files.h"
#include "tests/support/frame_feeder.h"
#include "tests/support/tshark_capture.h"
#include "tests/support/tshark_render.h"

namespace haremq::amqp {
namespace {

using test::owned_frame;

struct capture {
  std::string name;
  std::vector<std::byte> client;  // protocol header, then frames
  std::vector<std::byte> server;  // frames
};

capture load(const std::string& name) {
  auto client = test::read_data_file(name + ".client-to-server.bin");
  EXPECT_GE(client.size(), protocol_header.size());
  EXPECT_EQ(check_protocol_header(client), header_check::ok);
  client.erase(client.begin(), client.begin() + static_cast<std::ptrdiff_t>(protocol_header.size()));
  return {name, std::move(client), test::read_data_file(name + ".server-to-client.bin")};
}

class WireCapture : public ::testing::TestWithParam<std::string> {};

void expect_same_split(const std::vector<std::byte>& stream, const char* direction) {
  const auto whole = test::feed_whole(stream, default_frame_max);
  ASSERT_EQ(whole.error, errc{}) << direction;
  ASSERT_EQ(whole.left_over, 0u) << direction;
  ASSERT_GT(whole.frames.size(), 5u) << direction;
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) {
    const auto fed = test::feed_in_chunks_of(stream, default_frame_max, chunk);
    EXPECT_EQ(fed.frames, whole.frames) << direction << " in chunks of " << chunk;
    EXPECT_EQ(fed.left_over, 0u);
  }
  for (std::uint32_t seed = 1; seed <= 50; ++seed) {
    const auto fed = test::feed_at_random_splits(stream, default_frame_max, seed);
    EXPECT_EQ(fed.frames, whole.frames) << direction << " at random splits, seed " << seed;
  }
}

TEST_P(WireCapture, SplitsIntoTheSameFramesAtEveryFragmentSize) {
  const capture c = load(GetParam());
  expect_same_split(c.client, "client-to-server");
  expect_same_split(c.server, "server-to-client");
}

// Re-encodes a decoded frame from its typed form; equal bytes prove the decoding exact.
std::vector<std::byte> reencode(const owned_frame& f) {
  std::vector<std::byte> buf(f.wire.size() + 64);
  byte_writer out{buf};
  switch (f.type) {
    case frame_type::method: {
      auto m = decode_method(f.payload);
      EXPECT_TRUE(m) << m.error().message();
      if (m) write_method_frame(out, f.channel, *m);
      break;
    }
    case frame_type::header: {
      auto h = decode_content_header(f.payload);
      EXPECT_TRUE(h) << h.error().message();
      if (h) write_content_header_frame(out, f.channel, *h);
      break;
    }
    case frame_type::body: write_body_frame(out, f.channel, f.payload); break;
    case frame_type::heartbeat: write_heartbeat_frame(out); break;
  }
  EXPECT_TRUE(out.ok());
  return {out.written().begin(), out.written().end()};
}

TEST_P(WireCapture, EveryFrameReencodesToTheSameBytes) {
  const capture c = load(GetParam());
  for (const auto* stream : {&c.client, &c.server}) {
    for (const auto& f : test::feed_whole(*stream, default_frame_max).frames) {
      EXPECT_EQ(reencode(f), f.wire);
    }
  }
}

bool matches(const std::vector<test::tshark_line>& ours, const test::tshark_block& block) {
  if (ours.size() > block.lines.size()) return false;
  if (!std::equal(ours.begin(), ours.end(), block.lines.begin())) return false;
  // tshark may add its reading of a text body ("Line-based text data: ..."): not on the wire.
  return ours.size() == block.lines.size() || block.lines[ours.size()].text.rfind("Line-based text data", 0) == 0;
}

std::string show(const std::vector<test::tshark_line>& lines) {
  std::string out;
  for (const auto& l : lines) out += std::string(static_cast<std::size_t>(l.indent), ' ') + l.text + "\n";
  return out;
}

TEST_P(WireCapture, EveryFrameDecodesToWhatTsharkShows) {
  const capture c = load(GetParam());
  const auto blocks = test::parse_tshark_dissection(test::read_data_text(GetParam() + ".decoded.txt"));
  std::vector<std::vector<test::tshark_line>> client, server;
  for (const auto& f : test::feed_whole(c.client, default_frame_max).frames) client.push_back(test::render_tshark(f));
  for (const auto& f : test::feed_whole(c.server, default_frame_max).frames) server.push_back(test::render_tshark(f));

  // The dissection interleaves both directions of every connection of the run; the .bin
  // files hold the first connection. Each block, in order, must be the next frame of one
  // direction until both are used up.
  std::size_t ci = 0, si = 0;
  for (const auto& block : blocks) {
    if (ci == client.size() && si == server.size()) break;
    if (block.is_protocol_header()) continue;  // checked by load()
    if (ci < client.size() && matches(client[ci], block)) {
      ++ci;
    } else if (si < server.size() && matches(server[si], block)) {
      ++si;
    } else {
      ADD_FAILURE() << "no frame matches tshark's block:\n" << show(block.lines) << "next client frame:\n"
                    << (ci < client.size() ? show(client[ci]) : "(none)\n") << "next server frame:\n"
                    << (si < server.size() ? show(server[si]) : "(none)\n");
      return;
    }
  }
  EXPECT_EQ(ci, client.size());
  EXPECT_EQ(si, server.size());
}

INSTANTIATE_TEST_SUITE_P(Captures, WireCapture, ::testing::Values("seedflow", "errors"));

// Spot checks of values a broker relies on, read straight from the captures.
TEST(WireCaptureValues, RabbitMqStartAndTuneAsCaptured) {
  const capture c = load("seedflow");
  const auto frames = test::feed_whole(c.server, default_frame_max).frames;
  auto start = decode_method(frames.at(0).payload);
  ASSERT_TRUE(start);
  const auto& s = std::get<connection_start>(*start);
  EXPECT_EQ(s.server_properties.find("product")->as_string(), "RabbitMQ");
  EXPECT_TRUE(s.server_properties.find("capabilities")->as_table().find("publisher_confirms")->as_bool());
  EXPECT_EQ(s.mechanisms.value, "PLAIN AMQPLAIN");
  EXPECT_EQ(s.locales.value, "en_US");
  auto tune = decode_method(frames.at(1).payload);
  ASSERT_TRUE(tune);
  const auto& t = std::get<connection_tune>(*tune);
  EXPECT_EQ(t.channel_max, default_channel_max);
  EXPECT_EQ(t.frame_max, default_frame_max);
  EXPECT_EQ(t.heartbeat, default_heartbeat);
}

TEST(WireCaptureValues, PublishedHeadersHoldTheNestedTable) {
  const capture c = load("seedflow");
  for (const auto& f : test::feed_whole(c.client, default_frame_max).frames) {
    if (f.type != frame_type::header) continue;
    auto h = decode_content_header(f.payload);
    ASSERT_TRUE(h);
    const auto nested = h->properties.headers.find("nested");
    ASSERT_TRUE(nested.has_value());
    const auto a = nested->as_table().find("a");
    ASSERT_TRUE(a.has_value());
    std::vector<field_value> items(a->as_array().begin(), a->as_array().end());
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].as_int(), 1);
    EXPECT_EQ(items[1].as_string(), "b");
    EXPECT_TRUE(items[2].as_bool());
    EXPECT_EQ(h->properties.timestamp, 1700000000u);
    return;  // the first content header is the one with every property
  }
  FAIL() << "no content header in the capture";
}

// The badframes scenario has no .bin capture: its raw inputs are rebuilt here byte for
// byte from scenarios/scenario_badframes.py, and RabbitMQ's answers are read from the
// dissection of its replies.
std::vector<std::string> rabbit_frame_errors() {
  std::vector<std::string> texts;
  for (const auto& block : test::parse_tshark_dissection(test::read_data_text("badframes.decoded.txt"))) {
    for (const auto& line : block.lines) {
      if (line.text.rfind("Reply-Text: FRAME_ERROR", 0) == 0) texts.push_back(line.text.substr(12));
    }
  }
  return texts;
}

std::vector<std::byte> raw(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(BadFrames, BadFrameEndReportsWhatRabbitMqReports) {
  const auto texts = rabbit_frame_errors();
  ASSERT_GE(texts.size(), 3u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(texts[0], m, std::regex(R"(type (\d+), all octets = <<([\d,]*)>>: \{invalid_frame_end_marker,(\d+)\})")));
  const auto input = raw({1, 0, 0, 0, 0, 0, 4, 0, 20, 0, 10, 0});
  const auto r = parse_frame(input, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::error);
  EXPECT_EQ(r.error, errc::bad_frame_end);
  EXPECT_EQ(std::to_string(r.raw_type), m[1].str());
  std::string octets;
  for (auto b : r.payload_seen) octets += (octets.empty() ? "" : ",") + std::to_string(std::to_integer<int>(b));
  EXPECT_EQ(octets, m[2].str());
  EXPECT_EQ(std::to_string(r.found_end), m[3].str());
}

TEST(BadFrames, UnknownFrameTypeReportsWhatRabbitMqReports) {
  const auto texts = rabbit_frame_errors();
  ASSERT_GE(texts.size(), 3u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(texts[1], m, std::regex(R"(type (\d+), all octets = <<>>: unknown_frame)")));
  const auto input = raw({9, 0, 0, 0, 0, 0, 0, 0xCE});
  const auto r = parse_frame(input, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::error);
  EXPECT_EQ(r.error, errc::unknown_frame_type);
  EXPECT_EQ(std::to_string(r.raw_type), m[1].str());
  EXPECT_TRUE(r.payload_seen.empty());
}

TEST(BadFrames, FrameTooLargeReportsWhatRabbitMqReports) {
  const auto texts = rabbit_frame_errors();
  ASSERT_GE(texts.size(), 3u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(texts[2], m, std::regex(R"(\{frame_too_large,(\d+),(\d+)\})")));
  std::vector<std::byte> input = raw({1, 0, 1, 0x00, 0x98, 0x96, 0x80});
  input.resize(input.size() + 64);  // the scenario sends 64 zero bytes after the header
  const auto r = parse_frame(input, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::error);
  EXPECT_EQ(r.error, errc::frame_too_large);
  EXPECT_EQ(std::to_string(r.declared_size), m[1].str());
  EXPECT_EQ(std::to_string(max_payload(default_frame_max)), m[2].str());
}

TEST(BadFrames, UndecodableMethodIsAFrameError) {
  // "method-on-unopened-channel": queue.declare on channel 7 with 4 argument octets;
  // RabbitMQ answers 501 "FRAME_ERROR - cannot decode <<0,0,0,0>>" naming class 50 method 10.
  const auto stream = raw({1, 0, 7, 0, 0, 0, 8, 0, 50, 0, 10, 0, 0, 0, 0, 0xCE});
  const auto r = parse_frame(stream, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::frame);
  EXPECT_EQ(peek_method_id(r.parsed.payload), (method_id{50, 10}));
  const auto decoded = decode_method(r.parsed.payload);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(reply_code_of(static_cast<errc>(decoded.error().value())), reply_code::frame_error);
  const auto capture_text = test::read_data_text("badframes.client-output.txt");
  EXPECT_NE(capture_text.find("FRAME_ERROR - cannot decode <<0,0,0,0>>"), std::string::npos);
}

TEST(BadFrames, UnknownMethodIsReported) {
  const auto stream = raw({1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 99, 0xCE});
  const auto r = parse_frame(stream, default_frame_max);
  ASSERT_EQ(r.outcome, frame_parse::status::frame);
  EXPECT_EQ(decode_method(r.parsed.payload).error(), errc::unknown_method);
}

}  // namespace
}  // namespace haremq::amqp
