// An example Ballast filter plug-in in C++ on the plug-in client library (include/ballast/plugin.h;
// docs/plugins.md, "Writing a plug-in in C++"). Built as the CMake target example_cpp_filter.
//
// What it does with each message, from the options of its [[plugins]] table:
//   reject_word = "viagra"      reject a message whose body contains the word
//   reroute_header = "x-route"  reroute a message with that header to the queue the header names
//   tag = "checked"             add the header x-filter-tag = <tag> (a "modify" verdict)
// Anything else is accepted as published.
//
//   [[plugins]]
//   name = "example-cpp-filter"
//   kind = "filter"
//   command = ["/path/to/build/examples/plugins/example_cpp_filter"]
//   queues = ["mail.in"]
//   options = { reject_word = "viagra", tag = "checked" }
#include <map>
#include <string>

#include "ballast/plugin.h"

namespace {

using ballast::plugin::FilterCall;
using ballast::plugin::Verdict;

std::string option(const std::map<std::string, std::string>& options, const std::string& key) {
  auto found = options.find(key);
  return found == options.end() ? std::string() : found->second;
}

Verdict judge(const std::map<std::string, std::string>& options, const FilterCall& call) {
  const std::string word = option(options, "reject_word");
  if (!word.empty() && call.message.body.find(word) != std::string::npos) {
    return Verdict::reject("the body contains \"" + word + "\"");
  }
  const std::string route_header = option(options, "reroute_header");
  if (auto route = call.message.headers.find(route_header);
      !route_header.empty() && route != call.message.headers.end()) {
    return Verdict::reroute(route->second);
  }
  if (const std::string tag = option(options, "tag"); !tag.empty()) {
    auto headers = call.message.headers;
    headers["x-filter-tag"] = tag;
    return Verdict::modify(headers, std::nullopt);
  }
  return Verdict::accept();
}

}  // namespace

int main() {
  std::map<std::string, std::string> options;
  ballast::plugin::Handlers handlers;
  handlers.version = "1.0.0";
  handlers.on_hello = [&](const ballast::plugin::Hello& hello) -> std::optional<std::string> {
    options = hello.options;
    return std::nullopt;
  };
  handlers.on_filter = [&](const FilterCall& call) { return judge(options, call); };
  return ballast::plugin::run(handlers);
}
