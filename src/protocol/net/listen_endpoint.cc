#include "protocol/net/listen_endpoint.h"

#include <charconv>

#include <boost/asio/ip/address.hpp>

#include "fmt/format.h"

namespace ballast::net {

Result<boost::asio::ip::tcp::endpoint> parse_listen_endpoint(const std::string& listen, bool insecure_remote,
                                                             std::string_view flag) {
  const auto invalid = [&](std::string why) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("listen address \"{}\" ({}) {}", listen, flag, why),
                 "use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:5672 (port 0 picks a free port)");
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return invalid("has no port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  const std::string port_text = listen.substr(colon + 1);
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return invalid("has no valid port (0-65535)");
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return invalid("does not name an IP address");
  if (!address.is_loopback() && !insecure_remote) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("refusing to listen on {} ({}): it is not a loopback address, and until "
                    "authentication exists anyone who can reach the port could read or purge queues",
                    listen, flag),
        "listen on 127.0.0.1 or [::1], or pass --insecure-remote (server.insecure_remote = true) if a "
        "firewall or proxy protects the port");
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6())
    return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

}  // namespace ballast::net
