#pragma once
// The `url` option of the webhook-trigger plug-in: http://host[:port][/path]. https is not
// supported (a TLS terminating proxy on loopback can forward). Thread-safe: pure functions.

#include <optional>
#include <string>
#include <string_view>

namespace ballast::webhook {

struct WebhookUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query
};

// The parsed URL, or nullopt with `why` saying what is wrong.
std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string& why);

}  // namespace ballast::webhook
