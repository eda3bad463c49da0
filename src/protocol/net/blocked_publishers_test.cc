#include "protocol/net/blocked_publishers.h"

#include <gtest/gtest.h>

#include <thread>

namespace ballast::net {
namespace {

BlockedPublisher amqp_publisher(uint64_t connection_id, int64_t since_unix_ms) {
  BlockedPublisher publisher;
  publisher.connection_id = connection_id;
  publisher.protocol = "amqp";
  publisher.peer = "127.0.0.1:5000";
  publisher.user = "guest";
  publisher.vhost = "/";
  publisher.since_unix_ms = since_unix_ms;
  publisher.code = ErrorCode::kStorageFull;
  publisher.reason = "STORAGE_FULL: the disk is full";
  return publisher;
}

TEST(BlockedPublishers, ListsTheLongestBlockedFirstAndForgetsRemovedOnes) {
  BlockedPublishers table;
  EXPECT_TRUE(table.list().empty());
  table.add(amqp_publisher(2, 2000));
  table.add(amqp_publisher(1, 3000));
  table.add(amqp_publisher(3, 1000));
  auto listed = table.list();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].connection_id, 3u);
  EXPECT_EQ(listed[1].connection_id, 2u);
  EXPECT_EQ(listed[2].connection_id, 1u);
  table.remove("amqp", 2);
  table.remove("amqp", 42);  // never blocked: nothing happens
  listed = table.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].connection_id, 3u);
  EXPECT_EQ(listed[1].connection_id, 1u);
}

TEST(BlockedPublishers, AddingTheSameConnectionAgainReplacesItsEntry) {
  BlockedPublishers table;
  table.add(amqp_publisher(7, 1000));
  BlockedPublisher again = amqp_publisher(7, 5000);
  again.code = ErrorCode::kStoragePermissionDenied;
  table.add(again);
  const auto listed = table.list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].code, ErrorCode::kStoragePermissionDenied);
  EXPECT_EQ(listed[0].since_unix_ms, 5000);
}

TEST(BlockedPublishers, OneWriterAndOneReaderOnDifferentThreads) {
  BlockedPublishers table;
  std::thread writer([&table] {
    for (uint64_t id = 1; id <= 2000; ++id) {
      table.add(amqp_publisher(id, static_cast<int64_t>(id)));
      if (id % 2 == 0) table.remove("amqp", id);
    }
  });
  for (int n = 0; n < 200; ++n) EXPECT_LE(table.list().size(), 1000u);
  writer.join();
  EXPECT_EQ(table.list().size(), 1000u);
}

}  // namespace
}  // namespace ballast::net
