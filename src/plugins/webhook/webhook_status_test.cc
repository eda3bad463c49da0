#include "plugins/webhook/webhook_status.h"

#include <gtest/gtest.h>

namespace ballast::webhook {
namespace {

const std::string kWhere = "http://127.0.0.1:8099/hook";

TEST(WebhookStatus, TwoHundredsAreDone) {
  EXPECT_EQ(outcome_for_status(200, kWhere).result, "done");
  EXPECT_EQ(outcome_for_status(204, kWhere).result, "done");
}

TEST(WebhookStatus, ServerErrorsAndNotNowAnswersAreRetried) {
  for (unsigned status : {408u, 425u, 429u, 500u, 502u, 503u, 504u, 302u}) {
    const plugin::Outcome outcome = outcome_for_status(status, kWhere);
    EXPECT_EQ(outcome.result, "retry") << status;
    EXPECT_EQ(outcome.reason, kWhere + " answered HTTP " + std::to_string(status));
  }
}

TEST(WebhookStatus, OtherClientErrorsFailNamingTheStatusAndUrl) {
  for (unsigned status : {400u, 401u, 403u, 404u, 405u, 410u, 413u, 422u}) {
    const plugin::Outcome outcome = outcome_for_status(status, kWhere);
    EXPECT_EQ(outcome.result, "failed") << status;
    EXPECT_NE(outcome.reason.find(kWhere + " answered HTTP " + std::to_string(status)), std::string::npos)
        << outcome.reason;
  }
}

}  // namespace
}  // namespace ballast::webhook
