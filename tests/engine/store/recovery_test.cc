// Covers: segments written through a message_store (flush_blocking) and scanned back: live
// messages per queue in seq order with their fields intact, across segments; acks (one
// range, several, out of order, overlapping, in a later segment, of another queue);
// delivered marks; incarnations (each recovered apart, one with nothing live not listed,
// other vhosts apart); the same seq twice, as a crash during an earlier recovery leaves
// it, kept once; a torn tail (every truncation of the last segment) cut off with the file
// truncated; a flipped byte cutting from its record on; damage in an earlier segment not
// stopping the later ones; empty, garbage and zero-filled files; records naming an unknown
// queue ref or type; highest_segment(); which files count as segments; remove_segment();
// stats; the mappings released when the recovery goes.
// Not yet: a segment that cannot be opened or mapped (needs another user or a full address
// space), scans of multi-gigabyte logs.
#include "engine/store/recovery.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/store/message_store.h"
#include "net/amqp/endian.h"
#include "tests/engine/store/store_test_support.h"

namespace haremq::engine::store {
namespace {

namespace fs = std::filesystem;
using namespace test;

// flush_blocking writes in place: the writer must never be asked.
class unused_writer final : public disk_writer {
 public:
  void write_and_sync(int, std::span<const std::byte>, std::uint64_t) override {
    ADD_FAILURE() << "the reactor's writer was used";
  }
};

std::vector<std::byte> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::transform(chars.begin(), chars.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

void write_file(const fs::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<seen> expect_seqs(std::string_view queue, std::initializer_list<std::uint64_t> seqs,
                              std::initializer_list<std::uint64_t> delivered = {}) {
  std::vector<seen> out;
  for (const auto s : seqs) {
    out.push_back(seen{s, body_for(queue, s), std::find(delivered.begin(), delivered.end(), s) != delivered.end()});
  }
  return out;
}

class RecoveryTest : public store_fixture {
 protected:
  // A store over the test's directory whose segments are numbered after the existing ones.
  std::unique_ptr<message_store> open_store(std::size_t segment_size = 64 << 20) {
    directory.segment_size = segment_size;
    return std::make_unique<message_store>(directory, writer);
  }

  // Logs seqs 1..last of queue ("/", "q") through a store of its own, written and closed.
  std::vector<disk_location> log_queue(std::uint64_t last, std::size_t size = 0, std::size_t segment_size = 64 << 20) {
    auto s = open_store(segment_size);
    const auto q = s->attach_queue("/", "q", 1);
    auto locs = publish(*s, q, "q", 1, last, size);
    EXPECT_TRUE(s->flush_blocking());
    return locs;
  }

  unused_writer writer;
};

TEST_F(RecoveryTest, AMissingDirectoryIsCreatedAndHoldsNothing) {
  const auto missing = tmp.path / "not" / "there";
  auto r = recovery::scan(missing);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(fs::is_directory(missing));
  EXPECT_TRUE(r->queues().empty());
  EXPECT_EQ(r->highest_segment(), 0u);
  EXPECT_EQ(r->stats().segments, 0u);
}

TEST_F(RecoveryTest, LiveMessagesComeBackPerQueueInSeqOrder) {
  {
    auto s = open_store();
    const auto a = s->attach_queue("/", "a", 1);
    const auto b = s->attach_queue("/", "b", 1);
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
      (void)s->append_publish(a, seq, *make_message(body_for("a", seq)));
      if (seq <= 3) (void)s->append_publish(b, seq, *make_message(body_for("b", seq), "amq.fanout", "key-b"));
    }
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->queues().size(), 2u);
  EXPECT_EQ(messages_of(*r, "/", "a"), expect_seqs("a", {1, 2, 3, 4, 5}));
  EXPECT_EQ(messages_of(*r, "/", "b"), expect_seqs("b", {1, 2, 3}));
  const recovered_queue* b = find_queue(*r, "/", "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->incarnation, 1u);
  const publish_fields f = r->fields(b->messages[1]);
  EXPECT_EQ(f.seq, 2u);
  EXPECT_EQ(f.exchange, "amq.fanout");
  EXPECT_EQ(f.routing_key, "key-b");
  EXPECT_EQ(text(f.properties), properties);
  EXPECT_EQ(r->stats().cut_segments, 0u);
}

TEST_F(RecoveryTest, MessagesSpreadOverSegmentsComeBackInOrder) {
  {
    auto s = open_store(4096);
    const auto a = s->attach_queue("/", "a", 1);
    const auto b = s->attach_queue("/", "b", 1);
    for (std::uint64_t seq = 1; seq <= 20; ++seq) {
      (void)s->append_publish(a, seq, *make_message(body_for("a", seq, 700)));
      (void)s->append_publish(b, seq, *make_message(body_for("b", seq, 300)));
    }
    ASSERT_TRUE(s->flush_blocking());
    EXPECT_GT(s->segment_count(), 3u);
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  const auto a = messages_of(*r, "/", "a");
  const auto b = messages_of(*r, "/", "b");
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (std::uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(a[i], (seen{i + 1, body_for("a", i + 1, 700), false}));
    EXPECT_EQ(b[i], (seen{i + 1, body_for("b", i + 1, 300), false}));
  }
  EXPECT_EQ(r->stats().segments, segment_files().size());
}

TEST_F(RecoveryTest, AckedMessagesAreGone) {
  {
    auto s = open_store();
    const auto one = s->attach_queue("/", "one", 1);
    const auto many = s->attach_queue("/", "many", 1);
    const auto shuffled = s->attach_queue("/", "shuffled", 1);
    const auto overlap = s->attach_queue("/", "overlap", 1);
    publish(*s, one, "one", 1, 6);
    publish(*s, many, "many", 1, 10);
    publish(*s, shuffled, "shuffled", 1, 10);
    publish(*s, overlap, "overlap", 1, 10);
    s->append_range(record_type::ack, one, 2, 2);
    s->append_range(record_type::ack, many, 1, 1);
    s->append_range(record_type::ack, many, 5, 2);
    s->append_range(record_type::ack, many, 9, 1);
    s->append_range(record_type::ack, shuffled, 8, 3);  // newest first, as settle() logs them
    s->append_range(record_type::ack, shuffled, 4, 1);
    s->append_range(record_type::ack, shuffled, 1, 2);
    s->append_range(record_type::ack, overlap, 2, 5);
    s->append_range(record_type::ack, overlap, 3, 2);
    s->append_range(record_type::ack, overlap, 6, 3);
    s->append_range(record_type::ack, overlap, 1, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "one"), expect_seqs("one", {1, 4, 5, 6}));
  EXPECT_EQ(messages_of(*r, "/", "many"), expect_seqs("many", {2, 3, 4, 7, 8, 10}));
  EXPECT_EQ(messages_of(*r, "/", "shuffled"), expect_seqs("shuffled", {3, 5, 6, 7}));
  EXPECT_EQ(messages_of(*r, "/", "overlap"), expect_seqs("overlap", {9, 10}));
}

TEST_F(RecoveryTest, AQueueWithEverythingAckedIsNotListed) {
  {
    auto s = open_store();
    const auto a = s->attach_queue("/", "a", 1);
    const auto b = s->attach_queue("/", "b", 1);
    publish(*s, a, "a", 1, 3);
    publish(*s, b, "b", 1, 3);
    s->append_range(record_type::ack, a, 1, 3);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(find_queue(*r, "/", "a"), nullptr);
  EXPECT_EQ(messages_of(*r, "/", "b"), expect_seqs("b", {1, 2, 3}));
}

TEST_F(RecoveryTest, AnAckInALaterSegmentApplies) {
  {
    auto s = open_store(4096);
    const auto a = s->attach_queue("/", "a", 1);
    const auto locs = publish(*s, a, "a", 1, 12, 900);
    ASSERT_NE(locs.front().segment, locs.back().segment);
    s->append_range(record_type::ack, a, 1, 4);
    s->append_range(record_type::delivered, a, 5, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  const auto got = messages_of(*r, "/", "a");
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(got.front().seq, 5u);
  EXPECT_TRUE(got.front().delivered);
  EXPECT_FALSE(got[1].delivered);
}

TEST_F(RecoveryTest, AnAckOfAnotherQueueDoesNotApply) {
  {
    auto s = open_store();
    const auto a = s->attach_queue("/", "a", 1);
    const auto b = s->attach_queue("/", "b", 1);
    const auto a_in_vhost = s->attach_queue("/other", "a", 1);
    publish(*s, a, "a", 1, 3);
    publish(*s, b, "b", 1, 3);
    publish(*s, a_in_vhost, "a", 1, 3);
    s->append_range(record_type::ack, b, 1, 3);
    s->append_range(record_type::ack, a_in_vhost, 2, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "a"), expect_seqs("a", {1, 2, 3}));
  EXPECT_EQ(messages_of(*r, "/other", "a"), expect_seqs("a", {1, 3}));
  EXPECT_EQ(find_queue(*r, "/", "b"), nullptr);
}

TEST_F(RecoveryTest, DeliveredMarksComeBack) {
  {
    auto s = open_store();
    const auto a = s->attach_queue("/", "a", 1);
    publish(*s, a, "a", 1, 10);
    s->append_range(record_type::delivered, a, 2, 2);
    s->append_range(record_type::delivered, a, 7, 1);
    s->append_range(record_type::delivered, a, 3, 2);  // overlaps the first
    s->append_range(record_type::delivered, a, 9, 2);
    s->append_range(record_type::ack, a, 9, 1);  // delivered, then acked: gone
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "a"), expect_seqs("a", {1, 2, 3, 4, 5, 6, 7, 8, 10}, {2, 3, 4, 7, 10}));
}

TEST_F(RecoveryTest, EachIncarnationOfAQueueIsRecoveredApart) {
  {
    auto s = open_store();
    // Logged in either order, under one name: the definitions file says which one exists.
    const auto newer = s->attach_queue("/", "q", 9);
    const auto older = s->attach_queue("/", "q", 5);
    publish(*s, older, "old", 1, 3);
    publish(*s, newer, "q", 1, 2);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->queues().size(), 2u);
  std::map<std::uint64_t, std::size_t> counts;
  for (const auto& q : r->queues()) {
    EXPECT_EQ(q.name, "q");
    counts[q.incarnation] = q.messages.size();
  }
  EXPECT_EQ(counts, (std::map<std::uint64_t, std::size_t>{{5, 3}, {9, 2}}));
}

TEST_F(RecoveryTest, AnIncarnationWithNothingLiveIsNotListed) {
  {
    auto s = open_store();
    const auto older = s->attach_queue("/", "q", 5);
    publish(*s, older, "q", 1, 3);
    s->detach_queue(older);
    const auto newer = s->attach_queue("/", "q", 6);
    publish(*s, newer, "q", 1, 1);
    s->append_range(record_type::ack, newer, 1, 1);
    // The same name in another vhost is another queue.
    const auto elsewhere = s->attach_queue("/v2", "q", 1);
    publish(*s, elsewhere, "q", 1, 2);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  for (const auto& q : r->queues()) EXPECT_NE(q.incarnation, 6u);
  const recovered_queue* older = find_queue(*r, "/", "q");
  ASSERT_NE(older, nullptr);
  EXPECT_EQ(older->incarnation, 5u);
  EXPECT_EQ(messages_of(*r, "/v2", "q"), expect_seqs("q", {1, 2}));
}

TEST_F(RecoveryTest, MessagesLoggedTwiceByAnInterruptedRecoveryComeBackOnce) {
  {
    auto s = open_store();
    const auto q = s->attach_queue("/", "q", 7);
    publish(*s, q, "q", 1, 5);
    s->append_range(record_type::ack, q, 2, 1);
    s->append_range(record_type::delivered, q, 4, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  // A recovery logs the live messages again in the new run's store, then crashes before it
  // removes the old segments.
  for (int round = 0; round < 2; ++round) {
    auto r = scan();
    ASSERT_TRUE(r.has_value());
    directory.next_segment.store(r->highest_segment() + 1);
    auto s = open_store();
    const recovered_queue* found = find_queue(*r, "/", "q");
    ASSERT_NE(found, nullptr);
    const auto q = s->attach_queue("/", "q", found->incarnation);
    // The second time round, the crash comes after only the first message was copied.
    const std::size_t copied = round == 0 ? found->messages.size() : 1;
    for (std::size_t i = 0; i < copied; ++i) (void)s->append_publish(q, r->fields(found->messages[i]));
    ASSERT_TRUE(s->flush_blocking());
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "q"), expect_seqs("q", {1, 3, 4, 5}, {4}));

  // An ack logged in the new run applies to every copy.
  {
    directory.next_segment.store(r->highest_segment() + 1);
    auto s = open_store();
    const auto q = s->attach_queue("/", "q", 7);
    s->append_range(record_type::ack, q, 3, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  auto again = scan();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(messages_of(*again, "/", "q"), expect_seqs("q", {1, 4, 5}, {4}));
}

TEST_F(RecoveryTest, ATornTailIsCutOffAndTheIntactRecordsComeBack) {
  const auto locs = log_queue(5, 100);
  const auto path = directory.file(locs.back().segment);
  fs::resize_file(path, locs[4].offset + 30);  // the last record is cut short
  {
    auto r = scan();
    ASSERT_TRUE(r.has_value());
    const auto got = messages_of(*r, "/", "q");
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got.back(), (seen{4, body_for("q", 4, 100), false}));
    EXPECT_EQ(r->stats().cut_segments, 1u);
  }
  EXPECT_EQ(fs::file_size(path), locs[4].offset);
  // Cut once, the file now reads cleanly.
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "q").size(), 4u);
  EXPECT_EQ(r->stats().cut_segments, 0u);
}

TEST_F(RecoveryTest, EveryTruncationOfTheLastSegmentKeepsTheWholeRecordsBeforeIt) {
  const auto locs = log_queue(3);
  const auto path = directory.file(locs.front().segment);
  const auto original = file_bytes(path);
  // One warning per cut, hundreds of them: kept out of the test's output.
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::err);
  struct restore_level {
    spdlog::level::level_enum level;
    ~restore_level() { spdlog::set_level(level); }
  } restore{level};
  // Where each record ends: the queue record before the first message, then the messages.
  std::vector<std::size_t> ends = {locs[0].offset, locs[1].offset, locs[2].offset, original.size()};
  for (std::size_t cut = 0; cut <= original.size(); ++cut) {
    write_file(path, std::vector<std::byte>(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(cut)));
    auto r = scan();
    ASSERT_TRUE(r.has_value());
    std::size_t whole = 0;  // whole records, queue record included
    for (const std::size_t end : ends) whole += end <= cut ? 1 : 0;
    const std::size_t messages = whole == 0 ? 0 : whole - 1;
    const auto got = messages_of(*r, "/", "q");
    ASSERT_EQ(got.size(), messages) << "cut at " << cut;
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].body, body_for("q", i + 1)) << "cut at " << cut;
    const std::size_t kept = whole == 0 ? 0 : ends[whole - 1];
    EXPECT_EQ(fs::file_size(path), kept) << "cut at " << cut;
    EXPECT_EQ(r->stats().cut_segments, kept == cut ? 0u : 1u) << "cut at " << cut;
  }
}

TEST_F(RecoveryTest, AFlippedByteCutsFromItsRecordOn) {
  std::vector<disk_location> locs;
  {
    auto s = open_store();
    const auto q = s->attach_queue("/", "q", 1);
    locs = publish(*s, q, "q", 1, 5, 50);
    // Records after the damage are lost with it, this ack among them.
    s->append_range(record_type::ack, q, 1, 1);
    ASSERT_TRUE(s->flush_blocking());
  }
  const auto path = directory.file(locs[2].segment);
  auto bytes = file_bytes(path);
  bytes[locs[2].offset + 40] ^= std::byte{0x20};
  write_file(path, bytes);

  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "q"), (std::vector<seen>{{1, body_for("q", 1, 50), false}, {2, body_for("q", 2, 50), false}}));
  EXPECT_EQ(r->stats().cut_segments, 1u);
  EXPECT_EQ(fs::file_size(path), locs[2].offset);
}

TEST_F(RecoveryTest, DamageInAnEarlierSegmentDoesNotStopTheLaterOnes) {
  const auto locs = log_queue(12, 900, 4096);
  ASSERT_EQ(locs[0].segment, locs[1].segment);
  const auto path = directory.file(locs[1].segment);
  auto bytes = file_bytes(path);
  bytes[locs[1].offset + 100] ^= std::byte{0xff};
  write_file(path, bytes);

  auto r = scan();
  ASSERT_TRUE(r.has_value());
  std::vector<std::uint64_t> expected;
  for (std::uint64_t seq = 1; seq <= 12; ++seq) {
    const auto& l = locs[seq - 1];
    if (l.segment != locs[1].segment || l.offset < locs[1].offset) expected.push_back(seq);
  }
  std::vector<std::uint64_t> got;
  for (const auto& m : messages_of(*r, "/", "q")) got.push_back(m.seq);
  EXPECT_EQ(got, expected);
  EXPECT_GT(got.size(), 2u);
  EXPECT_EQ(r->stats().cut_segments, 1u);
}

TEST_F(RecoveryTest, EmptyGarbageAndZeroFilledFilesGiveNothingAndAreCut) {
  const auto locs = log_queue(2);
  const auto real = directory.file(locs[0].segment);
  const std::size_t real_size = fs::file_size(real);
  // A crash after the file was made, and preallocated space never written.
  std::ofstream(directory.file(50)).flush();
  std::vector<std::byte> garbage(5000);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::byte>((i * 131 + 17) & 0xff);
  write_file(directory.file(51), garbage);
  auto zero_tailed = file_bytes(real);
  zero_tailed.resize(zero_tailed.size() + 4096, std::byte{0});
  write_file(real, zero_tailed);

  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(messages_of(*r, "/", "q"), expect_seqs("q", {1, 2}));
  EXPECT_EQ(r->highest_segment(), 51u);
  EXPECT_EQ(r->stats().segments, 3u);
  EXPECT_EQ(r->stats().cut_segments, 2u);  // the garbage and the zeros; an empty file is clean
  EXPECT_EQ(fs::file_size(directory.file(50)), 0u);
  EXPECT_EQ(fs::file_size(directory.file(51)), 0u);
  EXPECT_EQ(fs::file_size(real), real_size);
}

// Builds a record with a valid checksum around any payload.
std::vector<std::byte> sealed_record(std::vector<std::byte> payload) {
  std::vector<std::byte> out(record_header_size + payload.size());
  std::copy(payload.begin(), payload.end(), out.begin() + record_header_size);
  amqp::detail::store_be(out.data() + 4, static_cast<std::uint32_t>(payload.size()));
  amqp::detail::store_be(out.data(), static_cast<std::uint32_t>(XXH3_64bits(out.data() + 4, out.size() - 4)));
  return out;
}

TEST_F(RecoveryTest, RecordsThatCheckButMakeNoSenseCutTheSegment) {
  const std::string body = "hello";
  // A publish whose ref no queue record of its segment names.
  std::vector<std::byte> orphan;
  append_record(orphan, queue_fields{1, 1, "/", "q"});
  append_record(orphan, publish_fields{1, 1, "", "q", {}, amqp::as_bytes(body), {}, 0});
  const std::size_t orphan_at = orphan.size();
  append_record(orphan, publish_fields{2, 1, "", "q", {}, amqp::as_bytes(body), {}, 0});
  append_record(orphan, publish_fields{1, 2, "", "q", {}, amqp::as_bytes(body), {}, 0});
  write_file(directory.file(1), orphan);
  // A record type nobody writes.
  std::vector<std::byte> unknown;
  append_record(unknown, queue_fields{1, 1, "/", "u"});
  append_record(unknown, publish_fields{1, 1, "", "u", {}, amqp::as_bytes(body), {}, 0});
  const std::size_t unknown_at = unknown.size();
  const auto odd = sealed_record({std::byte{9}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}});
  unknown.insert(unknown.end(), odd.begin(), odd.end());
  append_record(unknown, publish_fields{1, 2, "", "u", {}, amqp::as_bytes(body), {}, 0});
  write_file(directory.file(2), unknown);
  // An ack whose fields do not parse.
  std::vector<std::byte> short_ack;
  append_record(short_ack, queue_fields{1, 1, "/", "s"});
  append_record(short_ack, publish_fields{1, 1, "", "s", {}, amqp::as_bytes(body), {}, 0});
  const std::size_t short_at = short_ack.size();
  const auto bad = sealed_record({std::byte{3}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0}});
  short_ack.insert(short_ack.end(), bad.begin(), bad.end());
  write_file(directory.file(3), short_ack);

