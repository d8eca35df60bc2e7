// Hot paths of the codec: splitting a received stream into frames, decoding a small
// publish (method + content header + body), encoding a delivery with its content.
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "net/amqp/method_codec.h"
#include "net/amqp/properties.h"

namespace haremq::amqp {
namespace {

// One 16-byte publish as pika sends it: basic.publish, a content header with
// delivery-mode, and the body.
std::vector<std::byte> publish_frames(std::size_t body_size) {
  std::vector<std::byte> buf(256 + body_size);
  byte_writer out{buf};
  basic_publish publish;
  publish.routing_key = "perf-test-queue";
  write_method_frame(out, 1, publish);
  basic_properties p;
  p.delivery_mode = 1;
  p.set(property::delivery_mode);
  const std::vector<std::byte> body(body_size, std::byte{'x'});
  write_content_frames(out, 1, p, body, default_frame_max);
  return {out.written().begin(), out.written().end()};
}

void BM_FrameReader_SplitPublishStream(benchmark::State& state) {
  const auto one = publish_frames(static_cast<std::size_t>(state.range(0)));
  std::vector<std::byte> stream;
  constexpr int messages = 1000;
  for (int i = 0; i < messages; ++i) stream.insert(stream.end(), one.begin(), one.end());
  std::size_t frames = 0;
  for (auto _ : state) {
    bytes_view rest{stream};
    for (;;) {
      const auto r = parse_frame(rest, default_frame_max);
      if (r.outcome != frame_parse::status::frame) break;
      benchmark::DoNotOptimize(r.parsed.payload.data());
      rest = rest.subspan(r.consumed);
      ++frames;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
  state.SetLabel("items = frames");
}
BENCHMARK(BM_FrameReader_SplitPublishStream)->Arg(16)->Arg(1024);

// Everything the broker's reader does for one publish: split three frames, decode the
// method and the content header, and take the body view.
void BM_MethodDecode_Publish16(benchmark::State& state) {
  const auto stream = publish_frames(16);
  for (auto _ : state) {
    bytes_view rest{stream};
    const auto m = parse_frame(rest, default_frame_max);
    auto publish = decode_method(m.parsed.payload);
    rest = rest.subspan(m.consumed);
    const auto h = parse_frame(rest, default_frame_max);
    auto header = decode_content_header(h.parsed.payload);
    rest = rest.subspan(h.consumed);
    const auto b = parse_frame(rest, default_frame_max);
    benchmark::DoNotOptimize(publish);
    benchmark::DoNotOptimize(header);
    benchmark::DoNotOptimize(b.parsed.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("items = messages");
}
BENCHMARK(BM_MethodDecode_Publish16);

void BM_MethodDecode_Ack(benchmark::State& state) {
  std::array<std::byte, 64> buf{};
  byte_writer out{buf};
  write_method_frame(out, 1, basic_ack{123456, true});
  const auto frame = parse_frame(out.written(), default_frame_max);
  for (auto _ : state) {
    auto ack = decode_method(frame.parsed.payload);
    benchmark::DoNotOptimize(ack);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MethodDecode_Ack);

// basic.deliver + content header + body frame into a send buffer, as a consumer's
// connection writes each delivery.
void BM_DeliverEncode(benchmark::State& state) {
  const std::vector<std::byte> body(static_cast<std::size_t>(state.range(0)), std::byte{'x'});
  std::vector<std::byte> buf(body.size() + 256);
  basic_deliver deliver;
  deliver.consumer_tag = "amq.ctag-AbCdEfGhIjKlMnOpQrStUv";
  deliver.routing_key = "perf-test-queue";
  basic_properties p;
  p.delivery_mode = 1;
  p.set(property::delivery_mode);
  for (auto _ : state) {
    byte_writer out{buf};
    deliver.delivery_tag++;
    write_method_frame(out, 1, deliver);
    write_content_frames(out, 1, p, body, default_frame_max);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = messages");
}
BENCHMARK(BM_DeliverEncode)->Arg(16)->Arg(1024);

}  // namespace
}  // namespace haremq::amqp
