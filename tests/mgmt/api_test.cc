// The management API's shared pieces: list shaping (columns, sort, pages) as RabbitMQ does it,
// the lenient reading of rabbitmqadmin's bodies, and rates from successive samples.
#include <gtest/gtest.h>

#include <thread>

#include "mgmt/api.h"

namespace haremq::mgmt {
namespace {

request with_query(std::initializer_list<std::pair<const char*, const char*>> q) {
  request r;
  for (const auto& [k, v] : q) r.query.emplace(k, v);
  return r;
}

json three_queues() {
  return json::parse(R"([{"name": "b", "messages": 2, "message_stats": {"publish": 5, "ack": 1}},
                         {"name": "a", "messages": 7, "message_stats": {"publish": 1}},
                         {"name": "c", "messages": 0}])");
}

TEST(ShapeList, ColumnsKeepOnlyWhatIsAskedADottedOneItsTopLevelMember) {
  const json out = shape_list(with_query({{"columns", "name,message_stats.publish"}}), three_queues());
  EXPECT_EQ(out, json::parse(R"([{"name": "b", "message_stats": {"publish": 5, "ack": 1}},
                                 {"name": "a", "message_stats": {"publish": 1}},
                                 {"name": "c"}])"));
}

TEST(ShapeList, SortsAndReverses) {
  json out = shape_list(with_query({{"sort", "name"}}), three_queues());
  EXPECT_EQ(out[0]["name"], "a");
  EXPECT_EQ(out[2]["name"], "c");
  out = shape_list(with_query({{"sort", "messages"}, {"sort_reverse", "true"}}), three_queues());
  EXPECT_EQ(out[0]["name"], "a");
  EXPECT_EQ(out[2]["name"], "c");
}

TEST(ShapeList, PagesAsRabbitMqDoes) {
  const json out = shape_list(with_query({{"sort", "name"}, {"page", "2"}, {"page_size", "2"}}), three_queues());
  EXPECT_EQ(out["total_count"], 3);
  EXPECT_EQ(out["filtered_count"], 3);
  EXPECT_EQ(out["item_count"], 1);
  EXPECT_EQ(out["page"], 2);
  EXPECT_EQ(out["page_count"], 2);
  EXPECT_EQ(out["page_size"], 2);
  EXPECT_EQ(out["items"][0]["name"], "c");
  try {
    shape_list(with_query({{"page", "9"}, {"page_size", "2"}}), three_queues());
    FAIL() << "a page past the end is an error";
  } catch (const api_error& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.error, "page_out_of_range");
    EXPECT_EQ(e.reason, "Page out of range, page: 9 page size: 2, len: 3");
  }
}

TEST(BodyFields, StringsAreReadAsRabbitmqadminSendsThem) {
  const json body = json::parse(R"({"durable": "true", "auto_delete": false, "count": "5", "n": 3, "bad": "maybe"})");
  EXPECT_TRUE(json_flag(body, "durable", false));
  EXPECT_FALSE(json_flag(body, "auto_delete", true));
  EXPECT_TRUE(json_flag(body, "missing", true));
  EXPECT_EQ(json_number(body, "count", 1), 5);
  EXPECT_EQ(json_number(body, "n", 1), 3);
  EXPECT_EQ(json_number(body, "missing", 7), 7);
  EXPECT_THROW(json_flag(body, "bad", false), api_error);
  EXPECT_THROW(json_number(body, "bad", 0), api_error);
}

TEST(RateTracker, RateOfAGrowingCounter) {
  rate_tracker rates;
  EXPECT_EQ(rates.rate("k", 0), 0.0) << "one sample: no rate yet";
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const double r = rates.rate("k", 600);
  // 600 more in a little over 0.6 s: a bit under 1000/s, never more.
  EXPECT_GT(r, 100.0);
  EXPECT_LE(r, 1000.0);
  EXPECT_EQ(rates.rate("other", 5), 0.0) << "keys are apart";
}

}  // namespace
}  // namespace haremq::mgmt
