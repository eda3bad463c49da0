#include "plugins/webhook/webhook_url.h"

#include <algorithm>

namespace ballast::webhook {

std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string& why) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    why = "url = \"" + std::string(url) + "\" must start with http:// (https is not supported)";
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  WebhookUrl parsed;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) parsed.target = std::string(rest.substr(slash));
  // [v6]:port, host:port or host.
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "url = \"" + std::string(url) + "\" has an unclosed [ in its host";
      return std::nullopt;
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(':')) parsed.port = std::string(authority.substr(1));
  } else {
    const size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) parsed.port = std::string(authority.substr(colon + 1));
  }
  const bool port_ok =
      !parsed.port.empty() && parsed.port.size() <= 5 &&
      std::all_of(parsed.port.begin(), parsed.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (parsed.host.empty() || !port_ok) {
    why =
        "url = \"" + std::string(url) + "\" needs a host and a numeric port, e.g. http://127.0.0.1:8080/hook";
    return std::nullopt;
  }
  return parsed;
}

}  // namespace ballast::webhook
