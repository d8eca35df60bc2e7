// Covers: group commit (a batch is one write; appends during an in-flight write go into the
// next batch, which waits for flush(); filling_batch/durable_batch and the confirm rule; a
// batch that spans two segments is durable only once both parts are written), is_written,
// short writes and write errors (failing() set, flush() holds off, retry() resumes where the
// write stopped, appends go on meanwhile, and the file afterwards recovers every message),
// a segment that cannot be created, segments rolled at segment_size, segments deleted
// oldest-first once every message in them and in older ones is released (checked on disk,
// including an empty segment deleted as soon as it is sealed, and one kept until its bytes are
// written), read() of stored messages (small, around the 4096-byte first read, large),
// flush_blocking (in place, and after a short write), live_messages, segment file names.
// Not yet: fdatasync failures (no portable way to make them fail), two stores sharing one
// segment_directory from two threads.
#include "engine/store/message_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "tests/engine/store/store_test_support.h"

namespace haremq::engine::store {
namespace {

namespace fs = std::filesystem;
using namespace test;

// The bodies publish() gives seqs first..last of queue "q".
std::vector<std::string> bodies_for(std::uint64_t first, std::uint64_t last, std::size_t size) {
  std::vector<std::string> out;
  for (std::uint64_t seq = first; seq <= last; ++seq) out.push_back(body_for("q", seq, size));
  return out;
}

class MessageStoreTest : public store_fixture {
 protected:
  std::vector<std::uint32_t> segments_on_disk() const {
    std::vector<std::uint32_t> out;
    for (const auto& p : segment_files()) out.push_back(static_cast<std::uint32_t>(std::stoul(p.stem().string())));
    return out;
  }

  // The bodies a recovery of the directory finds for queue ("/", "q").
  std::vector<std::string> recovered_bodies(std::uint64_t incarnation = 1) const {
    std::vector<std::string> out;
    for (const auto& m : recovered("q", incarnation)) out.push_back(m.body);
    return out;
  }
};

TEST_F(MessageStoreTest, SegmentFilesAreNamedByTheirNumber) {
  EXPECT_EQ(directory.file(1), directory.path / "0000000001.seg");
  EXPECT_EQ(directory.file(4294967295u), directory.path / "4294967295.seg");
}

TEST_F(MessageStoreTest, AppendedMessageIsWrittenOnlyWhenItsWriteCompletes) {
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto loc = store.append_publish(q, 1, *make_message("hello"));
  ASSERT_TRUE(loc);
  EXPECT_FALSE(store.is_written(loc));
  EXPECT_FALSE(store.idle());
  EXPECT_TRUE(writer.requests.empty());  // nothing goes before flush()

  store.flush();
  ASSERT_EQ(writer.requests.size(), 1u);
  EXPECT_EQ(writer.requests[0].offset, 0u);
  EXPECT_FALSE(store.is_written(loc));  // in flight is not written
  ASSERT_TRUE(writer.finish());
  EXPECT_TRUE(store.is_written(loc));
  EXPECT_TRUE(store.idle());
}

TEST_F(MessageStoreTest, ConfirmWaitsForTheBatchThatHoldsTheMessage) {
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);

  const std::uint64_t first_batch = store.filling_batch();
  const auto a = store.append_publish(q, 1, *make_message("a"));
  store.flush();
  EXPECT_LT(store.durable_batch(), first_batch);

  // The write is in flight: what is appended now belongs to the next batch.
  const std::uint64_t second_batch = store.filling_batch();
  EXPECT_GT(second_batch, first_batch);
  const auto b = store.append_publish(q, 2, *make_message("b"));
  store.flush();  // one write at a time
  EXPECT_EQ(writer.requests.size(), 1u);

  ASSERT_TRUE(writer.finish());
  EXPECT_GE(store.durable_batch(), first_batch);
  EXPECT_LT(store.durable_batch(), second_batch);
  EXPECT_TRUE(store.is_written(a));
  EXPECT_FALSE(store.is_written(b));
  // The next batch waits for the turn's end (flush), not for the previous write.
  EXPECT_EQ(writer.requests.size(), 1u);

