#include "tools/commands.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/api_client.h"
#include "tools/table.h"
#include "util/utf8.h"
#include "util/base64.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

constexpr size_t kSendBatch = 500;

struct Globals {
  std::string server;
  std::string vhost = "/";
  bool json_output = false;
};

struct SendOptions {
  std::string queue, body, file, content_type, id;
  std::vector<std::string> headers;
  std::optional<uint32_t> priority, delay_seconds, ttl_seconds;
};

struct ReceiveOptions {
  std::string queue;
  uint32_t count = 1;
  uint32_t wait_seconds = 0;
  bool no_ack = false;
  std::optional<uint32_t> visibility_timeout_seconds;
};

int report(const Error& error, std::ostream& err) {
  err << "ballast: " << error.code_name() << ": " << error.message() << "\n";
  if (!error.fix().empty()) err << "Fix: " << error.fix() << "\n";
  return error.code() == ErrorCode::kServerUnreachable ? kExitUnreachable : kExitRefused;
}

std::string cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{:.1f}", value.get<double>());
  return value.dump();
}

Result<json> message_json(const std::string& body, const SendOptions& options) {
  json message;
  if (is_valid_utf8(body)) {
    message["body"] = body;
  } else {
    message["body"] = base64_encode(body);
    message["encoding"] = "base64";
  }
  if (!options.content_type.empty()) message["content_type"] = options.content_type;
  if (options.priority) message["priority"] = *options.priority;
  if (options.delay_seconds) message["delay_seconds"] = *options.delay_seconds;
  if (options.ttl_seconds) message["ttl_seconds"] = *options.ttl_seconds;
  if (!options.headers.empty()) {
    json headers = json::object();
    for (const auto& header : options.headers) {
      const auto equals = header.find('=');
      if (equals == std::string::npos || equals == 0) {
        return Error(ErrorCode::kInvalidArgument, fmt::format("--header \"{}\" is not NAME=VALUE", header),
                     "write headers as --header tenant=acme");
      }
      headers[header.substr(0, equals)] = header.substr(equals + 1);
    }
    message["headers"] = std::move(headers);
  }
  return message;
}

int send(ApiClient& client, const Globals& globals, const SendOptions& options, std::istream& in, std::ostream& out,
         std::ostream& err) {
  std::vector<std::string> bodies;
  if (!options.body.empty()) {
    bodies.push_back(options.body);
  } else {
    std::stringstream text;
    if (!options.file.empty()) {
      std::ifstream file(options.file, std::ios::binary);
      if (!file) {
        return report(Error(ErrorCode::kInvalidArgument, fmt::format("cannot read {}", options.file),
                            "check the path and its permissions"), err);
      }
      text << file.rdbuf();
    } else {
      text << in.rdbuf();
    }
    bodies = split_lines(text.str());
  }
  size_t sent = 0;
  std::string durability = "fsync";
  for (size_t first = 0; first < bodies.size(); first += kSendBatch) {
    json batch = json::array();
    for (size_t i = first; i < std::min(bodies.size(), first + kSendBatch); ++i) {
      auto message = message_json(bodies[i], options);
      if (!message) return report(message.error(), err);
      if (!options.id.empty()) (*message)["id"] = bodies.size() == 1 ? options.id : fmt::format("{}-{}", options.id, i);
      batch.push_back(std::move(*message));
    }
    const json request = {{"messages", std::move(batch)}};
    auto answer = client.call("POST", queue_path(globals.vhost, options.queue, "messages"), &request);
    if (!answer) {
      if (sent > 0) err << fmt::format("ballast: {} of {} messages were sent before this error\n", sent, bodies.size());
      return report(answer.error(), err);
    }
    if (globals.json_output) out << answer->dump() << "\n";
    sent += (*answer)["messages"].size();
    durability = answer->value("durability", durability);
  }
  if (!globals.json_output) out << fmt::format("sent {} message{} to {} (durability: {})\n", sent, sent == 1 ? "" : "s", options.queue, durability);
  return kExitOk;
}

std::string printable_body(const json& message) {
  const std::string body = message.value("body", "");
  if (message.value("encoding", "utf8") != "base64") return body;
  return base64_decode(body).value_or(body);
}

