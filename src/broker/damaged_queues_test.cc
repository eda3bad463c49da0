#include "broker/damaged_queues.h"

#include <gtest/gtest.h>

namespace ballast::broker {
namespace {

TEST(DamagedQueues, CountsEachUnreadableMessageOnceAndKeepsTheFirstCause) {
  DamagedQueues damaged;
  EXPECT_TRUE(damaged.list().empty());
  damaged.note("/", "orders", ErrorCode::kStorageCorrupt, 7, "segment 2 offset 4096: bad crc");
  damaged.note("/", "orders", ErrorCode::kStorageIoError, 7, "read failed");
  damaged.note("/", "orders", ErrorCode::kStorageCorrupt, 9, "segment 2 offset 8192: bad crc");
  damaged.note("/", "audit", ErrorCode::kStorageCorrupt, 3, "segment 1 offset 64: bad crc");
  const auto listed = damaged.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "audit");
  EXPECT_EQ(listed[0].unreadable_messages, 1u);
  EXPECT_EQ(listed[1].name, "orders");
  EXPECT_EQ(listed[1].vhost, "/");
  EXPECT_EQ(listed[1].unreadable_messages, 2u);
  EXPECT_EQ(listed[1].code, ErrorCode::kStorageCorrupt);
  EXPECT_EQ(listed[1].message, "segment 2 offset 4096: bad crc");
}

TEST(DamagedQueues, ForgetsQueuesThatNoLongerExist) {
  DamagedQueues damaged;
  damaged.note("/", "orders", ErrorCode::kStorageCorrupt, 1, "bad crc");
  damaged.note("/", "gone", ErrorCode::kStorageCorrupt, 2, "bad crc");
  damaged.retain([](const std::string&, const std::string& name) { return name != "gone"; });
  const auto listed = damaged.list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "orders");
}

}  // namespace
}  // namespace ballast::broker