  store.flush();
  ASSERT_EQ(writer.requests.size(), 2u);
  EXPECT_EQ(writer.requests[1].offset, writer.requests[0].offset + writer.requests[0].bytes.size());
  ASSERT_TRUE(writer.finish());
  EXPECT_GE(store.durable_batch(), second_batch);
  EXPECT_TRUE(store.is_written(b));
  EXPECT_EQ(recovered_bodies(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(MessageStoreTest, OneWriteCarriesAWholeBatch) {
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  std::size_t expected = 0;
  {
    std::vector<std::byte> queue_record;
    append_record(queue_record, queue_fields{q, 1, "/", "q"});
    expected += queue_record.size();
  }
  std::vector<disk_location> locs;
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    const auto m = make_message(body_for("q", seq, 100));
    expected += record_size(publish_fields{q, seq, m->exchange(), m->routing_key(), m->properties(), m->body(), {}, 0});
    locs.push_back(store.append_publish(q, seq, *m));
  }
  store.append_range(record_type::ack, q, 1, 5);
  std::vector<std::byte> ack;
  append_record(ack, record_type::ack, range_fields{q, 1, 5});
  expected += ack.size();

  store.flush();
  ASSERT_EQ(writer.requests.size(), 1u);
  EXPECT_EQ(writer.requests[0].bytes.size(), expected);
  ASSERT_TRUE(writer.finish());
  for (const auto& loc : locs) EXPECT_TRUE(store.is_written(loc));
  const auto bodies = recovered_bodies();
  ASSERT_EQ(bodies.size(), 15u);
  EXPECT_EQ(bodies.front(), body_for("q", 6, 100));
}

TEST_F(MessageStoreTest, ABatchThatSpansTwoSegmentsIsDurableOnlyOnceBothAreWritten) {
  directory.segment_size = 4096;
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const std::uint64_t batch = store.filling_batch();
  const auto locs = publish(store, q, "q", 1, 3, 1500);
  ASSERT_EQ(locs[0].segment, locs[1].segment);
  ASSERT_NE(locs[1].segment, locs[2].segment);  // the third did not fit
  EXPECT_EQ(store.segment_count(), 2u);

  store.flush();
  ASSERT_EQ(writer.requests.size(), 1u);
  ASSERT_TRUE(writer.finish());
  EXPECT_TRUE(store.is_written(locs[1]));
  EXPECT_FALSE(store.is_written(locs[2]));
  EXPECT_LT(store.durable_batch(), batch);
  // The rest of the batch goes at once, to the other file.
  ASSERT_EQ(writer.requests.size(), 2u);
  EXPECT_NE(writer.requests[1].fd, writer.requests[0].fd);
  EXPECT_EQ(writer.requests[1].offset, 0u);
  ASSERT_TRUE(writer.finish());
  EXPECT_GE(store.durable_batch(), batch);
  EXPECT_TRUE(store.is_written(locs[2]));
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 3, 1500));
}

TEST_F(MessageStoreTest, AShortWriteSetsFailingAndRetryWritesTheRest) {
  {
    test_writer writer(completion::by_hand);
    test_store store(directory, writer);
    const auto q = store.attach_queue("/", "q", 1);
    const std::uint64_t batch = store.filling_batch();
    const auto locs = publish(store, q, "q", 1, 5, 200);
    store.flush();
    ASSERT_EQ(writer.requests.size(), 1u);
    const auto first = writer.requests[0];
    const std::size_t half = first.bytes.size() / 2;
    ASSERT_TRUE(writer.finish(half));
    EXPECT_TRUE(store.failing());
    EXPECT_LT(store.durable_batch(), batch);
    for (const auto& loc : locs) EXPECT_FALSE(store.is_written(loc));

    // Failing: flush() starts nothing, appends still go on.
    const auto late = publish(store, q, "q", 6, 6, 200).front();
    EXPECT_TRUE(late);
    store.flush();
    EXPECT_EQ(writer.requests.size(), 1u);

    store.retry();
    ASSERT_EQ(writer.requests.size(), 2u);
    EXPECT_EQ(writer.requests[1].offset, first.offset + half);
    EXPECT_EQ(writer.requests[1].bytes,
              std::vector<std::byte>(first.bytes.begin() + static_cast<std::ptrdiff_t>(half), first.bytes.end()));
    ASSERT_TRUE(writer.finish());
    EXPECT_FALSE(store.failing());
    EXPECT_GE(store.durable_batch(), batch);
    for (const auto& loc : locs) EXPECT_TRUE(store.is_written(loc));
    EXPECT_FALSE(store.is_written(late));

    store.flush();
    ASSERT_TRUE(writer.finish());
    EXPECT_TRUE(store.is_written(late));
    EXPECT_TRUE(store.idle());
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 6, 200));
}

