#pragma once
// Whether a listen address ("HOST:PORT", "[IPV6]:PORT") can be bound right now: binds a TCP
// socket with SO_REUSEADDR, as ballastd's listeners do, and closes it again.
// Thread-safe.

#include <string>

#include "util/result.h"

namespace ballast::ops {

struct ListenAddress {
  std::string host;
  std::string port;  // digits; "0" = the kernel picks one at start
};

// Splits "HOST:PORT" or "[IPV6]:PORT". Fails with CONFIG_INVALID naming `key` and the text.
Result<ListenAddress> parse_listen_address(const std::string& text, std::string_view key);

// Binds and releases `address`. Fails with LISTEN_FAILED naming the address, the reason
// (address in use, permission to bind a low port, no such address) and the fix.
Status probe_listen(const ListenAddress& address);

}  // namespace ballast::ops
