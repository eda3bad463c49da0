#pragma once
// Request targets of ballastd's HTTP API for one virtual host: /api/v1/queues/... for vhost "/",
// /api/v1/vhosts/{vhost}/queues/... for any other, with every name percent-encoded.
// Thread-safe: a value that is never changed after construction.

#include <cstdint>
#include <string>
#include <string_view>

namespace ballast::tools {

// Percent-encodes every byte except the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
// so the result is safe as one path segment or query value.
std::string percent_encode(std::string_view text);

class ApiPaths {
 public:
  explicit ApiPaths(std::string_view vhost);

  // The collection: "/api/v1/queues" or "/api/v1/vhosts/{vhost}/queues".
  const std::string& queues() const { return queues_; }
  // One queue: ".../queues/{queue}".
  std::string queue(std::string_view queue) const;
  // A queue's sub-resource, e.g. action "receive" gives ".../queues/{queue}/receive".
  std::string queue_action(std::string_view queue, std::string_view action) const;
  // Peek: ".../queues/{queue}/messages?max={max}".
  std::string peek(std::string_view queue, uint32_t max) const;
  // Broker-wide statistics (not per vhost): "/api/v1/stats".
  static std::string stats() { return "/api/v1/stats"; }
  // The live status of a running broker: "/api/v1/status".
  static std::string status() { return "/api/v1/status"; }
  // The plug-ins (not per vhost): "/api/v1/plugins", one: ".../{name}", an action: ".../{name}/{action}".
  static std::string plugins() { return "/api/v1/plugins"; }
  static std::string plugin(std::string_view name, std::string_view action = {});
  // Health of the broker's parts: "/healthz".
  static std::string health() { return "/healthz"; }

 private:
  std::string queues_;
};

}  // namespace ballast::tools
