// Publish filters in the broker core: verdicts applied to direct and routed publishes, and the
// hold, bypass and refuse policies for a filter that is down (docs/plugins.md). The filter here
// is a small rule-based PublishFilter answering on its own thread, as the plug-in host does.
#include <gtest/gtest.h>

#include <thread>

#include "broker/broker_test_support.h"

namespace ballast::broker {
namespace {

using testing::await_call;
using testing::eventually;
using testing::ManualClock;
using testing::TempDir;

enum class DownPolicy { kHold, kBypass, kRefuse };

// Filters queue "jobs" by body: "reject..." is refused, "spam..." goes to queue "spam",
// "modify..." is rewritten, anything else is accepted. While `up` is false it answers by `policy`.
class RuleFilter final : public PublishFilter {
 public:
  std::atomic<bool> up{true};
  std::atomic<DownPolicy> policy{DownPolicy::kHold};
  std::atomic<int> calls{0};

  ~RuleFilter() override { drain(); }
  // Waits for every answer under way (the broker must not stop before its filter has answered).
  void drain() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }
  bool filters(const std::string& vhost, const std::string& queue) const override {
    return vhost == "/" && queue == "jobs";
  }
  bool filters_any(const std::string& vhost) const override { return vhost == "/"; }
  bool available(const std::string&, const std::string&) const override { return up.load(); }
  void filter(const std::string&, const std::string&, std::vector<PublishRequest> messages,
              std::function<void(std::vector<FilterVerdict>)> done) override {
    ++calls;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, messages = std::move(messages), done]() mutable {
      std::vector<FilterVerdict> verdicts;
      for (PublishRequest& message : messages) verdicts.push_back(judge(std::move(message)));
      done(std::move(verdicts));
    });
  }

 private:
  FilterVerdict judge(PublishRequest message) const {
    FilterVerdict verdict;
    if (!up.load()) {
      switch (policy.load()) {
        case DownPolicy::kHold:
          verdict.action = FilterAction::kHold;
          break;
        case DownPolicy::kBypass:
          verdict.action = FilterAction::kBypass;
          verdict.bypass_header = "rules: down for the test";
          break;
        case DownPolicy::kRefuse:
          verdict.action = FilterAction::kRefuse;
          verdict.refusal = Error(ErrorCode::kPluginUnavailable, "plug-in rules is down", "start it");
          break;
      }
    } else if (message.body.starts_with("reject")) {
      verdict.action = FilterAction::kRefuse;
      verdict.refusal = Error(ErrorCode::kPluginRejected, "plug-in rules rejected it: bad word", "");
    } else if (message.body.starts_with("spam")) {
      verdict.action = FilterAction::kReroute;
      verdict.queue = "spam";
    } else if (message.body.starts_with("modify")) {
      message.body = "modified";
    }
    verdict.message = std::move(message);
    return verdict;
  }

  std::mutex mu_;
  std::vector<std::thread> threads_;
};

PublishRequest with_body(std::string body) {
  PublishRequest request;
  request.body = std::move(body);
  return request;
}

class BrokerFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    start();
    create("jobs");
    create("spam");
    create("plain");
  }
  void TearDown() override { stop(); }

  void stop() {
    filter_.drain();
    broker_->stop();
    filter_.drain();
    broker_.reset();
  }

  void start() {
    BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    options.segment_bytes = 1 << 20;
    options.checkpoint_interval_ms = 3'600'000;
    broker_ = std::make_unique<BrokerCore>(options, std::make_unique<storage::PosixFileSystem>(),
                                           std::make_unique<ManualClock>());
    auto status = broker_->open();
    ASSERT_TRUE(status.ok()) << status.error().describe();
    broker_->set_publish_filter(&filter_);
    broker_->run();
  }

  void create(const std::string& name) {
    auto created =
        await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", name, {}, done); });
    ASSERT_TRUE(created.ok()) << created.error().describe();
  }

  Result<PublishOutcome> publish(const std::string& name, std::vector<std::string> bodies) {
    std::vector<PublishRequest> messages;
    for (std::string& body : bodies) messages.push_back(with_body(std::move(body)));
    return await_call<PublishOutcome>([&](auto done) { broker_->publish("/", name, messages, done); });
  }

  Result<std::vector<RouteResult>> publish_routed(std::vector<std::pair<std::string, std::string>> keyed) {
    std::vector<RoutedMessage> messages;
    for (auto& [key, body] : keyed) messages.push_back(RoutedMessage{"", key, {}, with_body(body)});
    return await_call<std::vector<RouteResult>>(
        [&](auto done) { broker_->publish_routed("/", messages, done); });
  }

  std::vector<DeliveredMessage> peek(const std::string& name) {
    auto peeked =
        await_call<std::vector<DeliveredMessage>>([&](auto done) { broker_->peek("/", name, 100, done); });
    return peeked.ok() ? std::move(*peeked) : std::vector<DeliveredMessage>{};
  }

  std::vector<std::string> bodies(const std::string& name) {
    std::vector<std::string> result;
    for (const DeliveredMessage& message : peek(name)) result.push_back(message.body);
    return result;
  }

  TempDir dir_;
  RuleFilter filter_;
  std::unique_ptr<BrokerCore> broker_;
};