TEST_F(MessageStoreTest, AWriteErrorLosesNothingOnceRetrySucceeds) {
  {
    test_writer writer(completion::by_hand);
    test_store store(directory, writer);
    const auto q = store.attach_queue("/", "q", 1);
    publish(store, q, "q", 1, 3, 300);
    store.flush();
    const auto first = writer.current();
    ASSERT_TRUE(writer.finish(0, std::make_error_code(std::errc::no_space_on_device)));
    EXPECT_TRUE(store.failing());

    // Failing again (partly written this time) keeps it failing; after an error each retry
    // writes the whole chunk again (a failed sync may have left pages that never reached the disk).
    store.retry();
    ASSERT_EQ(writer.requests.size(), 2u);
    EXPECT_EQ(writer.requests[1].offset, first.offset);
    EXPECT_EQ(writer.requests[1].bytes, first.bytes);
    ASSERT_TRUE(writer.finish(10, std::make_error_code(std::errc::io_error)));
    EXPECT_TRUE(store.failing());
    store.retry();
    ASSERT_EQ(writer.requests.size(), 3u);
    EXPECT_EQ(writer.requests[2].offset, first.offset);
    EXPECT_EQ(writer.requests[2].bytes, first.bytes);
    ASSERT_TRUE(writer.finish());
    EXPECT_FALSE(store.failing());
    EXPECT_TRUE(store.idle());
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 3, 300));
}

TEST_F(MessageStoreTest, FlushBlockingFinishesAWriteThatStoppedShort) {
  {
    test_writer writer(completion::by_hand);
    test_store store(directory, writer);
    const auto q = store.attach_queue("/", "q", 1);
    publish(store, q, "q", 1, 4, 500);
    store.flush();
    ASSERT_TRUE(writer.finish(77));
    ASSERT_TRUE(store.failing());
    EXPECT_TRUE(store.flush_blocking());
    EXPECT_FALSE(store.failing());
    EXPECT_TRUE(store.idle());
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 4, 500));
}

TEST_F(MessageStoreTest, ANextSegmentThatCannotBeCreatedLeavesTheCurrentOneGrowing) {
  directory.segment_size = 4096;
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  ASSERT_TRUE(store.open());
  // The next segment's name is taken: rolling over fails, and nothing is lost for it.
  std::ofstream(directory.file(directory.next_segment.load())) << "in the way";
  const auto q = store.attach_queue("/", "q", 1);
  std::vector<disk_location> locs;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) locs.push_back(store.append_publish(q, seq, *make_message(std::string(1000, 'x'))));
  for (const auto& loc : locs) EXPECT_TRUE(loc);
  EXPECT_FALSE(store.failing());
  store.flush();
  writer.finish_all();
  for (const auto& loc : locs) EXPECT_TRUE(store.read(loc));
  // Three records fill a segment: the fourth went past its size into the first segment, as
  // the roll-over failed; the fifth rolled over, the next try succeeding.
  EXPECT_EQ(locs[3].segment, locs[0].segment);
  EXPECT_GT(locs[3].offset + 1000u, directory.segment_size);
  EXPECT_NE(locs[4].segment, locs[0].segment);
}

