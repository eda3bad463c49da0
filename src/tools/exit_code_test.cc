#include "tools/exit_code.h"

#include <sstream>

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

TEST(ExitCode, UnreachableServerIsThreeAndEveryOtherErrorIsOne) {
  EXPECT_EQ(exit_code_for(Error(ErrorCode::kServerUnreachable, "m", "f")), ExitCode::kUnreachable);
  EXPECT_EQ(exit_code_for(Error(ErrorCode::kQueueNotFound, "m", "f")), ExitCode::kRefused);
  EXPECT_EQ(exit_code_for(Error(ErrorCode::kInvalidArgument, "m", "f")), ExitCode::kRefused);
  EXPECT_EQ(static_cast<int>(ExitCode::kOk), 0);
  EXPECT_EQ(static_cast<int>(ExitCode::kRefused), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::kUsage), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::kUnreachable), 3);
}

TEST(ExitCode, ReportsCodeMessageAndFixOnTwoLines) {
  std::ostringstream err;
  const auto code =
      report_error(Error(ErrorCode::kQueueNotFound, "queue \"jobs\" (vhost \"/\") does not exist",
                         "create it with ballast queue create jobs"),
                   err);
  EXPECT_EQ(code, ExitCode::kRefused);
  EXPECT_EQ(err.str(),
            "ballast: QUEUE_NOT_FOUND: queue \"jobs\" (vhost \"/\") does not exist\n"
            "Fix: create it with ballast queue create jobs\n");
}

TEST(ExitCode, OmitsTheFixLineWhenThereIsNoFix) {
  EXPECT_EQ(format_error(Error(ErrorCode::kNotFound, "gone", "")), "ballast: NOT_FOUND: gone\n");
}

TEST(ExitCode, UsageErrorsAreTwoWhateverTheirCode) {
  std::ostringstream err;
  EXPECT_EQ(report_usage_error(Error(ErrorCode::kInvalidArgument, "bad", "fix"), err), ExitCode::kUsage);
  EXPECT_EQ(err.str(), "ballast: INVALID_ARGUMENT: bad\nFix: fix\n");
}

}  // namespace
}  // namespace ballast::tools
