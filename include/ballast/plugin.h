#pragma once
// The Ballast plug-in client library (docs/plugins.md, "Writing a plug-in in C++"): everything a
// plug-in needs to speak protocol version 1 with the broker on its stdin and stdout. Give run()
// a handler for filter calls, for trigger calls, or both; it answers the broker's hello (with
// the capabilities of the handlers given) and its pings, hands each call to its handler and
// writes the answer, until the broker closes the plug-in's stdin.
//
//   int main() {
//     ballast::plugin::Handlers handlers;
//     handlers.version = "1.0.0";
//     handlers.on_filter = [](const ballast::plugin::FilterCall& call) {
//       if (call.message.body.find("spam") != std::string::npos) return
//       ballast::plugin::Verdict::reject("spam"); return ballast::plugin::Verdict::accept();
//     };
//     return ballast::plugin::run(handlers);
//   }
//
// Print diagnostics to stderr (the broker logs each line as plugin.stderr), never to stdout.
// Threading: run() calls the handlers one at a time on the calling thread; a handler must return
// within the plug-in's call_timeout_ms, since pings wait while it runs.
// Library: ballast_plugin_sdk (CMake target), no other Ballast library needed at run time.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace ballast::plugin {

inline constexpr int kProtocolVersion = 1;

// The broker's hello: who this plug-in is in the broker's configuration.
struct Hello {
  std::string broker;                          // e.g. "ballast 0.1.0"
  std::string name;                            // the [[plugins]] table's name
  std::string kind;                            // "filter" or "trigger"
  std::map<std::string, std::string> options;  // the table's options
};

struct Message {
  std::string id;
  std::string body;  // raw bytes
  std::string content_type;
  std::string correlation_id;
  std::string reply_to;
  std::map<std::string, std::string> headers;
  int priority = 0;
  int64_t published_at_ms = 0;  // trigger calls only
  std::string routing_key;      // trigger calls only: its AMQP routing key (empty over HTTP)
};

struct FilterCall {
  std::string vhost;
  std::string queue;
  Message message;
};

struct TriggerCall {
  std::string vhost;
  std::string queue;  // where the message was stored
  uint32_t attempt = 1;
  Message message;
};

// A filter's answer.
struct Verdict {
  std::string action = "accept";                              // accept | reject | modify | reroute
  std::string reason;                                         // reject
  std::string queue;                                          // reroute
  std::optional<std::map<std::string, std::string>> headers;  // modify: replaces the headers
  std::optional<std::string> body;                            // modify: replaces the body

  static Verdict accept() { return Verdict{}; }
  static Verdict reject(std::string why) { return Verdict{"reject", std::move(why), {}, {}, {}}; }
  static Verdict reroute(std::string to_queue) { return Verdict{"reroute", {}, std::move(to_queue), {}, {}}; }
  static Verdict modify(std::optional<std::map<std::string, std::string>> new_headers,
                        std::optional<std::string> new_body) {
    return Verdict{"modify", {}, {}, std::move(new_headers), std::move(new_body)};
  }
};

// A trigger's answer.
struct Outcome {
  std::string result = "done";  // done | retry | failed
  std::string reason;

  static Outcome done() { return Outcome{}; }
  static Outcome retry(std::string why) { return Outcome{"retry", std::move(why)}; }
  static Outcome failed(std::string why) { return Outcome{"failed", std::move(why)}; }
};

struct Handlers {
  std::string version = "unknown";  // this plug-in's version, sent in its hello
  // Called once with the broker's hello, before the plug-in answers it. Return an error text to
  // refuse to start (run() prints it to stderr and returns 2; the broker logs it and restarts
  // the plug-in with back-off), e.g. for a missing option.
  std::function<std::optional<std::string>(const Hello&)> on_hello;
  std::function<Verdict(const FilterCall&)> on_filter;    // set: the plug-in can be a filter
  std::function<Outcome(const TriggerCall&)> on_trigger;  // set: the plug-in can be a trigger
};

// Runs the protocol on `in_fd` and `out_fd` (stdin and stdout) until the broker closes the
// input. Returns 0 then, or 2 after a protocol error (a member of the wrong JSON type among them;
// never an exception) or a refused hello, printed to stderr.
int run(const Handlers& handlers, int in_fd = 0, int out_fd = 1);

}  // namespace ballast::plugin
