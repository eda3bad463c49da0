// The command-trigger's options and the environment of a run.
#include "plugins/command_trigger/command_settings.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "plugins/command_trigger/command_environment.h"

namespace ballast::command_trigger {
namespace {

std::string problem(const std::map<std::string, std::string>& options) {
  auto parsed = parse_command_settings("run-it", options);
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error().code(), ErrorCode::kConfigInvalid);
  return parsed.error().describe();
}

TEST(CommandSettings, ReadsTheArgvTimeoutAndWorkingDirectory) {
  auto parsed = parse_command_settings(
      "run-it",
      {{"command", R"(["/bin/sh", "-c", "cat > out"])"}, {"timeout_ms", "2500"}, {"working_dir", "/tmp"}});
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->argv, (std::vector<std::string>{"/bin/sh", "-c", "cat > out"}));
  EXPECT_EQ(parsed->timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(parsed->working_dir, "/tmp");
  parsed = parse_command_settings("run-it", {{"command", R"(["sh"])"}});
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->timeout, std::chrono::milliseconds(10000));
  EXPECT_TRUE(parsed->working_dir.empty());
}

TEST(CommandSettings, EveryBadOptionIsNamedWithItsFix) {
  std::string why = problem({});
  EXPECT_NE(
      why.find("CONFIG_INVALID: plug-in \"run-it\": the option command is missing. Fix: add command = "),
      std::string::npos)
      << why;
  why = problem({{"command", "/bin/sh"}});
  EXPECT_NE(why.find("the option command = /bin/sh is not a non-empty JSON array"), std::string::npos) << why;
  why = problem({{"command", "[]"}});
  EXPECT_NE(why.find("is not a non-empty JSON array"), std::string::npos) << why;
  why = problem({{"command", R"(["/bin/sh", 3])"}});
  EXPECT_NE(why.find("holds 3 where a string is needed"), std::string::npos) << why;
  why = problem({{"command", R"(["/no/such/program"])"}});
  EXPECT_NE(why.find("names \"/no/such/program\", which is not an executable file"), std::string::npos)
      << why;
  why = problem({{"command", R"(["no-such-program-on-path"])"}});
  EXPECT_NE(why.find("in the directories of PATH"), std::string::npos) << why;
  why = problem({{"command", R"(["/bin/sh"])"}, {"timeout_ms", "5s"}});
  EXPECT_NE(why.find("the option timeout_ms = \"5s\" is not a whole number of milliseconds in 10..600000"),
            std::string::npos)
      << why;
  why = problem({{"command", R"(["/bin/sh"])"}, {"working_dir", "relative/dir"}});
  EXPECT_NE(why.find("working_dir = \"relative/dir\" is not an absolute path to a directory"),
            std::string::npos)
      << why;
  why = problem({{"command", R"(["/bin/sh"])"}, {"timeout", "100"}});
  EXPECT_NE(why.find("unknown option \"timeout\". Fix: write timeout_ms instead"), std::string::npos) << why;
}

TEST(CommandSettings, ARelativeCommandIsFoundInTheWorkingDirectory) {
  EXPECT_TRUE(parse_command_settings("run-it", {{"command", R"(["./sh"])"}, {"working_dir", "/bin"}}).ok());
  EXPECT_FALSE(parse_command_settings("run-it", {{"command", R"(["./sh"])"}, {"working_dir", "/tmp"}}).ok());
}

TEST(CommandEnvironment, HeaderNamesBecomeUpperCaseVariables) {
  EXPECT_EQ(header_variable("x-order-id"), "BALLAST_HEADER_X_ORDER_ID");
  EXPECT_EQ(header_variable("Reply.To 2"), "BALLAST_HEADER_REPLY_TO_2");
  EXPECT_EQ(header_variable("é"), "BALLAST_HEADER___");
  EXPECT_EQ(header_variable(""), "BALLAST_HEADER_");
}

TEST(CommandEnvironment, CarriesTheMetadataAndNoInheritedBallastVariable) {
  plugin::TriggerCall call;
  call.vhost = "/";
  call.queue = "orders";
  call.attempt = 2;
  call.message.id = "m-1";
  call.message.published_at_ms = 42;
  call.message.routing_key = "orders.eu";
  call.message.headers = {{"x-a", "1"}, {"X_A", "2"}, {"tenant", "acme"}};
  const auto environment =
      command_environment(call, {"PATH=/usr/bin", "BALLAST_QUEUE=stale", "BALLAST_HEADER_TENANT=stale"});
  const std::vector<std::string> expected = {"PATH=/usr/bin",
                                             "BALLAST_VHOST=/",
                                             "BALLAST_QUEUE=orders",
                                             "BALLAST_MESSAGE_ID=m-1",
                                             "BALLAST_ATTEMPT=2",
                                             "BALLAST_PUBLISHED_AT_MS=42",
                                             "BALLAST_ROUTING_KEY=orders.eu",
                                             "BALLAST_HEADER_X_A=2",
                                             "BALLAST_HEADER_TENANT=acme"};
  EXPECT_EQ(environment, expected);
  call.message.routing_key.clear();
  const auto without = command_environment(call, {});
  EXPECT_EQ(std::count_if(without.begin(), without.end(),
                          [](const std::string& entry) { return entry.starts_with("BALLAST_ROUTING_KEY="); }),
            0);
}

TEST(CommandText, JoinsTheArgvAndStaysShort) {
  EXPECT_EQ(command_text({"/bin/sh", "-c", "exit 3"}), "/bin/sh -c exit 3");
  EXPECT_EQ(command_text({std::string(300, 'x')}).size(), 200u);
}

}  // namespace
}  // namespace ballast::command_trigger