TEST_F(MessageStoreTest, ASegmentThatCannotBeCreatedLeavesTheMessageTransientUntilRetry) {
  // The next segment's name is taken: creating it fails.
  std::ofstream(directory.file(1)) << "in the way";
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto lost = store.append_publish(q, 1, *make_message("x"));
  EXPECT_FALSE(lost);
  EXPECT_TRUE(store.failing());
  EXPECT_EQ(store.segment_count(), 0u);
  EXPECT_EQ(store.live_messages(), 0u);

  store.retry();
  EXPECT_FALSE(store.failing());
  const auto loc = store.append_publish(q, 2, *make_message("y"));
  ASSERT_TRUE(loc);
  EXPECT_NE(loc.segment, 1u);
  store.flush();
  ASSERT_TRUE(writer.finish());
  EXPECT_TRUE(store.is_written(loc));
}

TEST_F(MessageStoreTest, SegmentsRollAtSegmentSize) {
  directory.segment_size = 4096;
  test_writer writer;
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  std::size_t record = 0;
  for (std::uint64_t seq = 1; seq <= 30; ++seq) {
    const auto m = make_message(body_for("q", seq, 950));
    record = record_size(publish_fields{q, seq, m->exchange(), m->routing_key(), m->properties(), m->body(), {}, 0});
    (void)store.append_publish(q, seq, *m);
    if (seq % 7 == 0) store.flush();
  }
  store.flush();
  ASSERT_TRUE(store.idle());

  const auto segments = segments_on_disk();
  EXPECT_GE(segments.size(), 30 * record / 4096);
  EXPECT_EQ(segments.size(), store.segment_count());
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto size = fs::file_size(directory.file(segments[i]));
    EXPECT_LE(size, 4096u) << segments[i];
    // A segment is closed only when the next record would not fit.
    if (i + 1 < segments.size()) {
      EXPECT_GT(size + record, 4096u) << segments[i];
    }
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 30, 950));
}

// A message larger than a whole segment gets a segment of its own. (The broker allows
// messages up to 128 MiB and segments of 64 MiB by default, 4 KiB at least.)
TEST_F(MessageStoreTest, AMessageLargerThanASegmentIsStoredInOneSegment) {
  // A record larger than a segment goes alone into one new segment (it once opened new ones
  // forever). The segment names taken below would stop such a loop, so it fails, not hangs.
  directory.segment_size = 4096;
  for (std::uint32_t n = 6; n <= 8; ++n) std::ofstream(directory.file(n)) << "in the way";
  test_writer writer;
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const std::string big = body_for("q", 1, 5000);
  const auto loc = store.append_publish(q, 1, *make_message(big));
  EXPECT_TRUE(loc);
  EXPECT_FALSE(store.failing());
  EXPECT_LE(store.segment_count(), 2u);
  const auto small = store.append_publish(q, 2, *make_message("small"));
  EXPECT_TRUE(small);
  EXPECT_TRUE(store.flush_blocking());
  if (loc) {
    const auto m = store.read(loc);
    ASSERT_TRUE(m);
    EXPECT_EQ(text(m->body()), big);
  }
}

TEST_F(MessageStoreTest, SegmentsAreDeletedOldestFirstOnceAllTheirMessagesAreReleased) {
  directory.segment_size = 4096;
  test_writer writer;
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto locs = publish(store, q, "q", 1, 12, 950);
  store.flush();
  ASSERT_TRUE(store.idle());
  std::vector<std::uint32_t> used;
  for (const auto& l : locs) {
    if (used.empty() || used.back() != l.segment) used.push_back(l.segment);
  }
  ASSERT_GE(used.size(), 3u);
  ASSERT_EQ(segments_on_disk(), used);
  EXPECT_EQ(store.live_messages(), 12u);

  auto release_segment = [&](std::uint32_t segment) {
    for (const auto& l : locs) {
      if (l.segment == segment) store.release(l);
    }
  };
  // The second segment is empty, but the first still holds messages: both stay.
  release_segment(used[1]);
  EXPECT_EQ(segments_on_disk(), used);
  // Now the first goes, and the second with it.
  for (const auto& l : locs) {
    if (l.segment != used[0]) continue;
    EXPECT_TRUE(fs::exists(directory.file(used[0])));
    store.release(l);
  }
  EXPECT_FALSE(fs::exists(directory.file(used[0])));
  EXPECT_FALSE(fs::exists(directory.file(used[1])));
  EXPECT_EQ(store.segment_count(), used.size() - 2);
  // The messages still held keep theirs, and reading them still works.
  const auto m = store.read(locs.back());
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->body()), body_for("q", 12, 950));
}

