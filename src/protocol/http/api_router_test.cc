#include "protocol/http/api_router.h"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "broker/broker_test_support.h"

namespace ballast::http {
namespace {

using nlohmann::json;

class ApiRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker::BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    options.segment_bytes = 1 << 20;
    auto opened = broker::Broker::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    broker_ = std::move(*opened);
    broker_->run();
    router_ =
        std::make_unique<ApiRouter>(*broker_, 2, LiveSources{blocked_publishers_, recent_events_, clock_});
  }
  void TearDown() override {
    router_.reset();
    broker_->stop();
  }

  std::pair<int, json> call(const std::string& method, const std::string& target,
                            const std::string& body = "") {
    std::promise<ApiResponse> answered;
    router_->handle(ApiRequest{method, target, body, "application/json"},
                    [&](ApiResponse response) { answered.set_value(std::move(response)); });
    auto future = answered.get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    ApiResponse response = future.get();
    return {response.status, json::parse(response.body)};
  }

  broker::testing::TempDir dir_;
  std::unique_ptr<broker::Broker> broker_;
  net::BlockedPublishers blocked_publishers_;
  log::RecentEventRing recent_events_{3};
  SystemClock clock_;
  std::unique_ptr<ApiRouter> router_;
};

TEST_F(ApiRouterTest, StatusListsBlockedPublishersAndRecentFaultsNewestFirst) {
  auto [status, body] = call("GET", "/api/v1/status");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["serving"], true);
  EXPECT_TRUE(body["publish_refusal"].is_null());
  EXPECT_EQ(body["damaged_queues"], json::array());
  EXPECT_EQ(body["blocked_publishers"], json::array());
  EXPECT_EQ(body["http_publish_refusals"]["last_minute"], 0);
  EXPECT_TRUE(body["http_publish_refusals"]["last_code"].is_null());
  EXPECT_EQ(body["recent_events"], json::array());
  EXPECT_EQ(body["recent_events_kept"], 3);

  net::BlockedPublisher publisher;
  publisher.connection_id = 4;
  publisher.protocol = "amqp";
  publisher.peer = "127.0.0.1:40000";
  publisher.user = "guest";
  publisher.vhost = "/";
  publisher.since_unix_ms = clock_.wall_ms() - 5000;
  publisher.code = ErrorCode::kStorageFull;
  publisher.reason = "STORAGE_FULL: full. Fix: free space";
  blocked_publishers_.add(publisher);
  for (const char* name : {"storage.first", "storage.second", "storage.third", "storage.fourth"}) {
    log::RecentEvent event;
    event.time = "2026-12-02T10:00:00.000Z";
    event.level = log::Level::kError;
    event.name = name;
    event.fields = {{"code", "STORAGE_FULL"}, {"free_bytes", "0"}};
    recent_events_.add(std::move(event));
  }
  std::tie(status, body) = call("GET", "/api/v1/status");
  ASSERT_EQ(body["blocked_publishers"].size(), 1u);
  const json& blocked = body["blocked_publishers"][0];
  EXPECT_EQ(blocked["protocol"], "amqp");
  EXPECT_EQ(blocked["connection_id"], 4);
  EXPECT_EQ(blocked["peer"], "127.0.0.1:40000");
  EXPECT_EQ(blocked["user"], "guest");
  EXPECT_EQ(blocked["vhost"], "/");
  EXPECT_EQ(blocked["code"], "STORAGE_FULL");
  EXPECT_GE(blocked["blocked_seconds"].get<int64_t>(), 4);
  EXPECT_TRUE(blocked["since"].is_string());
  ASSERT_EQ(body["recent_events"].size(), 3u);
  EXPECT_EQ(body["recent_events"][0]["event"], "storage.fourth");
  EXPECT_EQ(body["recent_events"][0]["level"], "error");
  EXPECT_EQ(body["recent_events"][0]["fields"]["free_bytes"], "0");
  EXPECT_EQ(body["recent_events"][2]["event"], "storage.second");
  EXPECT_EQ(body["recent_events_total"], 4);
  EXPECT_EQ(call("POST", "/api/v1/status", "{}").first, 405);
}

