#pragma once
// A test fixture for the plug-in host with a real broker (a journal in a temporary directory):
// opens the broker in SetUp, starts the host on it with start_host(), stops both in TearDown.
// Ignores SIGPIPE, as ballastd does. Test-only; not thread-safe.

#include <signal.h>

#include <gtest/gtest.h>

#include "broker/broker_test_support.h"
#include "plugins/plugin_host.h"

namespace ballast::plugins::testing {

class HostWithBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    broker::BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    options.segment_bytes = 1 << 20;
    options.reserve_bytes = 1 << 20;
    auto opened = broker::Broker::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    broker_ = std::move(*opened);
  }
  void TearDown() override {
    host_.stop();
    if (broker_) broker_->stop();
  }

  // Starts the host with `configs` as the broker's filter and triggers, runs the broker, and
  // (run_host) runs the host on it: trigger workers and run-time changes.
  void start_host(std::vector<PluginConfig> configs, bool run_host = true,
                  const std::map<std::string, std::string>& runtime_settings = {}) {
    auto started = host_.start(std::move(configs), runtime_settings);
    ASSERT_TRUE(started.ok()) << started.error().describe();
    broker_->set_publish_filter(&host_);
    broker_->set_store_triggers(&host_);
    broker_->run();
    if (run_host) host_.run(*broker_);
  }

  broker::testing::TempDir dir_;
  std::unique_ptr<broker::Broker> broker_;
  SystemClock clock_;
  PluginHost host_{clock_};
};

}  // namespace ballast::plugins::testing
