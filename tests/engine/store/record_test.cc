// Covers: the round trip of every record type (queue, publish, ack, delivered), with empty,
// longest-short-string and large fields and binary bytes; records one after another in a
// buffer; a flipped byte anywhere (checksum mismatch -> corrupt, or torn when it grows the
// length); a zero length (-> corrupt); an empty buffer (-> end); every truncation of a record
// and of a run of records (-> torn, or end at a record boundary); framed_size; decoders that
// reject fields with bytes missing or left over, or a body length past the end; the optional
// parts of a publish (BCC keys, publish time), and one of an unknown kind skipped.
// Not yet: records whose length field exceeds 4 GiB (the framing caps a payload at u32);
// fields of one type under another type's byte (the type byte alone tells them apart).
#include "engine/store/record.h"

#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <string>
#include <vector>

#include "net/amqp/endian.h"
#include "tests/engine/store/store_test_support.h"

namespace haremq::engine::store {
namespace {

using namespace test;

template <class... Fields>
std::vector<std::byte> framed(const Fields&... f) {
  std::vector<std::byte> out;
  append_record(out, f...);
  return out;
}

// Reads `bytes` back as one whole record of `type` and decodes its fields into `out`.
template <class Fields>
::testing::AssertionResult reads_back(const std::vector<std::byte>& bytes, record_type type, Fields& out) {
  record_view rec;
  if (const scan_status status = read_record(bytes, rec); status != scan_status::record) {
    return ::testing::AssertionFailure() << "scan status " << static_cast<int>(status);
  }
  if (rec.type != type) return ::testing::AssertionFailure() << "type " << static_cast<int>(rec.type);
  if (rec.size != bytes.size()) return ::testing::AssertionFailure() << "size " << rec.size << " of " << bytes.size();
  if (!decode(rec.fields, out)) return ::testing::AssertionFailure() << "the fields do not decode";
  return ::testing::AssertionSuccess();
}

// Decoding as `Fields` fails for every part of `fields` short of the whole, and with a byte more.
template <class Fields>
void expect_only_the_whole_fields_decode(std::vector<std::byte> fields) {
  for (std::size_t n = 0; n < fields.size(); ++n) {
    Fields out;
    EXPECT_FALSE(decode(amqp::bytes_view(fields).first(n), out)) << n;
  }
  fields.push_back(std::byte{0});
  Fields out;
  EXPECT_FALSE(decode(fields, out));
}

// Recomputes a record's checksum after a test changed its payload on purpose.
void reseal(std::vector<std::byte>& record) {
  const auto sum = static_cast<std::uint32_t>(XXH3_64bits(record.data() + 4, record.size() - 4));
  amqp::detail::store_be(record.data(), sum);
}

// A properties blob with NUL bytes in it: the store must treat it as opaque bytes.
const std::string binary_properties("\x30\x00\x00\x02\x01\x00\xff", 7);

// Frames `in` and expects to read back a record of its size with the very same fields.
void expect_publish_round_trip(const publish_fields& in) {
  const auto bytes = framed(in);
  EXPECT_EQ(bytes.size(), record_size(in));
  publish_fields out;
  ASSERT_TRUE(reads_back(bytes, record_type::publish, out));
  EXPECT_EQ(out.ref, in.ref);
  EXPECT_EQ(out.seq, in.seq);
  EXPECT_EQ(out.exchange, in.exchange);
  EXPECT_EQ(out.routing_key, in.routing_key);
  EXPECT_EQ(text(out.properties), text(in.properties));
  EXPECT_EQ(text(out.body), text(in.body));
  EXPECT_EQ(text(out.bcc), text(in.bcc));
  EXPECT_EQ(out.published_ms, in.published_ms);
}

TEST(Record, PublishRoundTrips) {
  const std::string body = "hello\0world" + std::string(1, '\0');
  const publish_fields in{7, 42, "amq.direct", "orders.created", amqp::as_bytes(binary_properties),
                          amqp::as_bytes(body), {}, 0};
  expect_publish_round_trip(in);
}

TEST(Record, PublishWithBccKeysAndPublishTimeRoundTrips) {
  // A BCC array of two strings ("bcc1", "b2") and a publish time: the optional parts.
  const std::string bcc("S\0\0\0\4bcc1S\0\0\0\2b2", 16);
  const std::string body = "body";
  const publish_fields in{7, 42, "x", "rk", amqp::as_bytes(binary_properties), amqp::as_bytes(body),
                          amqp::as_bytes(bcc), 1'765'000'000'123};
  expect_publish_round_trip(in);
  // Each part alone, and a part of a kind this version does not know, which is skipped.
  expect_publish_round_trip(publish_fields{1, 2, "", "q", {}, amqp::as_bytes(body), amqp::as_bytes(bcc), 0});
  expect_publish_round_trip(publish_fields{1, 2, "", "q", {}, amqp::as_bytes(body), {}, 5});
  auto bytes = framed(publish_fields{1, 2, "", "q", {}, amqp::as_bytes(body), {}, 5});
  const std::string unknown_part("\x63\0\0\0\3abc", 8);
  std::vector<std::byte> payload(bytes.begin() + record_header_size, bytes.end());
  payload.insert(payload.end(), amqp::as_bytes(unknown_part).begin(), amqp::as_bytes(unknown_part).end());
  publish_fields out;
  ASSERT_TRUE(decode(amqp::bytes_view(payload).subspan(1), out));
  EXPECT_EQ(out.published_ms, 5);
  EXPECT_EQ(text(out.body), body);
  // A part that says it is longer than what is left does not decode.
  payload.pop_back();
  EXPECT_FALSE(decode(amqp::bytes_view(payload).subspan(1), out));
}

TEST(Record, PublishWithEmptyFieldsRoundTrips) {
  expect_publish_round_trip(publish_fields{1, 1, "", "", {}, {}, {}, 0});
}

TEST(Record, PublishWithLongestNamesAndLargeBodyRoundTrips) {
  const std::string exchange(255, 'e');
  const std::string key(255, 'k');
  std::string body(300000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 + 7);
  const publish_fields in{0xffffffffu, 0xfffffffffffffffeull, exchange, key, amqp::as_bytes(binary_properties),
                          amqp::as_bytes(body), {}, 0};
  expect_publish_round_trip(in);
}

TEST(Record, QueueRoundTrips) {
  const queue_fields in{3, 0x0123456789abcdefull, "/prod", "invoices"};
  const auto bytes = framed(in);
  queue_fields out;
  ASSERT_TRUE(reads_back(bytes, record_type::queue, out));
  EXPECT_EQ(out.ref, 3u);
  EXPECT_EQ(out.incarnation, 0x0123456789abcdefull);
  EXPECT_EQ(out.vhost, "/prod");
  EXPECT_EQ(out.name, "invoices");
}

TEST(Record, AckAndDeliveredRoundTrip) {
  for (const record_type type : {record_type::ack, record_type::delivered}) {
    const range_fields in{9, 1000000007ull, 65537};
    const auto bytes = framed(type, in);
    range_fields out;
    ASSERT_TRUE(reads_back(bytes, type, out));
    EXPECT_EQ(out.ref, 9u);
    EXPECT_EQ(out.first, 1000000007ull);
    EXPECT_EQ(out.count, 65537u);
  }
}

TEST(Record, RecordsAppendedToOneBufferAreReadBackInOrder) {
  const std::string body = "payload";
  std::vector<std::byte> buffer;
  append_record(buffer, queue_fields{1, 5, "/", "q"});
  const std::size_t after_queue = buffer.size();
  append_record(buffer, publish_fields{1, 1, "x", "rk", {}, amqp::as_bytes(body), {}, 0});
  append_record(buffer, record_type::ack, range_fields{1, 1, 1});
  append_record(buffer, record_type::delivered, range_fields{1, 2, 3});
  // Appending never touches what is already there.
  EXPECT_EQ(framed(queue_fields{1, 5, "/", "q"}), std::vector<std::byte>(buffer.begin(), buffer.begin() + after_queue));

  std::vector<record_type> types;
  amqp::bytes_view rest(buffer);
  record_view rec;
  scan_status status;
  while ((status = read_record(rest, rec)) == scan_status::record) {
    types.push_back(rec.type);
    rest = rest.subspan(rec.size);
  }
  EXPECT_EQ(status, scan_status::end);
  EXPECT_EQ(types, (std::vector<record_type>{record_type::queue, record_type::publish, record_type::ack,
                                             record_type::delivered}));
}

TEST(Record, EmptyInputIsTheEnd) {
  record_view rec;
  EXPECT_EQ(read_record({}, rec), scan_status::end);
}

TEST(Record, ZeroLengthIsCorruptNotARecordOrTheEnd) {
  record_view rec;
  const std::vector<std::byte> header(record_header_size, std::byte{0});
  EXPECT_EQ(read_record(header, rec), scan_status::corrupt);
  const std::vector<std::byte> zeroed_page(4096, std::byte{0});
  EXPECT_EQ(read_record(zeroed_page, rec), scan_status::corrupt);
  // Even with a checksum that matches the zero length.
  std::vector<std::byte> sealed(record_header_size, std::byte{0});
  reseal(sealed);
  EXPECT_EQ(read_record(sealed, rec), scan_status::corrupt);
}

TEST(Record, AFlippedPayloadOrChecksumByteIsCorrupt) {
  const std::string body = "0123456789";
  const auto good = framed(publish_fields{2, 77, "ex", "key", amqp::as_bytes(binary_properties), amqp::as_bytes(body), {}, 0});
  for (std::size_t i = 0; i < good.size(); ++i) {
    if (i >= 4 && i < record_header_size) continue;  // the length: next test
    for (const unsigned mask : {0x01u, 0x80u, 0xffu}) {
      auto bad = good;
      bad[i] ^= std::byte(mask);
      record_view rec;
      EXPECT_EQ(read_record(bad, rec), scan_status::corrupt) << "byte " << i << " mask " << mask;
    }
  }
}

TEST(Record, AFlippedLengthByteIsNeverARecord) {
  const auto good = framed(record_type::ack, range_fields{1, 2, 3});
  for (std::size_t i = 4; i < record_header_size; ++i) {
    for (const unsigned mask : {0x01u, 0x02u, 0x10u, 0x80u, 0xffu}) {
      auto bad = good;
      bad[i] ^= std::byte(mask);
      // Longer than the bytes: torn; shorter: the checksum covers other bytes; zero: corrupt.
      const std::size_t claimed = framed_size(bad);
      record_view rec;
      EXPECT_EQ(read_record(bad, rec), claimed > bad.size() ? scan_status::torn : scan_status::corrupt)
          << "byte " << i << " mask " << mask;
    }
  }
}

TEST(Record, EveryTruncationOfARecordIsTorn) {
  std::string body(600, 'b');
  const auto good = framed(publish_fields{4, 9, "amq.topic", "a.b.c", amqp::as_bytes(binary_properties),
                                          amqp::as_bytes(body), {}, 0});
  record_view rec;
  EXPECT_EQ(read_record(amqp::bytes_view(good).first(0), rec), scan_status::end);
  for (std::size_t n = 1; n < good.size(); ++n) {
    EXPECT_EQ(read_record(amqp::bytes_view(good).first(n), rec), scan_status::torn) << "at " << n;
  }
  EXPECT_EQ(read_record(good, rec), scan_status::record);
}

TEST(Record, ARunOfRecordsCutAnywhereYieldsTheWholeOnesThenTornOrEnd) {
  const std::string body = "body bytes";
  std::vector<std::byte> buffer;
  std::vector<std::size_t> ends;  // where each record ends
  append_record(buffer, queue_fields{1, 5, "/", "q"});
  ends.push_back(buffer.size());
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    append_record(buffer, publish_fields{1, seq, "", "q", {}, amqp::as_bytes(body), {}, 0});
    ends.push_back(buffer.size());
  }
  append_record(buffer, record_type::ack, range_fields{1, 1, 2});
  ends.push_back(buffer.size());

