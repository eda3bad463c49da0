// content-filter: a shipped filter plug-in (docs/plugins.md, "content-filter"), the anti-spam
// case: scores each message by the rules of a TOML file (header match, body regex, size) and
// rejects it, tags it with a header, or passes it. Built on the plug-in client library.
//
// Options:  rules_file = "/etc/ballast/content-filter.toml"   (required)
// A missing or invalid rules file refuses the hello with a CONFIG_INVALID message naming the
// file, line and key; the broker logs it and restarts the plug-in with back-off.
#include "ballast/plugin.h"
#include "plugins/content_filter/content_rules.h"

namespace {

constexpr const char* kVersion = "1.0.0";

}  // namespace

int main() {
  ballast::content_filter::ContentRules rules;
  ballast::plugin::Handlers handlers;
  handlers.version = kVersion;
  handlers.on_hello = [&](const ballast::plugin::Hello& hello) -> std::optional<std::string> {
    auto path = hello.options.find("rules_file");
    if (path == hello.options.end() || path->second.empty()) {
      return "CONFIG_INVALID: plug-in \"" + hello.name +
             "\" has no option rules_file. Fix: add options = { rules_file = \"/path/to/rules.toml\" } to "
             "its [[plugins]] table";
    }
    auto loaded = ballast::content_filter::load_content_rules(path->second);
    if (!loaded) return loaded.error().describe();
    rules = std::move(*loaded);
    return std::nullopt;
  };
  handlers.on_filter = [&](const ballast::plugin::FilterCall& call) {
    return ballast::content_filter::decide(rules, call.message);
  };
  return ballast::plugin::run(handlers);
}
