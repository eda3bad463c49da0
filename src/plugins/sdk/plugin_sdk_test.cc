// The plug-in client library over real pipes: run() on a thread, the broker's side written by
// the test with the broker's own frame codec (so both ends agree on the wire format).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "ballast/plugin.h"
#include "plugins/frame_codec.h"
#include "util/base64.h"

namespace ballast::plugin {
namespace {

using nlohmann::json;

class SdkPipes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe(to_plugin_), 0);
    ASSERT_EQ(pipe(from_plugin_), 0);
  }
  void TearDown() override {
    close_input();
    if (runner_.joinable()) runner_.join();
    ::close(from_plugin_[0]);
  }
  void start(Handlers handlers) {
    runner_ = std::thread([this, handlers = std::move(handlers)] {
      status_ = run(handlers, to_plugin_[0], from_plugin_[1]);
      ::close(to_plugin_[0]);
      ::close(from_plugin_[1]);
    });
  }
  void send(const json& frame) {
    const std::string bytes = plugins::encode_frame(frame);
    ASSERT_EQ(::write(to_plugin_[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // The plug-in's next frame; null at end of its output.
  json receive() {
    char buffer[4096];
    for (int reads = 0; reads < 1000; ++reads) {
      auto frame = decoder_.next();
      EXPECT_TRUE(frame) << frame.error().describe();
      if (!frame) return nullptr;
      if (*frame) return **frame;
      const ssize_t got = ::read(from_plugin_[0], buffer, sizeof buffer);
      if (got <= 0) return nullptr;
      decoder_.feed(std::string_view(buffer, static_cast<size_t>(got)));
    }
    return nullptr;
  }
  void close_input() {
    if (to_plugin_[1] >= 0) ::close(to_plugin_[1]);
    to_plugin_[1] = -1;
  }
  json hello(std::string kind) {
    return json{{"type", "hello"},    {"protocol", 1}, {"broker", "ballast test"},
                {"name", "sdk-test"}, {"kind", kind},  {"options", {{"word", "spam"}}}};
  }
  json message(std::string body) {
    return json{{"id", "m-1"},
                {"body_base64", base64_encode(body)},
                {"content_type", "text/plain"},
                {"correlation_id", ""},
                {"reply_to", ""},
                {"headers", {{"h", "1"}}},
                {"priority", 0},
                {"published_at_ms", 42}};
  }

  // Runs a trigger-only plug-in through `frames` on fresh pipes; its exit status once its output
  // ended. answers_ counts the frames it wrote.
  int status_after(const std::vector<json>& frames) {
    TearDown();
    SetUp();
    decoder_ = plugins::FrameDecoder();
    Handlers handlers;
    handlers.on_trigger = [](const TriggerCall&) { return Outcome::done(); };
    start(handlers);
    for (const json& frame : frames) send(frame);
    answers_ = 0;
    while (answers_ < frames.size() && !receive().is_null()) ++answers_;
    runner_.join();
    return status_;
  }

  int to_plugin_[2] = {-1, -1};
  int from_plugin_[2] = {-1, -1};
  std::thread runner_;
  int status_ = -1;
  size_t answers_ = 0;
  plugins::FrameDecoder decoder_;
};

TEST_F(SdkPipes, AFilterHandshakesAnswersPingsAndFilters) {
  Handlers handlers;
  handlers.version = "9.9";
  std::string word;
  handlers.on_hello = [&](const Hello& hello) -> std::optional<std::string> {
    word = hello.options.at("word");
    return std::nullopt;
  };
  handlers.on_filter = [&](const FilterCall& call) {
    if (call.message.body.find(word) != std::string::npos) return Verdict::reject("has " + word);
    return Verdict::modify(std::map<std::string, std::string>{{"x", call.queue}}, call.message.body + "!");
  };
  start(handlers);
  send(hello("filter"));
  const json answer = receive();
  EXPECT_EQ(answer["type"], "hello");
  EXPECT_EQ(answer["protocol"], 1);
  EXPECT_EQ(answer["name"], "sdk-test");
  EXPECT_EQ(answer["version"], "9.9");
  EXPECT_EQ(answer["capabilities"], json::array({"filter"}));
  send(json{{"type", "ping"}, {"id", 5}});
  EXPECT_EQ(receive(), (json{{"type", "pong"}, {"id", 5}}));
  send(json{{"type", "filter"}, {"id", 6}, {"vhost", "/"}, {"queue", "q"}, {"message", message("buy spam")}});
  const json rejected = receive();
  EXPECT_EQ(rejected["id"], 6);
  EXPECT_EQ(rejected["action"], "reject");
  EXPECT_EQ(rejected["reason"], "has spam");
  send(json{{"type", "filter"}, {"id", 7}, {"vhost", "/"}, {"queue", "q"}, {"message", message("hi")}});
  const json modified = receive();
  EXPECT_EQ(modified["action"], "modify");
  EXPECT_EQ(modified["headers"]["x"], "q");
  EXPECT_EQ(base64_decode(modified["body_base64"].get<std::string>()), "hi!");
  close_input();
  runner_.join();
  EXPECT_EQ(status_, 0);
}

TEST_F(SdkPipes, ATriggerGetsTheAttemptAndAnswersAnOutcome) {
  Handlers handlers;
  handlers.on_trigger = [](const TriggerCall& call) {
    if (call.attempt < 2)
      return Outcome::retry("attempt " + std::to_string(call.attempt) + " of " + call.queue);
    return call.message.published_at_ms == 42 ? Outcome::done() : Outcome::failed("wrong time");
  };
  start(handlers);
  send(hello("trigger"));
  EXPECT_EQ(receive()["capabilities"], json::array({"trigger"}));
  send(json{{"type", "trigger"},
            {"id", 3},
            {"vhost", "/"},
            {"queue", "orders"},
            {"attempt", 1},
            {"message", message("x")}});
  EXPECT_EQ(receive(),
            (json{{"type", "outcome"}, {"id", 3}, {"result", "retry"}, {"reason", "attempt 1 of orders"}}));
  send(json{{"type", "trigger"},
            {"id", 4},
            {"vhost", "/"},
            {"queue", "orders"},
            {"attempt", 2},
            {"message", message("x")}});
  EXPECT_EQ(receive(), (json{{"type", "outcome"}, {"id", 4}, {"result", "done"}}));
}

TEST_F(SdkPipes, ARefusedHelloAndAnUnhandledCallEndTheRunWithStatusTwo) {
  Handlers refusing;
  refusing.on_trigger = [](const TriggerCall&) { return Outcome::done(); };
  refusing.on_hello = [](const Hello&) -> std::optional<std::string> { return "the option url is missing"; };
  start(refusing);
  send(hello("trigger"));
  EXPECT_TRUE(receive().is_null());
  runner_.join();
  EXPECT_EQ(status_, 2);
}

TEST_F(SdkPipes, AFilterCallToATriggerOnlyPluginIsAProblem) {
  Handlers handlers;
  handlers.on_trigger = [](const TriggerCall&) { return Outcome::done(); };
  start(handlers);
  send(hello("trigger"));
  receive();
  send(json{{"type", "filter"}, {"id", 1}, {"vhost", "/"}, {"queue", "q"}, {"message", message("x")}});
  EXPECT_TRUE(receive().is_null());
  runner_.join();
  EXPECT_EQ(status_, 2);
}

// A wrongly typed member used to escape as nlohmann::json::type_error and abort the plug-in.
TEST_F(SdkPipes, AWronglyTypedCallMemberIsAProtocolProblemNotAnException) {
  json bad_message = message("x");
  bad_message["priority"] = "high";
  EXPECT_EQ(
      status_after({hello("trigger"), json{{"type", "ping"}, {"id", 1}},
                    json{{"type", "trigger"}, {"id", 2}, {"attempt", "two"}, {"message", message("x")}}}),
      2);
  EXPECT_EQ(answers_, 2u);  // the hello and the pong
  EXPECT_EQ(status_after({hello("trigger"), json{{"type", "trigger"}, {"id", 1}, {"message", bad_message}}}),
            2);
  EXPECT_EQ(status_after({hello("trigger"), json{{"type", "trigger"}, {"id", 1}, {"queue", 5}}}), 2);
}

TEST_F(SdkPipes, AWronglyTypedIdOrHelloMemberIsAProtocolProblem) {
  EXPECT_EQ(status_after({hello("trigger"), json{{"type", "ping"}, {"id", "one"}}}), 2);
  EXPECT_EQ(status_after({hello("trigger"), json{{"type", "ping"}, {"id", -1}}}), 2);
  json bad_hello = hello("trigger");
  bad_hello["name"] = 7;
  EXPECT_EQ(status_after({bad_hello}), 2);
  EXPECT_EQ(answers_, 0u);
}

}  // namespace
}  // namespace ballast::plugin
