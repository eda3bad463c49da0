#include "tools/api_paths.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

TEST(ApiPaths, DefaultVhostUsesTheShortRoutes) {
  const ApiPaths paths("/");
  EXPECT_EQ(paths.queues(), "/api/v1/queues");
  EXPECT_EQ(paths.queue("jobs"), "/api/v1/queues/jobs");
  EXPECT_EQ(paths.queue_action("jobs", "receive"), "/api/v1/queues/jobs/receive");
  EXPECT_EQ(paths.peek("jobs", 5), "/api/v1/queues/jobs/messages?max=5");
  EXPECT_EQ(ApiPaths::stats(), "/api/v1/stats");
}

TEST(ApiPaths, OtherVhostsArePercentEncodedUnderVhosts) {
  const ApiPaths paths("staging/eu");
  EXPECT_EQ(paths.queue("a b"), "/api/v1/vhosts/staging%2Feu/queues/a%20b");
}

TEST(PercentEncode, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("/?#%+ "), "%2F%3F%23%25%2B%20");
  EXPECT_EQ(percent_encode("\xC3\xA9"), "%C3%A9");
}

}  // namespace
}  // namespace ballast::tools
