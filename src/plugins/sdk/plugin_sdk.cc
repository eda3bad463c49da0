// The plug-in client library (include/ballast/plugin.h): frames on blocking descriptors, the
// hello, pings, and filter and trigger calls handed to the user's handlers.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "ballast/plugin.h"
#include "util/base64.h"

namespace ballast::plugin {

namespace {

using nlohmann::json;

constexpr uint32_t kMaxFrameBytes = 64u << 20;

bool read_exactly(int fd, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, data + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    done += static_cast<size_t>(wrote);
  }
  return true;
}

// What went wrong with the broker's frames, for stderr; empty while all is well.
using Problem = std::string;

// The next frame; nullopt at end of input or when `problem` is set.
std::optional<json> read_frame(int fd, Problem& problem) {
  unsigned char header[4];
  if (!read_exactly(fd, reinterpret_cast<char*>(header), 4)) return std::nullopt;
  const uint32_t length = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length > kMaxFrameBytes) {
    problem = "a frame longer than 64 MiB";
    return std::nullopt;
  }
  std::string payload(length, '\0');
  if (!read_exactly(fd, payload.data(), length)) return std::nullopt;
  json frame = json::parse(payload, nullptr, false);
  if (!frame.is_object() || !frame.contains("type") || !frame["type"].is_string()) {
    problem = "a frame that is not a JSON object with a string \"type\"";
    return std::nullopt;
  }
  return frame;
}

bool write_frame(int fd, const json& frame) {
  const std::string payload = frame.dump();
  const auto length = static_cast<uint32_t>(payload.size());
  std::string bytes{static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                    static_cast<char>(length >> 8), static_cast<char>(length)};
  return write_all(fd, bytes + payload);
}

// Typed members of one JSON object of the broker's: an absent member reads as its fallback, and
// one of another JSON type sets `problem` (the first one found) instead of throwing.
class Members {
 public:
  Members(const json& object, std::string what, Problem& problem)
      : object_(object), what_(std::move(what)), problem_(problem) {}

  std::string text(const char* key) {
    const auto found = object_.find(key);
    if (found == object_.end()) return {};
    if (found->is_string()) return found->get<std::string>();
    wrong_type(key, *found, "a string");
    return {};
  }

  template <typename Number>
  Number number(const char* key, Number fallback) {
    const auto found = object_.find(key);
    if (found == object_.end()) return fallback;
    if (found->is_number_unsigned()) {
      const uint64_t value = found->get<uint64_t>();
      if (std::in_range<Number>(value)) return static_cast<Number>(value);
    } else if (found->is_number_integer()) {
      const int64_t value = found->get<int64_t>();
      if (std::in_range<Number>(value)) return static_cast<Number>(value);
    }
    wrong_type(key, *found, "a whole number in range");
    return fallback;
  }

 private:
  void wrong_type(const char* key, const json& value, const char* wanted) {
    if (!problem_.empty()) return;
    const std::string shown = value.dump().substr(0, 64);
    problem_ = "a " + what_ + " whose \"" + key + "\" is " + shown + " where " + wanted + " is needed";
  }

  const json& object_;
  std::string what_;
  Problem& problem_;
};

std::map<std::string, std::string> string_map(const json& object) {
  std::map<std::string, std::string> result;
  if (!object.is_object()) return result;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) result.emplace(key, value.get<std::string>());
  }
  return result;
}

Message message_from(const json& object, Problem& problem) {
  Message message;
  if (!object.is_object()) {
    problem = "a call without a \"message\" object";
    return message;
  }
  Members members(object, "message", problem);
  message.id = members.text("id");
  auto body = base64_decode(members.text("body_base64"));
  if (!body) problem = "a message whose body_base64 is not base64";
  message.body = body.value_or("");
  message.content_type = members.text("content_type");
  message.correlation_id = members.text("correlation_id");
  message.reply_to = members.text("reply_to");
  message.headers = string_map(object.value("headers", json::object()));
  message.priority = members.number("priority", 0);
  message.published_at_ms = members.number("published_at_ms", int64_t{0});
  message.routing_key = members.text("routing_key");
  return message;
}

