#include "plugins/command_trigger/command_environment.h"

#include <set>

namespace ballast::command_trigger {

namespace {

constexpr std::string_view kPrefix = "BALLAST_";

std::string variable(std::string_view name, std::string_view value) {
  std::string text(name);
  text += '=';
  text += value;
  return text;
}

}  // namespace

std::string header_variable(std::string_view name) {
  std::string variable = "BALLAST_HEADER_";
  for (char c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const bool kept = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    variable += kept ? c : '_';
  }
  return variable;
}

std::vector<std::string> command_environment(const plugin::TriggerCall& call,
                                             const std::vector<std::string>& inherited) {
  std::vector<std::string> environment;
  for (const std::string& entry : inherited) {
    if (!entry.starts_with(kPrefix)) environment.push_back(entry);
  }
  const plugin::Message& message = call.message;
  environment.push_back(variable("BALLAST_VHOST", call.vhost));
  environment.push_back(variable("BALLAST_QUEUE", call.queue));
  environment.push_back(variable("BALLAST_MESSAGE_ID", message.id));
  environment.push_back(variable("BALLAST_ATTEMPT", std::to_string(call.attempt)));
  environment.push_back(variable("BALLAST_PUBLISHED_AT_MS", std::to_string(message.published_at_ms)));
  const std::pair<std::string_view, const std::string&> optional[] = {
      {"BALLAST_ROUTING_KEY", message.routing_key},
      {"BALLAST_CONTENT_TYPE", message.content_type},
      {"BALLAST_CORRELATION_ID", message.correlation_id},
      {"BALLAST_REPLY_TO", message.reply_to}};
  for (const auto& [name, value] : optional) {
    if (!value.empty()) environment.push_back(variable(name, value));
  }
  std::set<std::string> header_names;
  for (const auto& [name, value] : message.headers) {
    std::string key = header_variable(name);
    if (header_names.insert(key).second) environment.push_back(variable(key, value));
  }
  return environment;
}

}  // namespace ballast::command_trigger
