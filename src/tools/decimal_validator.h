#pragma once
// A CLI11 transform for numeric options (attach it with ->transform(), which lets it rewrite
// the value): the value must be plain decimal digits, and leading zeros are dropped. On its own,
// CLI11 2.1 reads unsigned options with strtoull, so "-1" becomes 18446744073709551615 and
// "010" is octal 8.
// Thread-safe: returns a new value each call.

#include <CLI/CLI.hpp>

namespace ballast::tools {

CLI::Validator decimal_number();

}  // namespace ballast::tools
