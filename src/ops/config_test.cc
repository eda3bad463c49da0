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

TEST_F(ConfigTest, ReportsTheChangedKeys) {
  Config a, b;
  b.log_level = "debug";
  EXPECT_EQ(changed_keys(a, b), std::vector<std::string>{"server.log_level"});
}

}  // namespace
}  // namespace ballast::ops
