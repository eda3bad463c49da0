#include "plugins/webhook/webhook_url.h"

#include <gtest/gtest.h>

namespace ballast::webhook {
namespace {

TEST(WebhookUrl, HostPortAndTargetAreTakenApart) {
  std::string why;
  auto url = parse_webhook_url("http://127.0.0.1:8099/hooks/order?x=1", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "8099");
  EXPECT_EQ(url->target, "/hooks/order?x=1");
  url = parse_webhook_url("http://example.org", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->port, "80");
  EXPECT_EQ(url->target, "/");
  url = parse_webhook_url("http://[::1]:81/h", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "81");
}

TEST(WebhookUrl, WhatItCannotUseIsNamed) {
  std::string why;
  EXPECT_FALSE(parse_webhook_url("https://example.org/", why));
  EXPECT_NE(why.find("must start with http://"), std::string::npos);
  EXPECT_FALSE(parse_webhook_url("http://:80/", why));
  EXPECT_NE(why.find("needs a host and a numeric port"), std::string::npos);
  EXPECT_FALSE(parse_webhook_url("http://h:port/", why));
  EXPECT_FALSE(parse_webhook_url("http://[::1/", why));
  EXPECT_NE(why.find("unclosed ["), std::string::npos);
}

}  // namespace
}  // namespace ballast::webhook
