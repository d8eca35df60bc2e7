#include "net/io/output_queue.h"

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <climits>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace haremq::io::detail {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

struct release_counter {
  int released = 0;
  keepalive keep() {
    return {this, [](void* owner) noexcept { ++static_cast<release_counter*>(owner)->released; }};
  }
};

// What next() offers, flattened.
std::string offered(std::span<const iovec> iov) {
  std::string s;
  for (const iovec& v : iov) s.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return s;
}

// Drains `q` as a kernel taking at most `step` bytes a send would.
std::string drain(output_queue& q, std::size_t step, std::size_t max_iov = IOV_MAX) {
  std::string out;
  for (int guard = 0; guard < 100000 && !q.empty(); ++guard) {
    const std::string chunk = offered(q.next(max_iov)).substr(0, step);
    out += chunk;
    q.advance(chunk.size());
  }
  return out;
}

TEST(OutputQueue, CoalescesCopiesIntoOneIovec) {
  output_queue q;
  q.append(bytes_of("abc"));
  q.append(bytes_of("def"));
  const auto iov = q.next(IOV_MAX);
  ASSERT_EQ(iov.size(), 1u);
  EXPECT_EQ(offered(iov), "abcdef");
  EXPECT_EQ(q.size(), 6u);
}

TEST(OutputQueue, KeepsCopiesAndExternalSegmentsInOrder) {
  output_queue q;
  release_counter r;
  const std::string external = "EXTERNAL";
  q.append(bytes_of("head-"));
  q.append_external(bytes_of(external), r.keep());
  q.append(bytes_of("-tail"));
  const auto iov = q.next(IOV_MAX);
  ASSERT_EQ(iov.size(), 3u);
  EXPECT_EQ(iov[1].iov_base, external.data());  // not copied
  EXPECT_EQ(offered(iov), "head-EXTERNAL-tail");
  q.advance(18);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(r.released, 1);
}

TEST(OutputQueue, PartialSendsResumeWhereTheyStoppedAtEverySize) {
  const std::string external = "0123456789";
  for (std::size_t step = 1; step <= 30; ++step) {
    output_queue q;
    release_counter r;
    q.append(bytes_of("ab"));
    q.append_external(bytes_of(external), r.keep());
    q.append(bytes_of("cd"));
    q.append_external(bytes_of(external), r.keep());
    EXPECT_EQ(drain(q, step), "ab0123456789cd0123456789") << "step " << step;
    EXPECT_EQ(r.released, 2) << "step " << step;
  }
}

TEST(OutputQueue, ReleasesAKeepaliveAsSoonAsItsSegmentIsSent) {
  output_queue q;
  release_counter first;
  release_counter second;
  q.append_external(bytes_of("aaaa"), first.keep());
  q.append_external(bytes_of("bbbb"), second.keep());
  (void)q.next(IOV_MAX);
  q.advance(3);
  EXPECT_EQ(first.released, 0);
  (void)q.next(IOV_MAX);
  q.advance(2);
  EXPECT_EQ(first.released, 1);
  EXPECT_EQ(second.released, 0);
  (void)q.next(IOV_MAX);
  q.advance(3);
  EXPECT_EQ(second.released, 1);
}

TEST(OutputQueue, WhatIsQueuedDuringASendGoesInTheNextOne) {
  output_queue q;
  q.append(bytes_of("first"));
  const auto in_flight = q.next(IOV_MAX);
  const void* base = in_flight[0].iov_base;
  q.append(bytes_of("second"));  // must not move the bytes in flight
  EXPECT_EQ(in_flight[0].iov_base, base);
  EXPECT_EQ(q.size(), 11u);
  q.advance(2);
  EXPECT_EQ(offered(q.next(IOV_MAX)), "rst");  // the rest of the frozen batch only
  q.advance(3);
  EXPECT_EQ(offered(q.next(IOV_MAX)), "second");
}

TEST(OutputQueue, OffersAtMostMaxIovAtOnce) {
  output_queue q;
  release_counter r;
  const std::string piece = "x";
  for (int i = 0; i < 10; ++i) q.append_external(bytes_of(piece), r.keep());
  EXPECT_EQ(q.next(4).size(), 4u);
  EXPECT_EQ(drain(q, 100, 4), std::string(10, 'x'));
  EXPECT_EQ(r.released, 10);
}

TEST(OutputQueue, ReserveAndCommitQueueOnlyWhatWasUsed) {
  output_queue q;
  q.append(bytes_of("<"));
  const std::span<std::byte> room = q.reserve(100);
  ASSERT_EQ(room.size(), 100u);
  std::memcpy(room.data(), "encoded", 7);
  q.commit(7);
  q.append(bytes_of(">"));
  EXPECT_EQ(offered(q.next(IOV_MAX)), "<encoded>");
}

TEST(OutputQueue, EmptyExternalIsReleasedAtOnce) {
  output_queue q;
  release_counter r;
  q.append_external({}, r.keep());
  EXPECT_EQ(r.released, 1);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.next(IOV_MAX).empty());
}

TEST(OutputQueue, DropFillingKeepsTheBatchInFlight) {
  output_queue q;
  release_counter in_flight;
  release_counter queued;
  q.append_external(bytes_of("sending"), in_flight.keep());
  (void)q.next(IOV_MAX);
  q.append_external(bytes_of("queued"), queued.keep());
  q.drop_filling();
  EXPECT_EQ(queued.released, 1);
  EXPECT_EQ(in_flight.released, 0);
  EXPECT_EQ(q.size(), 7u);
  q.drop_all();
  EXPECT_EQ(in_flight.released, 1);
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, DestructionReleasesEveryKeepalive) {
  release_counter r;
  {
    output_queue q;
    q.append_external(bytes_of("a"), r.keep());
    (void)q.next(IOV_MAX);
    q.append_external(bytes_of("b"), r.keep());
  }
  EXPECT_EQ(r.released, 2);
}

TEST(OutputQueue, LargeCopiesSurviveGrowthAndPartialSends) {
  output_queue q;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    expected += piece;
    q.append(bytes_of(piece));
  }
  EXPECT_EQ(drain(q, 777), expected);
}

}  // namespace
}  // namespace haremq::io::detail
