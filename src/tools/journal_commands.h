#pragma once
// `ballast journal verify` and `ballast journal salvage`: offline tools for a STOPPED broker's
// data directory. They work on the files, not over HTTP: each takes the data-directory lock
// and refuses with DATA_DIR_LOCKED, naming the PID, while a ballastd runs on it.
//  - verify reads every record and prints each damaged range (file, byte offset, status,
//    queues touched); exit 0 when clean (a torn tail is only a warning), kDamaged when damaged,
//    kLocalError when the directory cannot be used.
//  - salvage copies every readable queue and message into a fresh journal (in place, the
//    originals go to DIR/quarantine/<UTC time>/; with --output, DIR is left untouched); see
//    broker/journal_salvage.h.
// The constructor registers the subcommands on `app`; when one is parsed, its action is stored
// in `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks
// refer to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <string>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class JournalCommands {
 public:
  JournalCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  JournalCommands(const JournalCommands&) = delete;
  JournalCommands& operator=(const JournalCommands&) = delete;

 private:
  ExitCode verify(Console& console) const;
  ExitCode salvage(Console& console) const;

  const GlobalOptions& globals_;
  std::string data_dir_;
  std::string output_dir_;
};

}  // namespace ballast::tools