int receive(ApiClient& client, const Globals& globals, const ReceiveOptions& options, std::ostream& out, std::ostream& err) {
  json request = {{"max", options.count}, {"wait_seconds", options.wait_seconds}};
  if (options.visibility_timeout_seconds) request["visibility_timeout_seconds"] = *options.visibility_timeout_seconds;
  auto answer = client.call("POST", queue_path(globals.vhost, options.queue, "receive"), &request);
  if (!answer) return report(answer.error(), err);
  json receipts = json::array();
  for (const auto& message : (*answer)["messages"]) {
    out << (globals.json_output ? message.dump() : printable_body(message)) << "\n";
    receipts.push_back(message["receipt"]);
  }
  if (options.no_ack || receipts.empty()) return kExitOk;
  const json ack = {{"receipts", std::move(receipts)}};
  auto acked = client.call("POST", queue_path(globals.vhost, options.queue, "ack"), &ack);
  if (!acked) return report(acked.error(), err);
  return kExitOk;
}

int print_queue_table(const json& queues, std::ostream& out) {
  Table table({"NAME", "MESSAGES", "IN_FLIGHT", "DELAYED", "BYTES"});
  for (const auto& queue : queues) {
    table.add({cell(queue["name"]), cell(queue["messages"]), cell(queue["in_flight"]), cell(queue["delayed"]), cell(queue["bytes"])});
  }
  out << table.render();
  return kExitOk;
}

