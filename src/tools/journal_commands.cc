#include "tools/journal_commands.h"

#include <chrono>
#include <ostream>

#include <fmt/chrono.h>
#include <CLI/CLI.hpp>

#include "broker/damaged_queue_finder.h"
#include "broker/journal_salvage.h"
#include "storage/data_dir_lock.h"
#include "storage/journal_verifier.h"
#include "storage/posix_file_system.h"
#include "tools/journal_report.h"
#include "tools/json_text.h"
#include "util/log.h"

namespace ballast::tools {

namespace {

// "20261202T053347Z": names the quarantine folder of one salvage.
std::string utc_stamp() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format("{:%Y%m%dT%H%M%SZ}", fmt::gmtime(now));
}

ExitCode report_local_error(const Error& error, Console& console) {
  console.err << format_error(error);
  return ExitCode::kLocalError;
}

// NOT_FOUND unless `data_dir` holds a broker's superblock: checked before anything else, so
// that a mistyped --data-dir is named as such and nothing (not even a lock file) is created.
Status require_data_dir(const std::filesystem::path& data_dir) {
  std::error_code error;
  if (std::filesystem::exists(data_dir / "superblock", error)) return ok_status();
  const bool exists = std::filesystem::exists(data_dir, error);
  return Error(
      ErrorCode::kNotFound,
      fmt::format("{} {}", data_dir.string(),
                  exists ? "is not a Ballast data directory: it has no superblock file" : "does not exist"),
      "pass the storage.data_dir of the stopped broker as --data-dir");
}

}  // namespace

JournalCommands::JournalCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* journal = app.add_subcommand(
      "journal", "Offline tools for a stopped broker's journal (they read files, not HTTP)");
  journal->require_subcommand(1);
  CLI::App* verify = journal->add_subcommand(
      "verify", "Read every journal record; report damage with file, offset and the queues it touches");
  verify->add_option("--data-dir", data_dir_, "The stopped broker's storage.data_dir")->required();
  verify->callback([this, &selected] {
    selected = [this](ApiClient&, Console& console) { return this->verify(console); };
  });
  CLI::App* salvage = journal->add_subcommand(
      "salvage", "Copy every readable queue and message into a fresh journal; quarantine the damaged files");
  salvage->add_option("--data-dir", data_dir_, "The stopped broker's storage.data_dir")->required();
  salvage->add_option("--output", output_dir_,
                      "Write the fresh journal here (new or empty) and leave --data-dir untouched");
  salvage->callback([this, &selected] {
    selected = [this](ApiClient&, Console& console) { return this->salvage(console); };
  });
}

ExitCode JournalCommands::verify(Console& console) const {
  log::set_min_level(log::Level::kWarn);
  if (auto found = require_data_dir(data_dir_); !found) return report_local_error(found.error(), console);
  // Only reads: probing the lock (a running ballastd is named) creates and writes nothing.
  if (auto free = storage::DataDirLock::probe(data_dir_); !free)
    return report_local_error(free.error(), console);
  storage::PosixFileSystem posix;
  broker::DamagedQueueFinder finder;
  auto report = storage::verify_journal(posix, data_dir_, finder);
  if (!report) return report_local_error(report.error(), console);
  const auto queues = finder.affected_queues();
  if (globals_.json_output) {
    console.out << json_text(verify_json(data_dir_, *report, queues)) << '\n';
  } else {
    console.out << verify_text(data_dir_, *report, queues);
  }
  console.out.flush();
  if (!console.out) return ExitCode::kRefused;
  return report->damage.empty() ? ExitCode::kOk : ExitCode::kDamaged;
}

ExitCode JournalCommands::salvage(Console& console) const {
  log::set_min_level(log::Level::kWarn);
  if (auto found = require_data_dir(data_dir_); !found) return report_local_error(found.error(), console);
  broker::SalvageOptions options;
  options.data_dir = data_dir_;
  if (!output_dir_.empty()) options.output_dir = output_dir_;
  options.stamp = utc_stamp();
  auto report = broker::salvage_journal(options);
  if (!report) return report_local_error(report.error(), console);
  if (globals_.json_output) {
    console.out << json_text(salvage_json(data_dir_, *report)) << '\n';
  } else {
    console.out << salvage_text(data_dir_, *report);
  }
  console.out.flush();
  return console.out ? ExitCode::kOk : ExitCode::kRefused;
}

}  // namespace ballast::tools
