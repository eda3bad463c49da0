#include "tools/command_context.h"

#include <ostream>

#include "tools/json_text.h"

namespace ballast::tools {

ExitCode print_answer(const Result<nlohmann::json>& answer, const GlobalOptions& globals, Console& console,
                      const HumanRenderer& render) {
  if (!answer) return report_error(answer.error(), console.err);
  console.out << (globals.json_output ? json_text(*answer) + "\n" : render(*answer));
  return ExitCode::kOk;
}

}  // namespace ballast::tools
