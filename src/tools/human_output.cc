#include "tools/human_output.h"

#include <fmt/format.h>

#include "tools/json_text.h"
#include "tools/table_printer.h"
#include "util/base64.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

void add_key_values(const json& object, const std::string& prefix, TablePrinter& table) {
  for (const auto& [key, value] : object.items()) {
    if (value.is_object() && !value.empty()) {
      add_key_values(value, prefix + key + ".", table);
    } else {
      table.add_row({prefix + key, cell_text(value)});
    }
  }
}

}  // namespace

const json& field(const json& object, const char* key) {
  static const json kAbsent;
  if (!object.is_object()) return kAbsent;
  const auto found = object.find(key);
  return found == object.end() ? kAbsent : *found;
}

std::string cell_text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{:.1f}", value.get<double>());
  return json_text(value);
}

const json& array_field(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json& found = field(object, key);
  return found.is_array() ? found : kEmpty;
}

std::string render_queue_list(const json& answer) {
  TablePrinter table({{"NAME"},
                      {"MESSAGES", Align::kRight},
                      {"IN_FLIGHT", Align::kRight},
                      {"DELAYED", Align::kRight},
                      {"BYTES", Align::kRight},
                      {"PUBLISH/S", Align::kRight},
                      {"DELIVER/S", Align::kRight},
                      {"ACK/S", Align::kRight}});
  for (const auto& queue : array_field(answer, "queues")) {
    std::vector<std::string> row;
    for (const char* key :
         {"name", "messages", "in_flight", "delayed", "bytes", "publish_rate", "deliver_rate", "ack_rate"}) {
      row.push_back(cell_text(field(queue, key)));
    }
    table.add_row(std::move(row));
  }
  return table.render();
}

std::string render_key_values(const json& object) {
  TablePrinter table({{"KEY"}, {"VALUE"}});
  if (object.is_object()) add_key_values(object, "", table);
  return table.render();
}

std::string message_body_text(const json& message) {
  const json& body = field(message, "body");
  if (!body.is_string()) return "";
  const auto& text = body.get_ref<const std::string&>();
  const json& encoding = field(message, "encoding");
  if (encoding != "base64") return text;
  return base64_decode(text).value_or(text);
}

}  // namespace ballast::tools
