// [[plugins]] tables through the real configuration loader (ops/config.h).
#include <gtest/gtest.h>

#include <csignal>

#include <fstream>

#include <fmt/format.h>

#include "broker/broker_test_support.h"
#include "ops/config.h"
#include "ops/plugin_checks.h"

namespace ballast::ops {
namespace {

class PluginsConfigTest : public ::testing::Test {
 protected:
  ConfigDraft load(const std::string& text) {
    const std::string path = (dir_.path() / "ballast.toml").string();
    std::ofstream(path) << text;
    return load_config_draft(path, {},
                             [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  }
  static std::string all(const ConfigDraft& draft) {
    std::string joined;
    for (const auto& problem : draft.problems) joined += problem + "\n";
    return joined;
  }
  broker::testing::TempDir dir_;
};

TEST_F(PluginsConfigTest, ReadsEveryKeyOfAPluginsTable) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "spam-filter"
kind = "filter"
command = ["/usr/bin/python3", "/opt/spam.py", "--strict"]
queues = ["mail.in", "mail.bulk"]
policy = "bypass"
call_timeout_ms = 250
handshake_timeout_ms = 2000
ping_interval_ms = 1000
max_memory_bytes = 0
max_open_files = 64
watch = true
watch_interval_ms = 250
options = { threshold = "5" }

[[plugins]]
name = "second"
kind = "filter"
command = ["second-filter"]
queues = ["other"]
)");
  ASSERT_TRUE(draft.problems.empty()) << all(draft);
  ASSERT_EQ(draft.config.plugins.size(), 2u);
  const plugins::PluginConfig& spam = draft.config.plugins[0];
  EXPECT_EQ(spam.name, "spam-filter");
  EXPECT_EQ(spam.command, (std::vector<std::string>{"/usr/bin/python3", "/opt/spam.py", "--strict"}));
  EXPECT_EQ(spam.queues, (std::vector<std::string>{"mail.in", "mail.bulk"}));
  EXPECT_EQ(spam.policy, plugins::FilterPolicy::kBypass);
  EXPECT_EQ(spam.call_timeout_ms, 250u);
  EXPECT_EQ(spam.handshake_timeout_ms, 2000u);
  EXPECT_EQ(spam.ping_interval_ms, 1000u);
  EXPECT_EQ(spam.max_memory_bytes, 0u);
  EXPECT_EQ(spam.max_open_files, 64u);
  EXPECT_TRUE(spam.watch);
  EXPECT_EQ(spam.watch_interval_ms, 250u);
  EXPECT_EQ(spam.options.at("threshold"), "5");
  const plugins::PluginConfig& second = draft.config.plugins[1];
  EXPECT_FALSE(second.watch);
  EXPECT_EQ(second.policy, plugins::FilterPolicy::kHold);
  EXPECT_EQ(second.call_timeout_ms, 1000u);
  EXPECT_EQ(second.max_memory_bytes, 512ull << 20);
}

TEST_F(PluginsConfigTest, TriggersTakeRetryKeysAndNoPolicy) {
  const ConfigDraft good = load(R"([[plugins]]
name = "hook"
kind = "trigger"
command = ["/bin/t"]
queues = ["orders", "mail.in"]
retry_initial_ms = 50
retry_max_ms = 400
max_attempts = 3
concurrency = 2

[[plugins]]
name = "hook2"
kind = "trigger"
command = ["/bin/t"]
queues = ["orders"]
)");
  ASSERT_TRUE(all(good).empty()) << all(good);
  const plugins::PluginConfig& hook = good.config.plugins[0];
  EXPECT_EQ(hook.kind, "trigger");
  EXPECT_EQ(hook.retry, (plugins::TriggerRetry{50, 400, 3, 2}));
  EXPECT_EQ(good.config.plugins[1].retry, plugins::TriggerRetry{});

  const std::string problems = all(load(R"([[plugins]]
name = "hook"
kind = "trigger"
command = ["/bin/t"]
queues = ["ballast.dead-letter"]
policy = "hold"
retry_initial_ms = 500
retry_max_ms = 100

[[plugins]]
name = "f"
kind = "filter"
command = ["/bin/f"]
queues = ["q", "ballast.held.q", ")" + std::string(243, 'l') +
                                        R"("]
max_attempts = 3
)"));
  EXPECT_NE(problems.find("plugins[0].policy applies to kind = \"filter\" only"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[0].retry_max_ms = 100 is below retry_initial_ms = 500"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("queue \"ballast.dead-letter\" is one of the broker's own"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].max_attempts applies to kind = \"trigger\" only"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].queues: queue \"ballast.held.q\" is one of the broker's own"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("has 243 bytes; a filtered queue's name has at most 242"), std::string::npos)
      << problems;
}

TEST_F(PluginsConfigTest, EveryProblemIsReportedAtOnceWithFileLineAndKey) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "Bad Name"
kind = "relay"
command = []
queues = ["q"]
polcy = "hold"
call_timeout_ms = 5

[[plugins]]
name = "other"
kind = "filter"
command = ["/bin/f"]
queues = ["q"]
policy = "drop"
watch = "yes"
options = { level = 5 }

[[plugins]]
name = "other"
kind = "filter"
command = ["/bin/g"]
queues = ["r"]
)");
  const std::string problems = all(draft);
  EXPECT_NE(problems.find(":2: plugins[0].name = \"Bad Name\" must be"), std::string::npos) << problems;
  EXPECT_NE(problems.find("plugins[0].kind = \"relay\" is not \"filter\" or \"trigger\""), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[0].command must be a non-empty array"), std::string::npos) << problems;
  EXPECT_NE(problems.find(":6: unknown key plugins[0].polcy (did you mean policy?)"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[0].call_timeout_ms = 5 is not a whole number in 10..600000"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].policy = \"drop\" is not one of hold, bypass, reject"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].watch must be true or false"), std::string::npos) << problems;
  EXPECT_NE(problems.find("plugins[1].options value of \"level\" must be a string"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].queues: queue \"q\" already has the filter"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[2].name = \"other\" is used by an earlier"), std::string::npos)
      << problems;
  auto loaded = load_config((dir_.path() / "ballast.toml").string(), {},
                            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code(), ErrorCode::kConfigInvalid);
}

TEST_F(PluginsConfigTest, AQueueListedTwiceForOnePluginIsNamedWithTheFix) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "hook"
kind = "trigger"
command = ["/bin/t"]
queues = ["orders", "mail", "orders"]

[[plugins]]
name = "spam"
kind = "filter"
command = ["/bin/f"]
queues = ["in", "in"]
)");
  const std::string problems = all(draft);
  EXPECT_NE(
      problems.find(":5: plugins[0].queues: queue \"orders\" is listed twice for plug-in \"hook\"; remove "
                    "the second \"orders\" from queues"),
      std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].queues: queue \"in\" is listed twice for plug-in \"spam\""),
            std::string::npos)
      << problems;
  // Not also reported as a queue with two filters.
  EXPECT_EQ(problems.find("already has the filter"), std::string::npos) << problems;
  EXPECT_TRUE(draft.config.plugins.empty());
  auto loaded = load_config((dir_.path() / "ballast.toml").string(), {},
                            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code(), ErrorCode::kConfigInvalid);
}