  for (std::size_t cut = 0; cut <= buffer.size(); ++cut) {
    amqp::bytes_view rest = amqp::bytes_view(buffer).first(cut);
    std::size_t whole = 0;
    std::size_t offset = 0;
    record_view rec;
    scan_status status;
    while ((status = read_record(rest, rec)) == scan_status::record) {
      ++whole;
      offset += rec.size;
      rest = rest.subspan(rec.size);
    }
    std::size_t expected_whole = 0;
    bool at_boundary = cut == 0;
    for (const std::size_t end : ends) {
      if (end <= cut) ++expected_whole;
      if (end == cut) at_boundary = true;
    }
    EXPECT_EQ(whole, expected_whole) << "cut at " << cut;
    EXPECT_EQ(offset, expected_whole == 0 ? 0 : ends[expected_whole - 1]) << "cut at " << cut;
    EXPECT_EQ(status, at_boundary ? scan_status::end : scan_status::torn) << "cut at " << cut;
  }
}

TEST(Record, FramedSizeReadsTheLengthFromTheHeader) {
  const auto bytes = framed(queue_fields{1, 1, "/", "some queue"});
  EXPECT_EQ(framed_size(amqp::bytes_view(bytes).first(record_header_size)), bytes.size());
  EXPECT_EQ(framed_size(bytes), bytes.size());
  EXPECT_EQ(framed_size(amqp::bytes_view(bytes).first(record_header_size - 1)), 0u);
}

TEST(Record, DecodersRejectFieldsWithBytesMissingOrLeftOver) {
  const std::string body = "xyz";
  const auto publish = framed(publish_fields{1, 2, "e", "k", amqp::as_bytes(binary_properties), amqp::as_bytes(body), {}, 0});
  const auto queue = framed(queue_fields{1, 2, "/", "q"});
  const auto ack = framed(record_type::ack, range_fields{1, 2, 3});
  auto fields_of = [](const std::vector<std::byte>& r) {
    return std::vector<std::byte>(r.begin() + record_header_size + 1, r.end());
  };
  expect_only_the_whole_fields_decode<publish_fields>(fields_of(publish));
  expect_only_the_whole_fields_decode<queue_fields>(fields_of(queue));
  expect_only_the_whole_fields_decode<range_fields>(fields_of(ack));
}

TEST(Record, ABodyLengthPastTheFieldsIsRejected) {
  const std::string body = "0123456789";
  auto record = framed(publish_fields{1, 2, "", "", {}, amqp::as_bytes(body), {}, 0});
  // The body length is the u64 right before the body: claim one byte more than there is.
  std::byte* length = record.data() + record.size() - body.size() - 8;
  amqp::detail::store_be(length, std::uint64_t{body.size() + 1});
  reseal(record);
  record_view rec;
  ASSERT_EQ(read_record(record, rec), scan_status::record);  // it checks...
  publish_fields out;
  EXPECT_FALSE(decode(rec.fields, out));  // ...but does not parse
  amqp::detail::store_be(length, ~std::uint64_t{0});
  reseal(record);
  ASSERT_EQ(read_record(record, rec), scan_status::record);
  EXPECT_FALSE(decode(rec.fields, out));
}

}  // namespace
}  // namespace haremq::engine::store