json verdict_frame(uint64_t id, const Verdict& verdict) {
  json frame{{"type", "verdict"}, {"id", id}, {"action", verdict.action}};
  if (!verdict.reason.empty()) frame["reason"] = verdict.reason;
  if (!verdict.queue.empty()) frame["queue"] = verdict.queue;
  if (verdict.headers) frame["headers"] = *verdict.headers;
  if (verdict.body) frame["body_base64"] = base64_encode(*verdict.body);
  return frame;
}

json outcome_frame(uint64_t id, const Outcome& outcome) {
  json frame{{"type", "outcome"}, {"id", id}, {"result", outcome.result}};
  if (!outcome.reason.empty()) frame["reason"] = outcome.reason;
  return frame;
}

// The answer to one frame after the hello; nullopt with `problem` set if it cannot be answered.
std::optional<json> answer(const Handlers& handlers, const json& frame, Problem& problem) {
  const std::string type = frame["type"].get<std::string>();
  Members members(frame, "\"" + type + "\" frame", problem);
  const uint64_t id = members.number("id", uint64_t{0});
  if (!problem.empty()) return std::nullopt;
  if (type == "ping") return json{{"type", "pong"}, {"id", id}};
  const json message = frame.value("message", json());
  if (type == "filter" && handlers.on_filter) {
    FilterCall call{members.text("vhost"), members.text("queue"), message_from(message, problem)};
    if (!problem.empty()) return std::nullopt;
    return verdict_frame(id, handlers.on_filter(call));
  }
  if (type == "trigger" && handlers.on_trigger) {
    TriggerCall call{members.text("vhost"), members.text("queue"), members.number("attempt", 1u),
                     message_from(message, problem)};
    if (!problem.empty()) return std::nullopt;
    return outcome_frame(id, handlers.on_trigger(call));
  }
  problem = "a frame of type \"" + type + "\" this plug-in has no handler for";
  return std::nullopt;
}

// Reads the broker's hello and answers it; false (with `problem` set unless the input ended) if
// the plug-in must not go on.
bool handshake(const Handlers& handlers, int in_fd, int out_fd, Problem& problem) {
  auto frame = read_frame(in_fd, problem);
  if (!frame) return false;
  if (frame->value("type", "") != "hello") {
    problem = "the broker's first frame is not a hello";
    return false;
  }
  Members members(*frame, "hello", problem);
  Hello hello{members.text("broker"), members.text("name"), members.text("kind"),
              string_map(frame->value("options", json::object()))};
  if (!problem.empty()) return false;
  if (handlers.on_hello) {
    if (auto refused = handlers.on_hello(hello)) {
      problem = "refuses to start: " + *refused;
      return false;
    }
  }
  json capabilities = json::array();
  if (handlers.on_filter) capabilities.push_back("filter");
  if (handlers.on_trigger) capabilities.push_back("trigger");
  return write_frame(out_fd, json{{"type", "hello"},
                                  {"protocol", kProtocolVersion},
                                  {"name", hello.name},
                                  {"version", handlers.version},
                                  {"capabilities", capabilities}});
}

}  // namespace

int run(const Handlers& handlers, int in_fd, int out_fd) {
  Problem problem;
  if (handshake(handlers, in_fd, out_fd, problem)) {
    while (auto frame = read_frame(in_fd, problem)) {
      auto reply = answer(handlers, *frame, problem);
      if (!reply || !write_frame(out_fd, *reply)) break;  // a problem, or the broker went away
    }
  }
  if (problem.empty()) return 0;
  std::fprintf(stderr, "plug-in: %s\n", problem.c_str());
  return 2;
}

}  // namespace ballast::plugin