TEST_F(MessageStoreTest, TheSegmentBeingFilledStaysEvenWhenEmptyAndGoesOnceSealed) {
  directory.segment_size = 4096;
  test_writer writer;
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto a = store.append_publish(q, 1, *make_message(body_for("q", 1, 1800)));
  store.flush();
  store.release(a);
  EXPECT_TRUE(fs::exists(directory.file(a.segment)));  // appends still go there
  const auto b = store.append_publish(q, 2, *make_message(body_for("q", 2, 1800)));
  EXPECT_EQ(b.segment, a.segment);
  store.release(b);
  store.flush();
  EXPECT_TRUE(fs::exists(directory.file(a.segment)));
  // The next one does not fit: the old segment is sealed, and goes.
  const auto c = store.append_publish(q, 3, *make_message(body_for("q", 3, 1800)));
  EXPECT_NE(c.segment, a.segment);
  store.flush();
  EXPECT_FALSE(fs::exists(directory.file(a.segment)));
  EXPECT_TRUE(fs::exists(directory.file(c.segment)));
  EXPECT_EQ(store.segment_count(), 1u);
  EXPECT_EQ(store.live_messages(), 1u);
}

TEST_F(MessageStoreTest, ASegmentIsNotDeletedBeforeItsBytesAreWritten) {
  directory.segment_size = 4096;
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto a = store.append_publish(q, 1, *make_message(body_for("q", 1, 3000)));
  const auto b = store.append_publish(q, 2, *make_message(body_for("q", 2, 3000)));
  ASSERT_NE(a.segment, b.segment);
  store.release(a);  // sealed and empty, but its bytes are not written yet
  EXPECT_TRUE(fs::exists(directory.file(a.segment)));
  EXPECT_EQ(store.segment_count(), 2u);
  store.flush();
  ASSERT_EQ(writer.requests.size(), 1u);
  EXPECT_TRUE(fs::exists(directory.file(a.segment)));  // in flight
  ASSERT_TRUE(writer.finish());
  EXPECT_FALSE(fs::exists(directory.file(a.segment)));
  ASSERT_TRUE(writer.finish());
  EXPECT_TRUE(store.is_written(b));
  EXPECT_EQ(recovered_bodies(), std::vector<std::string>{body_for("q", 2, 3000)});
}

TEST_F(MessageStoreTest, AcksInLaterSegmentsKeepReleasedMessagesFromComingBack) {
  directory.segment_size = 4096;
  {
    test_writer writer;
    test_store store(directory, writer);
    const auto q = store.attach_queue("/", "q", 1);
    const auto locs = publish(store, q, "q", 1, 12, 950);
    store.flush();
    // Acked from the middle first, then the head: two ack records, both after the messages.
    store.append_range(record_type::ack, q, 5, 4);
    for (std::size_t i = 4; i < 8; ++i) store.release(locs[i]);
    store.append_range(record_type::ack, q, 1, 4);
    for (std::size_t i = 0; i < 4; ++i) store.release(locs[i]);
    store.flush();
    EXPECT_EQ(store.live_messages(), 4u);
    EXPECT_FALSE(fs::exists(directory.file(locs[0].segment)));
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(9, 12, 950));
}