  auto r = scan();
  ASSERT_TRUE(r.has_value());
  for (const char* name : {"q", "u", "s"}) {
    const auto got = messages_of(*r, "/", name);
    ASSERT_EQ(got.size(), 1u) << name;
    EXPECT_EQ(got[0].seq, 1u);
  }
  EXPECT_EQ(r->stats().cut_segments, 3u);
  EXPECT_EQ(fs::file_size(directory.file(1)), orphan_at);
  EXPECT_EQ(fs::file_size(directory.file(2)), unknown_at);
  EXPECT_EQ(fs::file_size(directory.file(3)), short_at);
}

TEST_F(RecoveryTest, OnlyNumberedSegmentFilesAreScannedAndRemoved) {
  directory.next_segment.store(7);
  log_queue(1);
  std::ofstream(directory.file(3)).flush();  // an empty segment
  for (const char* other : {"notes.txt", "abc.seg", "0.seg", "12.seg.tmp", "99999999999.seg"}) {
    std::ofstream(directory.path / other) << "not a segment";
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->highest_segment(), 7u);
  EXPECT_EQ(r->stats().segments, 2u);
  EXPECT_EQ(r->stats().cut_segments, 0u);
  EXPECT_EQ(messages_of(*r, "/", "q"), expect_seqs("q", {1}));

  ASSERT_TRUE(remove_all_segments(*r));
  EXPECT_FALSE(fs::exists(directory.file(3)));
  EXPECT_FALSE(fs::exists(directory.file(7)));
  for (const char* other : {"notes.txt", "abc.seg", "0.seg", "12.seg.tmp", "99999999999.seg"}) {
    EXPECT_TRUE(fs::exists(directory.path / other)) << other;
    EXPECT_EQ(fs::file_size(directory.path / other), 13u) << other;  // and untouched
  }
  // The recovered list stays; the fields of the removed files are gone with their mappings.
  ASSERT_NE(find_queue(*r, "/", "q"), nullptr);
  EXPECT_EQ(find_queue(*r, "/", "q")->messages.size(), 1u);
}

TEST_F(RecoveryTest, StatsCountSegmentsBytesAndRecords) {
  {
    auto s = open_store(4096);
    const auto q = s->attach_queue("/", "q", 1);
    publish(*s, q, "q", 1, 10, 900);
    s->append_range(record_type::ack, q, 1, 2);
    ASSERT_TRUE(s->flush_blocking());
  }
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  for (const auto& p : segment_files()) {
    const auto content = file_bytes(p);
    bytes += content.size();
    amqp::bytes_view rest(content);
    record_view rec;
    while (read_record(rest, rec) == scan_status::record) {
      ++records;
      rest = rest.subspan(rec.size);
    }
  }
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->stats().segments, segment_files().size());
  EXPECT_EQ(r->stats().bytes, bytes);
  EXPECT_EQ(r->stats().records, records);
  EXPECT_GE(records, 10u + 1u + segment_files().size());  // messages, the ack, a queue record per segment
}

