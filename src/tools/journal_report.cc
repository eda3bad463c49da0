#include "tools/journal_report.h"

#include <fmt/format.h>

#include "storage/segment_header.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

std::string queue_text(const broker::QueueName& queue) {
  if (queue.vhost.empty() || queue.vhost == "/") return queue.name;
  return fmt::format("{} (vhost {})", queue.name, queue.vhost);
}

std::string queues_text(const std::set<broker::QueueName>& queues) {
  if (queues.empty()) return "none that can be told";
  std::vector<std::string> names;
  for (const auto& queue : queues) names.push_back(queue_text(queue));
  return fmt::format("{}", fmt::join(names, ", "));
}

json queues_json(const std::set<broker::QueueName>& queues) {
  json list = json::array();
  for (const auto& queue : queues) list.push_back({{"vhost", queue.vhost}, {"name", queue.name}});
  return list;
}

json range_json(const std::string& data_dir, const storage::JournalDamage& damage) {
  return {{"path", data_dir + "/" + damage.file},
          {"file", damage.file},
          {"segment_id", damage.segment_id},
          {"offset", damage.offset},
          {"end_offset", damage.end_offset},
          {"status", storage::damage_status_name(damage.status)},
          {"detail", damage.detail}};
}

std::string range_text(const std::string& data_dir, const storage::JournalDamage& damage) {
  return fmt::format("{}/{} offset {} (bytes {}..{}): {}, {}", data_dir, damage.file, damage.offset,
                     damage.offset, damage.end_offset, storage::damage_status_name(damage.status),
                     damage.detail);
}

std::string damage_fix(const std::string& data_dir) {
  return fmt::format(
      "keep ballastd stopped; copy {0} somewhere safe; then run 'ballast journal salvage --data-dir {0}' "
      "to copy every readable queue and message into a fresh journal (the damaged files are "
      "quarantined, never deleted)",
      data_dir);
}

std::string damage_lines(const std::string& data_dir, const std::vector<storage::JournalDamage>& damage,
                         const std::vector<std::set<broker::QueueName>>& queues) {
  std::string text;
  for (size_t i = 0; i < damage.size(); ++i) {
    const std::set<broker::QueueName> none;
    text += fmt::format("STORAGE_CORRUPT: {}; queues: {}\n", range_text(data_dir, damage[i]),
                        queues_text(i < queues.size() ? queues[i] : none));
  }
  return text;
}

}  // namespace

json verify_json(const std::string& data_dir, const storage::VerifyReport& report,
                 const std::vector<std::set<broker::QueueName>>& queues) {
  json damage = json::array();
  for (size_t i = 0; i < report.damage.size(); ++i) {
    json entry = range_json(data_dir, report.damage[i]);
    entry["code"] = "STORAGE_CORRUPT";
    entry["queues"] = queues_json(i < queues.size() ? queues[i] : std::set<broker::QueueName>{});
    damage.push_back(std::move(entry));
  }
  json warnings = json::array();
  for (const auto& tail : report.torn_tails) warnings.push_back(range_json(data_dir, tail));
  json answer = {{"data_dir", data_dir},
                 {"clean", report.damage.empty()},
                 {"segments_read", report.segments_read},
                 {"records", report.records},
                 {"bytes", report.record_bytes},
                 {"had_checkpoint", report.had_checkpoint},
                 {"damage", std::move(damage)},
                 {"warnings", std::move(warnings)}};
  if (!report.damage.empty()) answer["fix"] = damage_fix(data_dir);
  return answer;
}

std::string verify_text(const std::string& data_dir, const storage::VerifyReport& report,
                        const std::vector<std::set<broker::QueueName>>& queues) {
  std::string text = fmt::format("journal {}: {} segments read, {} records, {} bytes\n", data_dir,
                                 report.segments_read, report.records, report.record_bytes);
  text += damage_lines(data_dir, report.damage, queues);
  for (const auto& tail : report.torn_tails) {
    text += fmt::format("warning: torn tail at {}; never confirmed, recovery drops it\n",
                        range_text(data_dir, tail));
  }
  if (report.damage.empty()) return text + "clean: no damage found\n";
  return text +
         fmt::format("damaged: {} damaged ranges\nFix: {}\n", report.damage.size(), damage_fix(data_dir));
}

json salvage_json(const std::string& data_dir, const broker::SalvageReport& report) {
  json skipped = json::array();
  for (const auto& message : report.skipped) {
    skipped.push_back({{"queue", {{"vhost", message.queue.vhost}, {"name", message.queue.name}}},
                       {"segment_id", message.location.segment_id},
                       {"offset", message.location.offset},
                       {"reason", message.reason}});
  }
  json damage = json::array();
  for (size_t i = 0; i < report.damage.size(); ++i) {
    json entry = range_json(data_dir, report.damage[i]);
    entry["queues"] = queues_json(i < report.damage_queues.size() ? report.damage_queues[i]
                                                                  : std::set<broker::QueueName>{});
    damage.push_back(std::move(entry));
  }
  json answer = {{"data_dir", data_dir},
                 {"queues", report.queues},
                 {"messages_copied", report.messages_copied},
                 {"exchange_tables", report.exchange_tables},
                 {"messages_skipped", std::move(skipped)},
                 {"damage", std::move(damage)},
                 {"recovery_problems", report.recovery_problems},
                 {"journal_dir", report.journal_dir.string()}};
  if (report.quarantine_dir) answer["quarantine_dir"] = report.quarantine_dir->string();
  return answer;
}

std::string salvage_text(const std::string& data_dir, const broker::SalvageReport& report) {
  std::string text = fmt::format("salvaged {}: {} queues, {} messages copied, {} exchange tables\n", data_dir,
                                 report.queues, report.messages_copied, report.exchange_tables);
  for (const auto& message : report.skipped) {
    text += fmt::format("skipped: a message of queue {} at journal/{} offset {}: {}\n",
                        queue_text(message.queue), storage::segment_file_name(message.location.segment_id),
                        message.location.offset, message.reason);
  }
  text += damage_lines(data_dir, report.damage, report.damage_queues);
  for (const auto& problem : report.recovery_problems) text += fmt::format("recovery: {}\n", problem);
  text += fmt::format("fresh journal: {}\n", report.journal_dir.string());
  if (report.quarantine_dir) {
    text += fmt::format("damaged originals (moved, not deleted): {}\n", report.quarantine_dir->string());
  } else {
    text += fmt::format("original left untouched: {}\n", data_dir);
  }
  return text;
}

}  // namespace ballast::tools
