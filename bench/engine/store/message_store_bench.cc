// The message log's hot path on a queue owner's worker, without the disk: what logging a
// persistent message, and acking it, costs the worker's thread. The writer completes each
// write at once (no I/O), so the figures are encoding, checksumming and bookkeeping; what the
// disk adds is the perf harness's to measure (perf/results/persistence.md).
// - BM_Store_AppendPublish/<body bytes>: append_publish of one message, with a group commit
//   (flush) every 100 appends, as a busy loop turn does. Items: messages; bytes: bodies.
// - BM_Store_AppendAndAck/<body bytes>: the same, and every message released and acked in
//   runs of 100 (a multiple ack), so segments are deleted as they empty.
// - BM_Record_Read/<body bytes>: read_record + decode of a framed publish record (what
//   recovery does per message). Items: records.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/store/message_store.h"
#include "engine/store/record.h"

namespace haremq::engine::store {
namespace {

// Completes every write at once, without touching the file.
struct instant_writer final : disk_writer {
  message_store* store = nullptr;
  void write_and_sync(int, std::span<const std::byte> bytes, std::uint64_t) override {
    store->on_written(bytes.size(), {});
  }
};

struct temp_directory {
  temp_directory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "haremq-store-bench-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~temp_directory() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

message_ref make_message(std::size_t body_size) {
  const std::vector<std::byte> body(body_size, std::byte{'x'});
  // delivery_mode 2: flags 0x1000, then the octet.
  static const std::byte properties[] = {std::byte{0x10}, std::byte{0x00}, std::byte{0x02}};
  message_ref m(message::create("", "bench-queue", properties, body_size, message_traits{.persistent = true}));
  m->append_body(body);
  return m;
}

void append(benchmark::State& state, bool ack) {
  const auto size = static_cast<std::size_t>(state.range(0));
  temp_directory dir;
  segment_directory segments;
  segments.path = dir.path;
  instant_writer writer;
  message_store store(segments, writer);
  writer.store = &store;
  const std::uint32_t ref = store.attach_queue("/", "bench-queue", 1);
  const message_ref m = make_message(size);
  std::uint64_t seq = 0;
  std::vector<disk_location> pending;
  pending.reserve(100);
  for (auto _ : state) {
    const disk_location at = store.append_publish(ref, ++seq, *m);
    benchmark::DoNotOptimize(at);
    if (ack) {
      pending.push_back(at);
      if (pending.size() == 100) {
        for (const auto& p : pending) store.release(p);
        store.append_range(record_type::ack, ref, seq - 99, 100);
        pending.clear();
      }
    }
    if (seq % 100 == 0) store.flush();
  }
  store.flush();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

void BM_Store_AppendPublish(benchmark::State& state) { append(state, false); }
void BM_Store_AppendAndAck(benchmark::State& state) { append(state, true); }
BENCHMARK(BM_Store_AppendPublish)->Arg(16)->Arg(1024)->Arg(65536);
BENCHMARK(BM_Store_AppendAndAck)->Arg(16)->Arg(1024);

void BM_Record_Read(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::vector<std::byte> body(size, std::byte{'x'});
  std::vector<std::byte> framed;
  append_record(framed, publish_fields{1, 42, "", "bench-queue", {}, body, {}, 0});
  for (auto _ : state) {
    record_view r;
    publish_fields f;
    const bool ok = read_record(framed, r) == scan_status::record && decode(r.fields, f);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(framed.size()));
}
BENCHMARK(BM_Record_Read)->Arg(16)->Arg(1024)->Arg(65536);

}  // namespace
}  // namespace haremq::engine::store
