#include "tools/exit_code.h"

#include <ostream>

namespace ballast::tools {

std::string format_error(const Error& error) {
  std::string text = fmt::format("ballast: {}: {}\n", error.code_name(), error.message());
  if (!error.fix().empty()) text += fmt::format("Fix: {}\n", error.fix());
  return text;
}

ExitCode exit_code_for(const Error& error) {
  if (error.code() == ErrorCode::kServerUnreachable) return ExitCode::kUnreachable;
  return ExitCode::kRefused;
}

ExitCode report_error(const Error& error, std::ostream& err) {
  err << format_error(error);
  return exit_code_for(error);
}

ExitCode report_usage_error(const Error& error, std::ostream& err) {
  err << format_error(error);
  return ExitCode::kUsage;
}

}  // namespace ballast::tools
