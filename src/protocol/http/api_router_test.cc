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
    router_ = std::make_unique<ApiRouter>(*broker_, 2);
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
  std::unique_ptr<ApiRouter> router_;
};

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
