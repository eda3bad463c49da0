#include "tools/api_client.h"

#include <gtest/gtest.h>

#include "tools/loopback_http_server.h"

namespace ballast::tools {
namespace {

using nlohmann::json;
using testing::CannedReply;
using testing::LoopbackHttpServer;
using testing::RecordedRequest;

ApiClient api_for(const LoopbackHttpServer& server, std::string_view vhost = "/") {
  auto url = parse_server_url(server.url());
  EXPECT_TRUE(url.ok());
  return ApiClient(HttpClient(std::move(*url), std::chrono::seconds(10)), vhost);
}

TEST(InterpretResponse, KeepsTheServersCodeMessageAndFix) {
  const HttpResponse response{404, R"({"error":{"code":"QUEUE_NOT_FOUND",
      "message":"queue \"jobs\" (vhost \"/\") does not exist","fix":"create it"}})"};
  auto parsed = interpret_response(response, "GET /api/v1/queues/jobs at http://h:1");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kQueueNotFound);
  EXPECT_EQ(parsed.error().message(), "queue \"jobs\" (vhost \"/\") does not exist");
  EXPECT_EQ(parsed.error().fix(), "create it");
}

TEST(InterpretResponse, UnknownServerCodesAreNamedInTheMessage) {
  auto parsed = interpret_response(
      {429, R"({"error":{"code":"SOMETHING_NEW","message":"slow down","fix":"wait"}})"}, "req");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message().find("SOMETHING_NEW"), std::string::npos);
  EXPECT_NE(parsed.error().message().find("slow down"), std::string::npos);
}

TEST(InterpretResponse, RefusalWithoutABallastErrorBodyNamesRequestAndStatus) {
  for (const char* body : {"<html>Bad Gateway</html>", "", R"({"error":"text"})", "[]"}) {
    auto parsed = interpret_response({502, body}, "GET /api/v1/stats at http://h:1");
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_NE(parsed.error().message().find("HTTP 502"), std::string::npos);
    EXPECT_NE(parsed.error().message().find("GET /api/v1/stats at http://h:1"), std::string::npos);
  }
}

TEST(InterpretResponse, SuccessBodiesAreJsonAndEmptyMeansEmptyObject) {
  EXPECT_EQ(interpret_response({200, R"({"purged":3})"}, "req").value(), (json{{"purged", 3}}));
  EXPECT_EQ(interpret_response({204, ""}, "req").value(), json::object());
  EXPECT_FALSE(interpret_response({200, "not json"}, "req").ok());
}

TEST(ApiClient, DeclareQueueTellsCreatedFromAlreadyExisting) {
  int calls = 0;
  LoopbackHttpServer server([&calls](const RecordedRequest&) {
    return CannedReply{++calls == 1 ? 201 : 200, R"({"name":"jobs"})"};
  });
  auto api = api_for(server);
  auto first = api.declare_queue("jobs", {{"max_length", 10}});
  auto second = api.declare_queue("jobs", {{"max_length", 10}});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->outcome, QueueDeclaration::kCreated);
  EXPECT_EQ(second->outcome, QueueDeclaration::kAlreadyExisted);
  const auto requests = server.requests();
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(json::parse(requests[0].body), (json{{"max_length", 10}}));
}

TEST(ApiClient, CallsReachTheDocumentedRoutes) {
  LoopbackHttpServer server([](const RecordedRequest&) { return CannedReply{200, "{}"}; });
  auto api = api_for(server, "eu");
  ASSERT_TRUE(api.purge_queue("q").ok());
  ASSERT_TRUE(api.receive("q", ReceiveRequest{5, 2, 30}).ok());
  ASSERT_TRUE(api.nack("q", json::array({"r1"}), Requeue::kYes).ok());
  ASSERT_TRUE(api.peek("q", 3).ok());
  ASSERT_TRUE(api.stats().ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].method + " " + requests[0].target, "POST /api/v1/vhosts/eu/queues/q/purge");
  EXPECT_EQ(requests[1].target, "/api/v1/vhosts/eu/queues/q/receive");
  EXPECT_EQ(json::parse(requests[1].body),
            (json{{"max", 5}, {"wait_seconds", 2}, {"visibility_timeout_seconds", 30}}));
  EXPECT_EQ(json::parse(requests[2].body), (json{{"receipts", {"r1"}}, {"requeue", true}}));
  EXPECT_EQ(requests[3].method + " " + requests[3].target, "GET /api/v1/vhosts/eu/queues/q/messages?max=3");
  EXPECT_EQ(requests[4].target, "/api/v1/stats");
}

TEST(ApiClient, ServerRefusalArrivesAsTheServersError) {
  LoopbackHttpServer server([](const RecordedRequest&) {
    return CannedReply{409, R"({"error":{"code":"QUEUE_EXISTS_DIFFERENT","message":"m","fix":"f"}})"};
  });
  auto api = api_for(server);
  auto declared = api.declare_queue("jobs", json::object());
  ASSERT_FALSE(declared.ok());
  EXPECT_EQ(declared.error().code(), ErrorCode::kQueueExistsDifferent);
}

}  // namespace
}  // namespace ballast::tools