TEST_F(RecoveryTest, AMovedRecoveryKeepsItsMessagesReadable) {
  log_queue(3);
  auto r = scan();
  ASSERT_TRUE(r.has_value());
  recovery moved(std::move(*r));
  EXPECT_EQ(messages_of(moved, "/", "q"), expect_seqs("q", {1, 2, 3}));
}

// The mappings of the scanned segments that name `dir`, from /proc/self/maps.
std::size_t mappings_under(const fs::path& dir) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t n = 0;
  while (std::getline(maps, line)) {
    if (line.find(dir.string()) != std::string::npos) ++n;
  }
  return n;
}

TEST_F(RecoveryTest, EveryMappingGoesWithTheRecoveryEvenOfACutSegment) {
  // A cut segment is unmapped whole, not only up to the cut (munmap of the cut size once left
  // the rest mapped, and all of a segment cut to nothing).
  const auto locs = log_queue(6, 3000);  // several pages
  const auto torn = directory.file(locs[0].segment);
  // The second record, torn: the cut falls in the first page, the file ends in the second.
  fs::resize_file(torn, locs[1].offset + 2000);
  ASSERT_LT(locs[1].offset, 4096u);
  ASSERT_GT(locs[1].offset + 2000, 4096u);
  std::vector<std::byte> garbage(3 * 4096, std::byte{0x5a});
  write_file(directory.file(90), garbage);  // cut to nothing
  {
    auto r = scan();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->stats().cut_segments, 2u);
    EXPECT_EQ(messages_of(*r, "/", "q").size(), 1u);
  }
  EXPECT_EQ(mappings_under(directory.path), 0u);
}

}  // namespace
}  // namespace haremq::engine::store
