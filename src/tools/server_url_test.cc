#include "tools/server_url.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

TEST(ServerUrl, ParsesHostAndPort) {
  auto url = parse_server_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->text, "http://127.0.0.1:8080");
}

TEST(ServerUrl, DefaultsToPort80AndAcceptsATrailingSlashAndAnyCaseScheme) {
  auto url = parse_server_url("HTTP://broker.internal/");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "broker.internal");
  EXPECT_EQ(url->port, "80");
}

TEST(ServerUrl, UnwrapsIpv6Addresses) {
  auto url = parse_server_url("http://[::1]:9000");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "9000");
}

TEST(ServerUrl, RefusesWhatItCannotServeNamingTheUrl) {
  for (const char* bad :
       {"https://x:1", "127.0.0.1:8080", "http://", "http://:8080", "http://host:0", "http://host:65536",
        "http://host:80x", "http://host:8080/prefix", "http://user@host", "http://[::1"}) {
    auto url = parse_server_url(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(url.error().message().find(bad), std::string::npos) << url.error().message();
    EXPECT_FALSE(url.error().fix().empty());
  }
}

}  // namespace
}  // namespace ballast::tools
