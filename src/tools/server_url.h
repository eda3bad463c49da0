#pragma once
// The address of ballastd's HTTP API, as given by --server or BALLAST_SERVER.
// Thread-safe: a plain value and a pure function.

#include <string>
#include <string_view>

#include "util/result.h"

namespace ballast::tools {

struct ServerUrl {
  std::string text;  // as the user wrote it, for messages
  std::string host;  // a name or an address; IPv6 without its brackets
  std::string port;  // decimal, 1-65535; "80" when the URL names none
};

// Parses "http://HOST[:PORT][/]", where HOST is a name, an IPv4 address or "[IPv6]".
// Fails with INVALID_ARGUMENT naming the URL for any other scheme (https is not served yet), a
// path, query or user info, a missing host, or a port outside 1-65535.
Result<ServerUrl> parse_server_url(std::string_view url);

}  // namespace ballast::tools