using Bodies = std::vector<std::string>;

TEST_F(BrokerFilterTest, VerdictsDecideWhereADirectPublishIsStored) {
  ASSERT_TRUE(publish("jobs", {"hello", "spam offer", "modify me"}).ok());
  EXPECT_EQ(bodies("jobs"), (Bodies{"hello", "modified"}));
  EXPECT_EQ(bodies("spam"), (Bodies{"spam offer"}));
}

TEST_F(BrokerFilterTest, ARejectedMessageRefusesItsWholeBatchNamingIt) {
  auto refused = publish("jobs", {"fine", "reject this"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kPluginRejected);
  EXPECT_NE(refused.error().message().find("message 1 of 2"), std::string::npos) << refused.error().message();
  EXPECT_TRUE(bodies("jobs").empty());
}

TEST_F(BrokerFilterTest, QueuesWithoutAFilterNeverAskIt) {
  ASSERT_TRUE(publish("plain", {"reject is fine here"}).ok());
  auto routed = publish_routed({{"plain", "also fine"}});
  ASSERT_TRUE(routed.ok());
  EXPECT_EQ(filter_.calls.load(), 0);
  EXPECT_EQ(bodies("plain"), (Bodies{"reject is fine here", "also fine"}));
}

TEST_F(BrokerFilterTest, RoutedPublishesGetOneResultPerMessage) {
  auto routed =
      publish_routed({{"jobs", "ok"}, {"plain", "untouched"}, {"jobs", "reject me"}, {"jobs", "spam"}});
  ASSERT_TRUE(routed.ok()) << routed.error().describe();
  ASSERT_EQ(routed->size(), 4u);
  EXPECT_EQ((*routed)[0].queues, 1u);
  EXPECT_FALSE((*routed)[0].refused);
  EXPECT_EQ((*routed)[1].queues, 1u);
  ASSERT_TRUE((*routed)[2].refused);
  EXPECT_EQ((*routed)[2].refused->code(), ErrorCode::kPluginRejected);
  EXPECT_EQ((*routed)[3].queues, 1u);
  EXPECT_EQ(bodies("jobs"), (Bodies{"ok"}));
  EXPECT_EQ(bodies("plain"), (Bodies{"untouched"}));
  EXPECT_EQ(bodies("spam"), (Bodies{"spam"}));
}

TEST_F(BrokerFilterTest, BypassStoresUnfilteredAndTagged) {
  filter_.up = false;
  filter_.policy = DownPolicy::kBypass;
  ASSERT_TRUE(publish("jobs", {"reject would have been refused"}).ok());
  auto stored = peek("jobs");
  ASSERT_EQ(stored.size(), 1u);
  const auto& headers = stored[0].properties.headers;
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].first, "x-ballast-filter-bypassed");
  EXPECT_EQ(headers[0].second, "rules: down for the test");
}

TEST_F(BrokerFilterTest, RefusePolicyAnswersPluginUnavailable) {
  filter_.up = false;
  filter_.policy = DownPolicy::kRefuse;
  auto refused = publish("jobs", {"anything"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kPluginUnavailable);
  auto routed = publish_routed({{"jobs", "anything"}});
  ASSERT_TRUE(routed.ok());
  ASSERT_TRUE((*routed)[0].refused);
  EXPECT_EQ((*routed)[0].refused->code(), ErrorCode::kPluginUnavailable);
  EXPECT_TRUE(bodies("jobs").empty());
}

TEST_F(BrokerFilterTest, HeldMessagesSurviveARestartAndAreFilteredWhenTheFilterIsBack) {
  filter_.up = false;
  filter_.policy = DownPolicy::kHold;
  ASSERT_TRUE(publish("jobs", {"first", "reject later", "spam later", "modify later"}).ok());
  auto routed = publish_routed({{"jobs", "routed"}});
  ASSERT_TRUE(routed.ok());
  EXPECT_EQ((*routed)[0].queues, 1u);
  EXPECT_TRUE(bodies("jobs").empty());
  EXPECT_EQ(bodies("ballast.held.jobs").size(), 5u);

  stop();
  start();
  EXPECT_EQ(bodies("ballast.held.jobs").size(), 5u);
  filter_.up = true;
  ASSERT_TRUE(eventually([&] { return bodies("jobs").size() == 3; }, std::chrono::seconds(10)));
  EXPECT_EQ(bodies("jobs"), (Bodies{"first", "modified", "routed"}));
  EXPECT_EQ(bodies("spam"), (Bodies{"spam later"}));
  ASSERT_TRUE(eventually([&] { return bodies("ballast.held.jobs").empty(); }));
  auto dead = peek("ballast.dead-letter");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, "reject later");
}

}  // namespace
}  // namespace ballast::broker
