#include "ops/listen_probe.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ballast::ops {
namespace {

Error bind_error(const ListenAddress& address, int error_number) {
  const std::string where = fmt::format("{}:{}", address.host, address.port);
  if (error_number == EADDRINUSE) {
    return Error(ErrorCode::kListenFailed,
                 fmt::format("cannot listen on {}: the address is in use by another process", where),
                 fmt::format("stop what holds the port (ss -ltnp 'sport = :{}' names it) or choose "
                             "another address",
                             address.port));
  }
  if (error_number == EACCES) {
    return Error(ErrorCode::kListenFailed,
                 fmt::format("cannot listen on {}: binding port {} is not allowed for this user "
                             "(ports below net.ipv4.ip_unprivileged_port_start need privilege)",
                             where, address.port),
                 "choose a port of 1024 or more, or grant CAP_NET_BIND_SERVICE (systemd: "
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE)");
  }
  return Error(
      ErrorCode::kListenFailed,
      fmt::format("cannot listen on {}: {} (errno {})", where, std::strerror(error_number), error_number),
      "use an address of this machine (e.g. 127.0.0.1) in the listen setting");
}

}  // namespace

Result<ListenAddress> parse_listen_address(const std::string& text, std::string_view key) {
  ListenAddress address;
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return Error(ErrorCode::kConfigInvalid, fmt::format("{} = \"{}\" is not HOST:PORT", key, text),
                 fmt::format("write {} as HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:8080", key));
  }
  address.host = text.substr(0, colon);
  address.port = text.substr(colon + 1);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  if (address.port.find_first_not_of("0123456789") != std::string::npos || address.port.size() > 5) {
    return Error(ErrorCode::kConfigInvalid, fmt::format("{} = \"{}\": port is not a number", key, text),
                 fmt::format("write {} as HOST:PORT with PORT 0-65535", key));
  }
  return address;
}

Status probe_listen(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int resolved = ::getaddrinfo(address.host.c_str(), address.port.c_str(), &hints, &found);
  if (resolved != 0) {
    return Error(
        ErrorCode::kListenFailed,
        fmt::format("cannot listen on {}:{}: {}", address.host, address.port, ::gai_strerror(resolved)),
        "use an address or name of this machine in the listen setting");
  }
  int error_number = 0;
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) {
    error_number = errno;
  } else {
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1) != 0) error_number = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (error_number != 0) return bind_error(address, error_number);
  return ok_status();
}

}  // namespace ballast::ops
