#pragma once
// Listen addresses shared by the front ends: "127.0.0.1:8080", "[::1]:5672", "localhost:0".
// Until authentication exists (the security issue), a non-loopback address is refused unless
// the operator passes --insecure-remote.
// Thread-safe: pure functions.

#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/ip/tcp.hpp>

#include "util/result.h"

namespace ballast::net {

// INVALID_ARGUMENT naming the address and `flag` (e.g. "--amqp-listen") when it is malformed or
// not loopback without insecure_remote.
Result<boost::asio::ip::tcp::endpoint> parse_listen_endpoint(const std::string& listen, bool insecure_remote,
                                                             std::string_view flag);

// "127.0.0.1:5672" or "[::1]:5672".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace ballast::net