TEST_F(ApiRouterTest, CreatePublishReceiveAck) {
  EXPECT_EQ(call("PUT", "/api/v1/queues/jobs", "{}").first, 201);
  EXPECT_EQ(call("PUT", "/api/v1/queues/jobs", "").first, 200);
  auto [status, published] = call("POST", "/api/v1/queues/jobs/messages", R"({"body":"hello"})");
  EXPECT_EQ(status, 201);
  EXPECT_EQ(published["durability"], "fsync");
  auto [peek_status, peeked] = call("GET", "/api/v1/queues/jobs/messages?max=5");
  EXPECT_EQ(peek_status, 200);
  EXPECT_EQ(peeked["messages"].size(), 1u);
  auto [received_status, received] = call("POST", "/api/v1/queues/jobs/receive", R"({"max": 5})");
  ASSERT_EQ(received_status, 200);
  ASSERT_EQ(received["messages"].size(), 1u);
  EXPECT_EQ(received["messages"][0]["body"], "hello");
  const std::string receipt = received["messages"][0]["receipt"];
  auto [ack_status, acked] = call("POST", "/api/v1/queues/jobs/ack", json{{"receipts", {receipt}}}.dump());
  EXPECT_EQ(ack_status, 200);
  EXPECT_EQ(acked["acked"], 1);
  auto [again_status, again] = call("POST", "/api/v1/queues/jobs/ack", json{{"receipts", {receipt}}}.dump());
  EXPECT_EQ(again_status, 400);
  EXPECT_EQ(again["error"]["code"], "RECEIPT_INVALID");
}

TEST_F(ApiRouterTest, VhostRoutesAddressTheirOwnVhost) {
  EXPECT_EQ(call("PUT", "/api/v1/vhosts/staging/queues/jobs").first, 201);
  EXPECT_EQ(call("GET", "/api/v1/queues/jobs").first, 404);
  auto [status, info] = call("GET", "/api/v1/vhosts/staging/queues/jobs");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(info["vhost"], "staging");
  EXPECT_EQ(call("GET", "/api/v1/vhosts/%2F/queues/jobs").first, 404);
}

TEST_F(ApiRouterTest, UnknownRoutesAndMethodsAreNamed) {
  auto [status, body] = call("GET", "/api/v2/nothing");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body["error"]["code"], "NOT_FOUND");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("/api/v2/nothing"), std::string::npos);
  EXPECT_EQ(call("PATCH", "/api/v1/queues/jobs").first, 405);
  EXPECT_EQ(call("GET", "/healthz").first, 200);
  EXPECT_EQ(call("GET", "/readyz").first, 200);
}

TEST_F(ApiRouterTest, InvalidUtf8InThePathIsAnErrorNotAnException) {
  auto [status, body] = call("PUT", "/api/v1/queues/bad%FFname");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "INVALID_ARGUMENT");
}

TEST_F(ApiRouterTest, DotSegmentsInThePathAreRefusedNotTakenAsNames) {
  for (const std::string target : {"/api/v1/queues/..", "/api/v1/queues/.", "/api/v1/queues/%2e%2E",
                                   "/api/v1/vhosts/../queues/jobs", "/api/v1/queues/jobs/../messages"}) {
    auto [status, body] = call("PUT", target);
    EXPECT_EQ(status, 400) << target;
    EXPECT_EQ(body["error"]["code"], "INVALID_ARGUMENT") << target;
    EXPECT_NE(body["error"]["message"].get<std::string>().find("dot segment"), std::string::npos) << target;
  }
  auto [status, listed] = call("GET", "/api/v1/queues");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(listed["queues"].empty()) << listed.dump();
}

TEST_F(ApiRouterTest, ABodyThatIsNotLabelledJsonIsRefusedBeforeItIsRead) {
  for (const char* content_type : {"", "text/plain", "application/x-www-form-urlencoded"}) {
    std::promise<ApiResponse> answered;
    router_->handle(ApiRequest{"PUT", "/api/v1/queues/jobs", "{}", content_type},
                    [&](ApiResponse response) { answered.set_value(std::move(response)); });
    const ApiResponse response = answered.get_future().get();
    EXPECT_EQ(response.status, 415) << content_type;
    EXPECT_EQ(json::parse(response.body)["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
  }
  EXPECT_EQ(call("GET", "/api/v1/queues/jobs").first, 404);  // nothing was created
  std::promise<ApiResponse> answered;
  router_->handle(ApiRequest{"PUT", "/api/v1/queues/jobs", "{}", "Application/JSON; charset=utf-8"},
                  [&](ApiResponse response) { answered.set_value(std::move(response)); });
  EXPECT_EQ(answered.get_future().get().status, 201);
}

TEST_F(ApiRouterTest, LongPollsOverTheCapAreRefused) {
  EXPECT_EQ(call("PUT", "/api/v1/queues/jobs").first, 201);
  std::vector<std::promise<ApiResponse>> waiting(2);
  for (auto& promise : waiting) {
    router_->handle(
        ApiRequest{"POST", "/api/v1/queues/jobs/receive", R"({"wait_seconds": 2})", "application/json"},
        [&promise](ApiResponse response) { promise.set_value(std::move(response)); });
  }
  auto [status, body] = call("POST", "/api/v1/queues/jobs/receive", R"({"wait_seconds": 2})");
  EXPECT_EQ(status, 429);
  EXPECT_EQ(body["error"]["code"], "SERVER_BUSY");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("limits.max_long_polls"), std::string::npos);
  for (auto& promise : waiting) EXPECT_EQ(promise.get_future().get().status, 200);
}

}  // namespace
}  // namespace ballast::http
