#include "tools/server_url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ballast::tools {
namespace {

constexpr std::string_view kScheme = "http://";
constexpr std::string_view kExample = "--server http://127.0.0.1:8080";

Error bad_url(std::string_view url, std::string_view problem, std::string_view fix) {
  return Error(ErrorCode::kInvalidArgument, fmt::format("server URL \"{}\" {}", url, problem),
               std::string(fix));
}

bool starts_with_scheme(std::string_view url) {
  if (url.size() < kScheme.size()) return false;
  return std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char expected, char seen) {
    return expected == std::tolower(static_cast<unsigned char>(seen));
  });
}

bool is_valid_port(std::string_view port) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  return error == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

// Splits "host:port", "[v6]:port", "host" or "[v6]" into its host and port ("" when absent).
Result<std::pair<std::string, std::string>> split_authority(std::string_view url,
                                                            std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad_url(url, "opens an IPv6 address with '[' but never closes it",
                     "write IPv6 addresses as http://[::1]:8080");
    }
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return bad_url(url, "has characters after the IPv6 address", "write http://[::1]:8080");
    }
    return std::pair{std::string(authority.substr(1, close - 1)),
                     std::string(rest.empty() ? rest : rest.substr(1))};
  }
  const auto colon = authority.find(':');
  if (colon == std::string_view::npos) return std::pair{std::string(authority), std::string()};
  return std::pair{std::string(authority.substr(0, colon)), std::string(authority.substr(colon + 1))};
}

}  // namespace

Result<ServerUrl> parse_server_url(std::string_view url) {
  if (!starts_with_scheme(url)) {
    return bad_url(url, "does not start with http:// (https is not served yet)",
                   fmt::format("give the daemon's HTTP address, e.g. {}", kExample));
  }
  std::string_view authority = url.substr(kScheme.size());
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find_first_of("/?#@") != std::string_view::npos) {
    return bad_url(url, "has a path, query or user info",
                   fmt::format("give only the scheme, host and port, e.g. {}", kExample));
  }
  auto parts = split_authority(url, authority);
  if (!parts) return std::move(parts).error();
  auto [host, port] = std::move(*parts);
  if (host.empty()) {
    return bad_url(url, "names no host", fmt::format("name the daemon's host, e.g. {}", kExample));
  }
  if (port.empty()) port = "80";
  if (!is_valid_port(port)) {
    return bad_url(url, fmt::format("has port \"{}\", not a number from 1 to 65535", port),
                   fmt::format("use the port ballastd listens on, e.g. {}", kExample));
  }
  return ServerUrl{std::string(url), std::move(host), std::move(port)};
}

}  // namespace ballast::tools
