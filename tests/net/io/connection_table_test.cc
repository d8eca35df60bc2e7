#include "net/io/connection_table.h"

#include <gtest/gtest.h>

namespace haremq::io::detail {
namespace {

TEST(ConnectionTable, DefaultIdNamesNothing) {
  connection_table table(1024);
  (void)table.acquire(3);
  EXPECT_EQ(table.find(conn_id{}), nullptr);
}

TEST(ConnectionTable, ReusedSlotGetsANewGeneration) {
  connection_table table(1024);
  connection& first = table.acquire(3);
  const conn_id old_id = first.id;
  table.release(first);
  EXPECT_EQ(table.find(old_id), nullptr);
  connection& second = table.acquire(4);
  EXPECT_EQ(second.id.slot, old_id.slot);
  EXPECT_NE(second.id.generation, old_id.generation);
  EXPECT_EQ(table.find(old_id), nullptr);
  EXPECT_EQ(table.find(second.id), &second);
}

TEST(ConnectionTable, FindSeesOpenAndClosingOnly) {
  connection_table table(1024);
  connection& c = table.acquire(3);
  c.state = conn_state::closing;
  EXPECT_EQ(table.find(c.id), &c);
  c.state = conn_state::closed;
  EXPECT_EQ(table.find(c.id), nullptr);
  EXPECT_EQ(table.at(c.id), &c);
}

TEST(ConnectionTable, OutOfRangeSlotIsNull) {
  connection_table table(1024);
  EXPECT_EQ(table.at(std::uint32_t{7}), nullptr);
  EXPECT_EQ(table.find(conn_id{7, 1}), nullptr);
}

}  // namespace
}  // namespace haremq::io::detail