TEST_F(PluginsConfigTest, ReadsTheCgroupKeysAndLeavesThemUnsetByDefault) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "boxed"
kind = "filter"
command = ["/bin/f"]
queues = ["in"]
cgroup_memory_max_bytes = 67108864
cgroup_pids_max = 32
cgroup_cpu_max_percent = 150

[[plugins]]
name = "free"
kind = "trigger"
command = ["/bin/t"]
queues = ["out"]
cgroup_pids_max = 0
)");
  ASSERT_TRUE(draft.problems.empty()) << all(draft);
  ASSERT_EQ(draft.config.plugins.size(), 2u);
  const plugins::PluginConfig& boxed = draft.config.plugins[0];
  EXPECT_EQ(boxed.cgroup_memory_max_bytes, 64ull << 20);
  EXPECT_EQ(boxed.cgroup_pids_max, 32u);
  EXPECT_EQ(boxed.cgroup_cpu_max_percent, 150u);
  EXPECT_TRUE(boxed.wants_cgroup());
  const plugins::PluginConfig& free = draft.config.plugins[1];
  EXPECT_EQ(free.cgroup_memory_max_bytes, 0u);
  EXPECT_EQ(free.cgroup_pids_max, 0u);
  EXPECT_EQ(free.cgroup_cpu_max_percent, 0u);
  EXPECT_FALSE(free.wants_cgroup());
}

TEST_F(PluginsConfigTest, CgroupKeysOutOfRangeAreNamedWithTheirRange) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "boxed"
kind = "filter"
command = ["/bin/f"]
queues = ["in"]
cgroup_memory_max_bytes = 4096
cgroup_pids_max = -1
cgroup_cpu_max_percent = 100001

