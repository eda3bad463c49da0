#include "tools/decimal_validator.h"

#include <algorithm>

namespace ballast::tools {

CLI::Validator decimal_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const bool digits_only = !value.empty() && std::all_of(value.begin(), value.end(),
                                                               [](char c) { return c >= '0' && c <= '9'; });
        if (!digits_only) {
          return "\"" + value + "\" is not a whole number written in decimal digits, e.g. 100";
        }
        // Leading zeros would make CLI11 read the number as octal.
        const auto first_significant = std::min(value.find_first_not_of('0'), value.size() - 1);
        value.erase(0, first_significant);
        return "";
      },
      "");
}

}  // namespace ballast::tools
