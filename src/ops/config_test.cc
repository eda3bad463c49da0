#include "ops/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "broker/broker_test_support.h"

namespace ballast::ops {
namespace {

EnvironmentReader environment(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const std::string path = (dir_.path() / "ballast.toml").string();
    std::ofstream(path) << text;
    return path;
  }
  broker::testing::TempDir dir_;
};

TEST_F(ConfigTest, DefaultsAreSafe) {
  auto config = load_config("", {}, environment({}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->http_listen, "127.0.0.1:8080");
  EXPECT_EQ(config->sync_mode, "always");
  EXPECT_EQ(config->data_dir, "./var/ballast");
}

TEST_F(ConfigTest, FlagsBeatEnvironmentBeatsFileBeatsDefaults) {
  const auto path =
      write("[storage]\ndata_dir = \"/from/file\"\nsync_mode = \"interval\"\n[server]\nhttp_threads = 3\n");
  auto config = load_config(
      path, {{"storage.data_dir", "/from/flag"}},
      environment({{"BALLAST_STORAGE_DATA_DIR", "/from/env"}, {"BALLAST_SERVER_HTTP_THREADS", "4"}}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config->data_dir, "/from/flag");
  EXPECT_EQ(config->http_threads, 4u);
  EXPECT_EQ(config->sync_mode, "interval");
}

TEST_F(ConfigTest, EveryProblemIsReportedAtOnceWithItsSource) {
  const auto path =
      write("[storage]\nsync_mdoe = \"always\"\nsegment_size = 10\n[server]\nhttp_threads = \"two\"\n");
  auto config = load_config(path, {}, environment({{"BALLAST_LIMITS_MAX_LONG_POLLS", "0"}}));
  ASSERT_FALSE(config.ok());
  const std::string& message = config.error().message();
  EXPECT_EQ(config.error().code(), ErrorCode::kConfigInvalid);
  EXPECT_NE(message.find("did you mean storage.sync_mode?"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":2"), std::string::npos) << message;
  EXPECT_NE(message.find("storage.segment_size = 10 is outside"), std::string::npos) << message;
  EXPECT_NE(message.find("server.http_threads"), std::string::npos) << message;
  EXPECT_NE(message.find("BALLAST_LIMITS_MAX_LONG_POLLS"), std::string::npos) << message;
}

TEST_F(ConfigTest, BrokerLimitsAreOffByDefaultAndReachTheBroker) {
  auto defaults = load_config("", {}, environment({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(to_broker_options(*defaults).max_disk_bytes, 0u);
  EXPECT_EQ(to_broker_options(*defaults).max_memory_bytes, 0u);
  const auto path = write("[limits]\nmax_disk_bytes = 1073741824\nmax_memory_bytes = 536870912\n");
  auto config = load_config(path, {}, environment({}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(to_broker_options(*config).max_disk_bytes, 1073741824u);
  EXPECT_EQ(to_broker_options(*config).max_memory_bytes, 536870912u);
}

TEST_F(ConfigTest, BrokerLimitsBelowWhatTheBrokerAlwaysHoldsAreRefused) {
  auto config = load_config("", {},
                            environment({{"BALLAST_STORAGE_SEGMENT_SIZE", "1048576"},
                                         {"BALLAST_LIMITS_MAX_MESSAGE_BYTES", "65536"},
                                         {"BALLAST_LIMITS_MAX_DISK_BYTES", "1048576"},
                                         {"BALLAST_LIMITS_MAX_MEMORY_BYTES", "67108864"}}));
  ASSERT_FALSE(config.ok());
  const std::string& message = config.error().message();
  EXPECT_NE(message.find("limits.max_disk_bytes = 1048576 must be 0 (off) or at least four segments, "
                         "4 x storage.segment_size = 4194304"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.max_memory_bytes = 67108864 must be 0 (off) or more than "
                         "storage.read_cache_bytes = 67108864"),
            std::string::npos)
      << message;
}

TEST_F(ConfigTest, ReportsTheChangedKeys) {
  Config a, b;
  b.log_level = "debug";
  EXPECT_EQ(changed_keys(a, b), std::vector<std::string>{"server.log_level"});
}

}  // namespace
}  // namespace ballast::ops
