#include "util/result.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("value {} is not positive", value),
                 "pass a number above 0");
  }
  return value;
}

TEST(Result, HoldsTheValueOnSuccess) {
  auto result = parse_positive(3);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 3);
}

TEST(Result, DescribesCodeMessageAndFix) {
  auto result = parse_positive(-1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().describe(),
            "INVALID_ARGUMENT: value -1 is not positive. Fix: pass a number above 0");
}

TEST(Result, ContextIsPrefixedOncePerLayer) {
  auto error = parse_positive(0).error().with_context("reading queue settings");
  EXPECT_EQ(error.message(), "reading queue settings: value 0 is not positive");
}

TEST(ErrorCodeTable, EveryCodeRoundTripsThroughItsName) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kNotImplemented); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const auto parsed = error_code_from_name(error_code_name(code));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, code);
    EXPECT_GE(error_code_info(code).http_status, 400);
  }
}

}  // namespace
}  // namespace ballast

#include "util/log.h"

namespace ballast {
namespace {

TEST(Log, LimitedEventsAreCappedPerSecondAndCountWhatWasDropped) {
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  for (int i = 0; i < 50; ++i) log::limited_event(log::Level::kWarn, "test.flood", {log::kv("i", i)}, 5);
  log::set_sink({});
  EXPECT_LE(lines.size(), 10u);  // at most two one-second windows in this loop
  EXPECT_GE(lines.size(), 5u);
  EXPECT_NE(lines.front().find("event=test.flood i=0"), std::string::npos) << lines.front();
}

}  // namespace
}  // namespace ballast