TEST_F(MessageStoreTest, ReadReturnsTheStoredMessageIntact) {
  directory.segment_size = 1 << 20;
  test_writer writer;
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  // Sizes around the 4096 bytes of the first read, a large one, and empty strings.
  const std::size_t empty_record = record_size(publish_fields{q, 1, "amq.topic", "a.b", amqp::as_bytes(properties), {}, {}, 0});
  struct sample {
    std::string exchange;
    std::string key;
    std::string body;
    disk_location loc;
  };
  std::vector<sample> samples = {
      {"amq.topic", "a.b", body_for("q", 1, 10), {}},
      {"amq.topic", "a.b", body_for("q", 2, 4095 - empty_record), {}},
      {"amq.topic", "a.b", body_for("q", 3, 4096 - empty_record), {}},
      {"amq.topic", "a.b", body_for("q", 4, 4097 - empty_record), {}},
      {"", "", "", {}},
      {"amq.topic", "a.b", body_for("q", 6, 200000), {}},
      {std::string(255, 'x'), std::string(255, 'y'), std::string("\0\1\2", 3), {}},
  };
  std::uint64_t seq = 0;
  for (auto& s : samples) s.loc = store.append_publish(q, ++seq, *make_message(s.body, s.exchange, s.key));
  store.flush();
  ASSERT_TRUE(store.idle());
  for (const auto& s : samples) {
    ASSERT_TRUE(store.is_written(s.loc));
    const auto m = store.read(s.loc);
    ASSERT_TRUE(m) << s.body.size();
    EXPECT_EQ(m->exchange(), s.exchange);
    EXPECT_EQ(m->routing_key(), s.key);
    EXPECT_EQ(text(m->properties()), properties);
    EXPECT_EQ(text(m->body()), s.body);
    EXPECT_EQ(m->body_size(), s.body.size());
    EXPECT_TRUE(m->complete());
    EXPECT_TRUE(m->persistent());
  }
}

TEST_F(MessageStoreTest, ReadingAMessageNotYetWrittenFails) {
  test_writer writer(completion::by_hand);
  test_store store(directory, writer);
  const auto q = store.attach_queue("/", "q", 1);
  const auto loc = store.append_publish(q, 1, *make_message("not yet"));
  EXPECT_FALSE(store.read(loc));
  store.flush();
  ASSERT_TRUE(writer.finish());
  const auto m = store.read(loc);
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->body()), "not yet");
}

TEST_F(MessageStoreTest, FlushBlockingWritesEverythingInPlace) {
  directory.segment_size = 4096;
  {
    test_writer writer(completion::by_hand);  // never asked: flush_blocking writes by itself
    test_store store(directory, writer);
    const auto q = store.attach_queue("/", "q", 1);
    const auto locs = publish(store, q, "q", 1, 10, 900);
    const std::uint64_t batch = store.filling_batch();
    EXPECT_TRUE(store.flush_blocking());
    EXPECT_TRUE(writer.requests.empty());
    EXPECT_TRUE(store.idle());
    EXPECT_FALSE(store.failing());
    EXPECT_GE(store.durable_batch(), batch);
    for (const auto& l : locs) EXPECT_TRUE(store.is_written(l));
    EXPECT_GT(store.segment_count(), 1u);
    // Nothing left: a second call does nothing and succeeds.
    EXPECT_TRUE(store.flush_blocking());
  }
  EXPECT_EQ(recovered_bodies(), bodies_for(1, 10, 900));
}

TEST_F(MessageStoreTest, QueuesKeepTheirOwnRefsAndIncarnations) {
  {
    test_writer writer;
    test_store store(directory, writer);
    const auto a = store.attach_queue("/", "q", 1);
    const auto b = store.attach_queue("/", "other", 2);
    const auto c = store.attach_queue("/", "q", 3);
    EXPECT_NE(a, b);
    EXPECT_NE(a, c);
    (void)store.append_publish(a, 1, *make_message("a1"));
    (void)store.append_publish(b, 1, *make_message("b1"));
    (void)store.append_publish(a, 2, *make_message("a2"));
    store.detach_queue(a);
    (void)store.append_publish(c, 1, *make_message("c1"));
    EXPECT_EQ(store.live_messages(), 4u);
    store.flush();
  }
  // Two incarnations of ("/", "q"), each with its own messages.
  EXPECT_EQ(recovered_bodies(3), std::vector<std::string>{"c1"});
  EXPECT_EQ(recovered_bodies(1), (std::vector<std::string>{"a1", "a2"}));
}

}  // namespace
}  // namespace haremq::engine::store