int print_object(const json& object, std::ostream& out) {
  Table table({"KEY", "VALUE"});
  for (const auto& [key, value] : object.items()) {
    if (value.is_object()) {
      for (const auto& [inner, inner_value] : value.items()) table.add({key + "." + inner, cell(inner_value)});
    } else {
      table.add({key, cell(value)});
    }
  }
  out << table.render();
  return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  CLI::App app{"ballast: command line for the Ballast message-queuing server"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 the server refused (its code, message and fix are printed), 2 usage error, "
             "3 cannot reach the server.");
  Globals globals;
  const char* env_server = std::getenv("BALLAST_SERVER");
  globals.server = env_server != nullptr ? env_server : "http://127.0.0.1:8080";
  app.add_option("--server", globals.server, "ballastd's HTTP address (or BALLAST_SERVER)");
  app.add_option("--vhost", globals.vhost, "virtual host (default /)");
  app.add_flag("--json", globals.json_output, "print the server's JSON, for scripts");
  app.set_version_flag("--version", "ballast 0.1.0");

  auto* queue = app.add_subcommand("queue", "create, list, show, delete or purge queues");
  queue->require_subcommand(1);
  std::string queue_name;
  json settings = json::object();
  auto* create = queue->add_subcommand("create", "create a queue (same settings again is fine)");
  create->add_option("name", queue_name, "queue name")->required();
  std::map<std::string, std::optional<uint64_t>> numbers = {
      {"max_length", {}}, {"max_bytes", {}}, {"message_ttl_seconds", {}}, {"delivery_limit", {}},
      {"dedup_window_seconds", {}}, {"default_visibility_timeout_seconds", {}}};
  for (auto& [key, value] : numbers) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (key == "default_visibility_timeout_seconds") flag = "--visibility-timeout-seconds";
    create->add_option(flag, value, key);
  }
  std::string overflow, dead_letter_queue;
  create->add_option("--overflow", overflow, "reject-publish | drop-head");
  create->add_option("--dead-letter-queue", dead_letter_queue, "queue that receives dead letters");
  auto* list = queue->add_subcommand("list", "list queues");
  auto* show = queue->add_subcommand("show", "show one queue's settings and counts");
  show->add_option("name", queue_name, "queue name")->required();
  auto* remove = queue->add_subcommand("delete", "delete a queue and its messages");
  remove->add_option("name", queue_name, "queue name")->required();
  auto* purge = queue->add_subcommand("purge", "remove every ready message");
  purge->add_option("name", queue_name, "queue name")->required();

  SendOptions send_options;
  auto* send_command = app.add_subcommand("send", "send messages: the argument, --file, or stdin (one line = one message)");
  send_command->add_option("queue", send_options.queue, "queue name")->required();
  send_command->add_option("body", send_options.body, "message body");
  send_command->add_option("--file", send_options.file, "read messages from a file, one per line");
  send_command->add_option("--header", send_options.headers, "NAME=VALUE (repeatable)");
  send_command->add_option("--content-type", send_options.content_type, "content type");
  send_command->add_option("--priority", send_options.priority, "0-9");
  send_command->add_option("--id", send_options.id, "message id (for idempotent publish)");
  send_command->add_option("--delay-seconds", send_options.delay_seconds, "deliver later");
  send_command->add_option("--ttl-seconds", send_options.ttl_seconds, "expire after");

  ReceiveOptions receive_options;
  auto* receive_command = app.add_subcommand("receive", "receive messages, print their bodies and ack them");
  receive_command->add_option("queue", receive_options.queue, "queue name")->required();
  receive_command->add_option("--count", receive_options.count, "at most this many (1-1000)");
  receive_command->add_option("--wait", receive_options.wait_seconds, "long-poll up to this many seconds (0-20)");
  receive_command->add_flag("--no-ack", receive_options.no_ack, "leave them leased instead of acking");
  receive_command->add_option("--visibility-timeout-seconds", receive_options.visibility_timeout_seconds, "lease length");

  std::string peek_queue;
  uint32_t peek_count = 10;
  auto* peek = app.add_subcommand("peek", "show ready messages without consuming them");
  peek->add_option("queue", peek_queue, "queue name")->required();
  peek->add_option("--count", peek_count, "at most this many (1-1000)");
  auto* stats = app.add_subcommand("stats", "broker-wide counts and rates");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {  // CLI11 reports usage problems and --help by throwing
    const int code = app.exit(error, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  auto url = parse_server_url(globals.server);
  if (!url) {
    report(url.error(), err);
    return kExitUsage;
  }
  ApiClient client(globals.server, *url);
  const auto print = [&](Result<json> answer, auto human) {
    if (!answer) return report(answer.error(), err);
    if (globals.json_output) {
      out << answer->dump() << "\n";
      return kExitOk;
    }
    return human(*answer);
  };
  if (*create) {
    for (const auto& [key, value] : numbers) {
      if (value) settings[key] = *value;
    }
    if (!overflow.empty()) settings["overflow"] = overflow;
    if (!dead_letter_queue.empty()) settings["dead_letter_queue"] = dead_letter_queue;
    return print(client.call("PUT", queue_path(globals.vhost, queue_name), &settings), [&](const json& answer) {
      out << (answer.value("created", false) ? "created queue " : "queue already exists with these settings: ") << queue_name << "\n";
      return kExitOk;
    });
  }
  if (*list) return print(client.call("GET", queue_path(globals.vhost, "")), [&](const json& answer) { return print_queue_table(answer["queues"], out); });
  if (*show) return print(client.call("GET", queue_path(globals.vhost, queue_name)), [&](const json& answer) { return print_object(answer, out); });
  if (*remove) {
    return print(client.call("DELETE", queue_path(globals.vhost, queue_name)), [&](const json&) {
      out << "deleted queue " << queue_name << "\n";
      return kExitOk;
    });
  }
  if (*purge) {
    const json empty = json::object();
    return print(client.call("POST", queue_path(globals.vhost, queue_name, "purge"), &empty), [&](const json& answer) {
      out << "purged " << cell(answer["purged"]) << " messages from " << queue_name << "\n";
      return kExitOk;
    });
  }
  if (*send_command) return send(client, globals, send_options, in, out, err);
  if (*receive_command) return receive(client, globals, receive_options, out, err);
  if (*peek) {
    return print(client.call("GET", queue_path(globals.vhost, peek_queue, "messages") + fmt::format("?max={}", peek_count)),
                 [&](const json& answer) {
                   for (const auto& message : answer["messages"]) out << printable_body(message) << "\n";
                   return kExitOk;
                 });
  }
  if (*stats) return print(client.call("GET", "/api/v1/stats"), [&](const json& answer) { return print_object(answer, out); });
  return kExitUsage;
}

}  // namespace ballast::tools
