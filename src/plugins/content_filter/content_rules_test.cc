#include "plugins/content_filter/content_rules.h"

#include <gtest/gtest.h>

namespace ballast::content_filter {
namespace {

constexpr const char* kRules = R"(
reject_score = 5
tag_header = "x-spam-score"

[[rules]]
name = "pills"
body_regex = "v[i1]agra"
ignore_case = true
score = 5

[[rules]]
name = "bulk"
header = "Precedence"
equals = "bulk"
score = 3

[[rules]]
name = "huge"
min_bytes = 100
score = 1

[[rules]]
name = "known-sender"
header = "from"
regex = "@example\\.com$"
score = -2
)";

ContentRules parsed() {
  auto rules = parse_content_rules(kRules, "rules.toml");
  EXPECT_TRUE(rules.ok()) << (rules.ok() ? "" : rules.error().describe());
  return rules.ok() ? std::move(*rules) : ContentRules{};
}

plugin::Message message(std::string body, std::map<std::string, std::string> headers = {}) {
  plugin::Message m;
  m.body = std::move(body);
  m.headers = std::move(headers);
  return m;
}

TEST(ContentRules, AMessageReachingTheRejectScoreIsRejectedNamingTheRules) {
  const auto verdict = decide(parsed(), message("Cheap VIAGRA here", {{"precedence", "bulk"}}));
  EXPECT_EQ(verdict.action, "reject");
  EXPECT_EQ(verdict.reason, "content-filter: score 8 reached reject_score 5 (pills +5, bulk +3)");
}

TEST(ContentRules, AScoreBelowTheLimitTagsTheMessageKeepingItsHeaders) {
  const auto verdict = decide(parsed(), message("newsletter", {{"Precedence", "bulk"}, {"x-a", "1"}}));
  EXPECT_EQ(verdict.action, "modify");
  ASSERT_TRUE(verdict.headers.has_value());
  EXPECT_EQ(verdict.headers->at("x-spam-score"), "3 (bulk +3)");
  EXPECT_EQ(verdict.headers->at("x-a"), "1");
  EXPECT_FALSE(verdict.body.has_value()) << "tagging never rewrites the body";
}

TEST(ContentRules, ANegativeRuleVouchesAndAQuietMessagePasses) {
  const auto vouched =
      decide(parsed(), message("newsletter", {{"precedence", "bulk"}, {"From", "boss@example.com"}}));
  ASSERT_EQ(vouched.action, "modify");
  EXPECT_EQ(vouched.headers->at("x-spam-score"), "1 (bulk +3, known-sender -2)");
  EXPECT_EQ(decide(parsed(), message("hello")).action, "accept");
  EXPECT_EQ(decide(parsed(), message("hello", {{"From", "a@example.com"}})).action, "modify")
      << "a negative total is tagged too";
}

TEST(ContentRules, SizeAndTheScanLimitApply) {
  ContentRules rules = parsed();
  EXPECT_EQ(score_message(rules, message(std::string(100, 'a'))).total, 1);
  EXPECT_EQ(score_message(rules, message(std::string(99, 'a'))).total, 0);
  rules.max_scan_bytes = 10;
  EXPECT_EQ(score_message(rules, message(std::string(20, ' ') + "viagra")).matched,
            std::vector<std::string>{})
      << "a word past max_scan_bytes is not seen (the size rule needs 100 bytes)";
}

TEST(ContentRules, EveryProblemOfAFileIsReportedAtOnceWithItsLine) {
  auto rules = parse_content_rules(R"(reject_scor = 5
[[rules]]
name = "a"
body_regex = "(unclosed"
[[rules]]
name = "a"
score = "high"
header = "x"
[[rules]]
name = "nothing"
)",
                                   "/etc/ballast/cf.toml");
  ASSERT_FALSE(rules.ok());
  const std::string text = rules.error().message();
  EXPECT_EQ(rules.error().code(), ErrorCode::kConfigInvalid);
  for (const char* expected :
       {"/etc/ballast/cf.toml:1: unknown key \"reject_scor\" (did you mean \"reject_score\"?)",
        "/etc/ballast/cf.toml:4: \"body_regex\" = \"(unclosed\" is not an ECMAScript",
        "two rules are named \"a\"", "/etc/ballast/cf.toml:7: \"score\" must be an integer",
        "rule \"nothing\" has no condition"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n in: " << text;
  }
  EXPECT_FALSE(rules.error().fix().empty());
}

TEST(ContentRules, SyntaxErrorsAndAZeroRejectScoreAreRefused) {
  auto broken = parse_content_rules("reject_score = = 1", "r.toml");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("r.toml:1:"), std::string::npos) << broken.error().message();
  auto zero = parse_content_rules("reject_score = 0", "r.toml");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message().find("would reject messages no rule matched"), std::string::npos);
}

TEST(ContentRules, AMissingFileNamesThePath) {
  auto rules = load_content_rules("/nonexistent/rules.toml");
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.error().message().find("cannot read /nonexistent/rules.toml"), std::string::npos);
}

}  // namespace
}  // namespace ballast::content_filter
