#include "tools/http_client.h"

#include <gtest/gtest.h>

#include "tools/loopback_http_server.h"

namespace ballast::tools {
namespace {

using testing::CannedReply;
using testing::LoopbackHttpServer;
using testing::RecordedRequest;
using testing::ReplyMode;
using namespace std::chrono_literals;

HttpClient client_for(const std::string& url, std::chrono::milliseconds timeout = 10s) {
  auto parsed = parse_server_url(url);
  EXPECT_TRUE(parsed.ok());
  return HttpClient(std::move(*parsed), timeout);
}

TEST(HttpClient, SendsMethodTargetAndJsonBodyAndReturnsTheAnswer) {
  LoopbackHttpServer server([](const RecordedRequest&) { return CannedReply{201, R"({"created":true})"}; });
  auto client = client_for(server.url());
  auto response = client.request(HttpMethod::kPut, "/api/v1/queues/jobs", R"({"max_length":5})");
  ASSERT_TRUE(response.ok()) << response.error().describe();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"created":true})");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/api/v1/queues/jobs");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, R"({"max_length":5})");
}

TEST(HttpClient, ErrorStatusesAreAnswersNotFailures) {
  LoopbackHttpServer server([](const RecordedRequest&) { return CannedReply{404, R"({"error":{}})"}; });
  auto client = client_for(server.url());
  auto response = client.request(HttpMethod::kGet, "/api/v1/queues/x", "");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(server.requests().at(0).content_type, "");
}

TEST(HttpClient, KeepsOneConnectionAliveAcrossRequests) {
  LoopbackHttpServer server([](const RecordedRequest&) { return CannedReply{200, "{}"}; });
  auto client = client_for(server.url());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.request(HttpMethod::kGet, "/", "").ok());
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(HttpClient, OpensANewConnectionAfterTheServerAsksToClose) {
  LoopbackHttpServer server([](const RecordedRequest&) { return CannedReply{200, "{}", ReplyMode::kClose}; });
  auto client = client_for(server.url());
  ASSERT_TRUE(client.request(HttpMethod::kGet, "/", "").ok());
  ASSERT_TRUE(client.request(HttpMethod::kGet, "/", "").ok());
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(HttpClient, RetriesOnceWhenAKeptAliveConnectionWasClosedBeforeAnswering) {
  LoopbackHttpServer server([](const RecordedRequest& request) {
    const auto mode = request.connection == 1 ? ReplyMode::kAnswerThenDrop : ReplyMode::kKeepAlive;
    return CannedReply{200, fmt::format(R"({{"connection":{}}})", request.connection), mode};
  });
  auto client = client_for(server.url());
  ASSERT_TRUE(client.request(HttpMethod::kPost, "/first", "{}").ok());
  auto second = client.request(HttpMethod::kPost, "/second", "{}");
  ASSERT_TRUE(second.ok()) << second.error().describe();
  EXPECT_EQ(second->body, R"({"connection":2})");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/second");
}

TEST(HttpClient, RefusedConnectionIsUnreachableNamingUrlAndOsError) {
  std::string url;
  {
    LoopbackHttpServer closed_soon([](const RecordedRequest&) { return CannedReply{}; });
    url = closed_soon.url();
  }
  auto client = client_for(url);
  auto response = client.request(HttpMethod::kGet, "/api/v1/stats", "");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kServerUnreachable);
  EXPECT_NE(response.error().message().find(url), std::string::npos);
  EXPECT_NE(response.error().message().find("refused"), std::string::npos) << response.error().message();
  EXPECT_NE(response.error().fix().find("BALLAST_SERVER"), std::string::npos);
}

TEST(HttpClient, ServerThatNeverAnswersTimesOutAsUnreachable) {
  LoopbackHttpServer server([](const RecordedRequest&) {
    return CannedReply{200, "", ReplyMode::kNeverAnswer};
  });
  auto client = client_for(server.url(), 200ms);
  auto response = client.request(HttpMethod::kPost, "/api/v1/queues/q/receive", "{}");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kServerUnreachable);
  EXPECT_NE(response.error().message().find("did not answer"), std::string::npos)
      << response.error().message();
}

TEST(HttpClient, ConnectionClosedWithoutAnAnswerOnAFreshConnectionIsNotRetried) {
  LoopbackHttpServer server([](const RecordedRequest&) {
    return CannedReply{200, "", ReplyMode::kNeverAnswer};
  });
  auto client = client_for(server.url(), 200ms);
  ASSERT_FALSE(client.request(HttpMethod::kPost, "/once", "{}").ok());
  EXPECT_EQ(server.requests().size(), 1u);
}

}  // namespace
}  // namespace ballast::tools
