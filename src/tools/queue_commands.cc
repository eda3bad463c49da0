#include "tools/queue_commands.h"

#include <ostream>

#include <CLI/CLI.hpp>

#include "tools/decimal_validator.h"
#include "tools/human_output.h"
#include "tools/json_text.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

template <typename T>
void set_if_given(json& object, const char* key, const std::optional<T>& value) {
  if (value) object[key] = *value;
}

}  // namespace

QueueCommands::QueueCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* queue = app.add_subcommand("queue", "Create, list, show, delete or purge queues");
  queue->require_subcommand(1);
  add_create(*queue, selected);
  const auto add = [&](const char* name, const char* description,
                       ExitCode (QueueCommands::*run)(ApiClient&, Console&) const) {
    CLI::App* command = queue->add_subcommand(name, description);
    if (run != &QueueCommands::list) {
      command->add_option("name", name_, "Queue name")->required();
    }
    command->callback([this, &selected, run] {
      selected = [this, run](ApiClient& api, Console& console) { return (this->*run)(api, console); };
    });
  };
  add("list", "List the queues of the vhost with their counts and rates", &QueueCommands::list);
  add("show", "Show one queue's settings, counts and rates", &QueueCommands::show);
  add("delete", "Delete a queue and every message in it", &QueueCommands::remove);
  add("purge", "Remove every ready message from a queue (leased ones stay)", &QueueCommands::purge);
}

void QueueCommands::add_create(CLI::App& queue, CommandAction& selected) {
  CLI::App* command =
      queue.add_subcommand("create", "Create a queue; declaring it again with the same settings is fine");
  command->add_option("name", name_, "Queue name")->required();
  command->add_option("--max-length", settings_.max_length, "Most ready messages it holds")
      ->transform(decimal_number());
  command->add_option("--max-bytes", settings_.max_bytes, "Most body bytes it holds")
      ->transform(decimal_number());
  command->add_option("--overflow", settings_.overflow, "What happens at a limit")
      ->check(CLI::IsMember({"reject-publish", "drop-head"}));
  command
      ->add_option("--message-ttl-seconds", settings_.message_ttl_seconds, "Messages expire after this long")
      ->transform(decimal_number());
  command
      ->add_option("--delivery-limit", settings_.delivery_limit,
                   "Dead-letter a message after this many deliveries")
      ->transform(decimal_number());
  command->add_option("--dead-letter-queue", settings_.dead_letter_queue,
                      "Queue that receives expired, rejected and over-delivered messages");
  command
      ->add_option("--dedup-window-seconds", settings_.dedup_window_seconds,
                   "How long a message id is remembered for idempotent publish")
      ->transform(decimal_number());
  command
      ->add_option("--visibility-timeout-seconds", settings_.visibility_timeout_seconds,
                   "Default lease of a received message before it is delivered again")
      ->transform(decimal_number());
  command->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return create(api, console); };
  });
}

json QueueCommands::settings_json() const {
  json settings = json::object();
  set_if_given(settings, "max_length", settings_.max_length);
  set_if_given(settings, "max_bytes", settings_.max_bytes);
  set_if_given(settings, "overflow", settings_.overflow);
  set_if_given(settings, "message_ttl_seconds", settings_.message_ttl_seconds);
  set_if_given(settings, "delivery_limit", settings_.delivery_limit);
  set_if_given(settings, "dead_letter_queue", settings_.dead_letter_queue);
  set_if_given(settings, "dedup_window_seconds", settings_.dedup_window_seconds);
  set_if_given(settings, "default_visibility_timeout_seconds", settings_.visibility_timeout_seconds);
  return settings;
}

ExitCode QueueCommands::create(ApiClient& api, Console& console) const {
  auto declared = api.declare_queue(name_, settings_json());
  if (!declared) return report_error(declared.error(), console.err);
  if (globals_.json_output) {
    console.out << json_text(declared->answer) << "\n";
  } else if (declared->outcome == QueueDeclaration::kCreated) {
    console.out << fmt::format("created queue {}\n", name_);
  } else {
    console.out << fmt::format("queue {} already exists with these settings\n", name_);
  }
  return ExitCode::kOk;
}

ExitCode QueueCommands::list(ApiClient& api, Console& console) const {
  return print_answer(api.list_queues(), globals_, console, render_queue_list);
}

ExitCode QueueCommands::show(ApiClient& api, Console& console) const {
  return print_answer(api.show_queue(name_), globals_, console, render_key_values);
}

ExitCode QueueCommands::remove(ApiClient& api, Console& console) const {
  return print_answer(api.delete_queue(name_), globals_, console,
                      [this](const json&) { return fmt::format("deleted queue {}\n", name_); });
}

ExitCode QueueCommands::purge(ApiClient& api, Console& console) const {
  return print_answer(api.purge_queue(name_), globals_, console, [this](const json& answer) {
    const auto found = answer.find("purged");
    const std::string count = found == answer.end() ? "-" : cell_text(*found);
    return fmt::format("purged {} messages from queue {}\n", count, name_);
  });
}

}  // namespace ballast::tools
