#pragma once
// What one run of the command-trigger's command means for the broker (docs/plugins.md,
// "command-trigger"): exit 0 -> done; exit 75 (EX_TEMPFAIL), killed at timeout_ms, or not
// started -> retry; any other exit status or a signal -> failed. Every reason names the command,
// what ended it and its last stderr line. Thread-safe: pure functions.

#include "ballast/plugin.h"
#include "plugins/command_trigger/command_runner.h"
#include "plugins/command_trigger/command_settings.h"

namespace ballast::command_trigger {

inline constexpr int kExitTempFail = 75;  // EX_TEMPFAIL of sysexits.h: "try again later"

plugin::Outcome outcome_for(const CommandRun& run, const CommandSettings& settings);

}  // namespace ballast::command_trigger
