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
