// How run-time settings combine with a [[plugins]] table, and their JSON in the journal.
#include "plugins/plugin_overlay.h"

#include <gtest/gtest.h>

namespace ballast::plugins {
namespace {

PluginConfig filter_with(std::vector<std::string> queues) {
  PluginConfig config;
  config.name = "spam";
  config.queues = std::move(queues);
  config.policy = FilterPolicy::kHold;
  return config;
}

std::vector<std::string> described(const std::vector<Attachment>& attachments) {
  std::vector<std::string> out;
  for (const Attachment& a : attachments) {
    out.push_back(a.queue + ":" + std::string(filter_policy_name(a.policy)) +
                  (a.from_runtime ? ":runtime" : ""));
  }
  return out;
}

TEST(PluginOverlay, RunTimeChangesWinForTheQueuesTheyNameAndTheFileDecidesTheRest) {
  const PluginConfig config = filter_with({"a", "b", "c"});
  PluginOverlay overlay;
  EXPECT_EQ(described(effective_attachments(config, overlay)),
            (std::vector<std::string>{"a:hold", "b:hold", "c:hold"}));
  overlay = with_attached(overlay, config, "b", FilterPolicy::kReject);  // a file queue, another policy
  overlay = with_attached(overlay, config, "x", FilterPolicy::kBypass);  // not in the file
  overlay = with_detached(overlay, config, "c");
  EXPECT_EQ(described(effective_attachments(config, overlay)),
            (std::vector<std::string>{"a:hold", "b:reject:runtime", "x:bypass:runtime"}));
  // A queue the file gains later is attached; one it loses stays only if attached at run time.
  const PluginConfig edited = filter_with({"a", "d"});
  EXPECT_EQ(described(effective_attachments(edited, overlay)),
            (std::vector<std::string>{"a:hold", "d:hold", "b:reject:runtime", "x:bypass:runtime"}));
  // Without a policy, a queue not in the file takes the file's policy.
  overlay = with_attached(overlay, config, "y", std::nullopt);
  EXPECT_EQ(overlay.attached.at("y"), FilterPolicy::kHold);
  // Detaching a run-time attachment that is not in the file leaves no trace.
  overlay = with_detached(overlay, config, "x");
  EXPECT_FALSE(overlay.attached.contains("x"));
  EXPECT_FALSE(overlay.detached.contains("x"));
  // Attached again without a policy, a file queue goes back to the file: no run-time entry left.
  overlay = with_attached(overlay, config, "c", std::nullopt);
  overlay = with_attached(overlay, config, "b", std::nullopt);
  EXPECT_FALSE(overlay.detached.contains("c"));
  EXPECT_FALSE(overlay.attached.contains("b"));
  EXPECT_EQ(described(effective_attachments(config, overlay)),
            (std::vector<std::string>{"a:hold", "b:hold", "c:hold", "y:hold:runtime"}));
}

TEST(PluginOverlay, EncodesAsJsonAndBackAndNothingAsEmpty) {
  EXPECT_EQ(encode_overlay(PluginOverlay{}), "");
  PluginOverlay overlay;
  overlay.disabled = true;
  overlay.attached = {{"q", FilterPolicy::kReject}};
  overlay.detached = {"r"};
  const std::string encoded = encode_overlay(overlay);
  EXPECT_EQ(encoded, R"({"attached":{"q":"reject"},"detached":["r"],"disabled":true,"version":1})");
  auto decoded = decode_overlay("spam", encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(*decoded, overlay);
  auto empty = decode_overlay("spam", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(PluginOverlay, SettingsThatDoNotParseAreNamedNeverThrown) {
  for (const char* bad : {"{", "[]", R"({"version":2,"disabled":false,"attached":{},"detached":[]})",
                          R"({"version":1,"disabled":"no","attached":{},"detached":[]})",
                          R"({"version":1,"disabled":false,"attached":{"q":"drop"},"detached":[]})",
                          R"({"version":1,"disabled":false,"attached":{"q":1},"detached":[]})",
                          R"({"version":1,"disabled":false,"attached":{},"detached":[1]})"}) {
    auto decoded = decode_overlay("spam", bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().code(), ErrorCode::kStorageCorrupt);
    EXPECT_NE(decoded.error().message().find("plug-in \"spam\""), std::string::npos)
        << decoded.error().message();
  }
}

}  // namespace
}  // namespace ballast::plugins