[[plugins]]
name = "huge"
kind = "filter"
command = ["/bin/f"]
queues = ["other"]
cgroup_memory_max_bytes = 2199023255552
cgroup_pids_max = "many"
)");
  const std::string problems = all(draft);
  EXPECT_NE(problems.find(":6: plugins[0].cgroup_memory_max_bytes = 4096 is below 1048576: set at least "
                          "1048576, or 0 (or leave it out) for no cgroup limit"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find(":7: plugins[0].cgroup_pids_max = -1 is not a whole number in 0..4194304"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[0].cgroup_cpu_max_percent = 100001 is not a whole number in 0..100000"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].cgroup_memory_max_bytes = 2199023255552 is not a whole number in "
                          "0..1099511627776"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("plugins[1].cgroup_pids_max = (not a number) is not a whole number"),
            std::string::npos)
      << problems;
  EXPECT_TRUE(draft.config.plugins.empty());
}

TEST_F(PluginsConfigTest, PluginsMustBeAnArrayOfTables) {
  const ConfigDraft draft = load("plugins = \"spam\"\n");
  EXPECT_NE(all(draft).find("plugins must be an array of tables"), std::string::npos) << all(draft);
}

TEST_F(PluginsConfigTest, MissingRequiredKeysAreNamed) {
  const ConfigDraft draft = load("[[plugins]]\npolicy = \"hold\"\n");
  const std::string problems = all(draft);
  for (const char* key : {"plugins[0].name is missing", "plugins[0].kind is missing",
                          "plugins[0].command is missing", "plugins[0].queues is missing"}) {
    EXPECT_NE(problems.find(key), std::string::npos) << key << "\n" << problems;
  }
  EXPECT_TRUE(draft.config.plugins.empty());
}

TEST_F(PluginsConfigTest, AChangeOfPluginsIsAChangedKey) {
  Config a, b;
  b.plugins.emplace_back();
  EXPECT_EQ(changed_keys(a, b), std::vector<std::string>{"plugins"});
}

TEST_F(PluginsConfigTest, TheStartupCheckWarnsOfAMissingExecutableAndPassesAPresentOne) {
  const ConfigDraft draft = load(R"([[plugins]]
name = "ghost"
kind = "filter"
command = ["/nonexistent/ghost-filter"]
queues = ["a"]

[[plugins]]
name = "shell"
kind = "filter"
command = ["sh", "-c", "exit 0"]
queues = ["b"]
)");
  ASSERT_TRUE(draft.problems.empty()) << all(draft);
  std::vector<CheckResult> results;
  check_plugins(draft.config, PluginProbe::kExecutableOnly, results);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].name, "plugins.ghost");
  EXPECT_EQ(results[0].status, CheckStatus::kWarn);
  EXPECT_EQ(results[0].code, ErrorCode::kPluginUnavailable);
  EXPECT_NE(results[0].message.find("/nonexistent/ghost-filter"), std::string::npos) << results[0].message;
  EXPECT_EQ(results[1].name, "plugins.shell");
  EXPECT_EQ(results[1].status, CheckStatus::kOk) << results[1].message;
}

TEST_F(PluginsConfigTest, TheDoctorStartsEachPluginOnceAndChecksItsHandshake) {
  signal(SIGPIPE, SIG_IGN);  // as the doctor does: a plug-in may exit before reading its hello
  const ConfigDraft draft = load(fmt::format(R"([[plugins]]
name = "example"
kind = "filter"
command = ["/usr/bin/python3", "{}/examples/plugins/python_filter.py"]
queues = ["a"]

[[plugins]]
name = "quits"
kind = "filter"
command = ["sh", "-c", "echo 'no config here' >&2; exit 3"]
queues = ["b"]

[[plugins]]
name = "mute"
kind = "filter"
command = ["sleep", "30"]
queues = ["c"]
handshake_timeout_ms = 300
)",
                                             BALLAST_SOURCE_DIR));
  ASSERT_TRUE(draft.problems.empty()) << all(draft);
  std::vector<CheckResult> results;
  check_plugins(draft.config, PluginProbe::kHandshake, results);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, CheckStatus::kOk) << results[0].message;
  EXPECT_NE(results[0].message.find("handshakes (version 1.0.0)"), std::string::npos) << results[0].message;
  EXPECT_EQ(results[1].status, CheckStatus::kWarn);
  EXPECT_EQ(results[1].code, ErrorCode::kPluginUnavailable);
  EXPECT_NE(results[1].message.find("plug-in \"quits\""), std::string::npos) << results[1].message;
  EXPECT_NE(results[1].message.find("no config here"), std::string::npos) << results[1].message;
  EXPECT_EQ(results[2].status, CheckStatus::kWarn);
  EXPECT_NE(results[2].message.find("within handshake_timeout_ms = 300 ms"), std::string::npos)
      << results[2].message;
}

}  // namespace
}  // namespace ballast::ops
