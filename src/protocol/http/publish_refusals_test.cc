#include "protocol/http/publish_refusals.h"

#include <gtest/gtest.h>

namespace ballast::http {
namespace {

TEST(PublishRefusals, CountsOnlyTheLastSixtySeconds) {
  PublishRefusals refusals;
  EXPECT_EQ(refusals.last_minute(0).last_minute, 0u);
  EXPECT_FALSE(refusals.last_minute(0).last_code);
  refusals.add(ErrorCode::kStorageFull, 1'000);
  refusals.add(ErrorCode::kStorageFull, 1'500);
  refusals.add(ErrorCode::kStoragePermissionDenied, 30'000);
  auto summary = refusals.last_minute(30'000);
  EXPECT_EQ(summary.last_minute, 3u);
  EXPECT_EQ(summary.last_code, ErrorCode::kStoragePermissionDenied);
  // Second 1 leaves the window at second 61; second 30 at second 90.
  EXPECT_EQ(refusals.last_minute(60'999).last_minute, 3u);
  EXPECT_EQ(refusals.last_minute(61'000).last_minute, 1u);
  summary = refusals.last_minute(90'000);
  EXPECT_EQ(summary.last_minute, 0u);
  EXPECT_FALSE(summary.last_code);
}

TEST(PublishRefusals, ASlotReusedAMinuteLaterStartsFromZero) {
  PublishRefusals refusals;
  for (int n = 0; n < 5; ++n) refusals.add(ErrorCode::kStorageFull, 2'000);
  refusals.add(ErrorCode::kStorageFull, 62'000);  // the same slot as second 2
  EXPECT_EQ(refusals.last_minute(62'000).last_minute, 1u);
}

TEST(PublishRefusals, OnlyBrokerWideCodesCount) {
  EXPECT_TRUE(is_broker_wide_refusal(ErrorCode::kStorageFull));
  EXPECT_TRUE(is_broker_wide_refusal(ErrorCode::kStoragePermissionDenied));
  EXPECT_TRUE(is_broker_wide_refusal(ErrorCode::kStorageIoError));
  EXPECT_TRUE(is_broker_wide_refusal(ErrorCode::kBrokerDiskLimit));
  EXPECT_TRUE(is_broker_wide_refusal(ErrorCode::kBrokerMemoryLimit));
  EXPECT_FALSE(is_broker_wide_refusal(ErrorCode::kQueueLimitReached));
  EXPECT_FALSE(is_broker_wide_refusal(ErrorCode::kInvalidArgument));
  EXPECT_FALSE(is_broker_wide_refusal(ErrorCode::kQueueNotFound));
}

}  // namespace
}  // namespace ballast::http
