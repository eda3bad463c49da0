#pragma once
// BALLAST_CHECK: assertions for bugs, active in every build. A failed check logs the
// condition, the location and the formatted values, then aborts. Never check anything that
// a client, the disk, a plug-in or a config file can make false: that is an expected failure
// and goes through Result (STYLE.md §4).
// Thread-safe.

#include <fmt/format.h>

#include <source_location>
#include <string>

namespace ballast::detail {
[[noreturn]] void check_failed(const char* condition, const std::string& message, std::source_location where);
}  // namespace ballast::detail

#define BALLAST_CHECK(condition, ...)                                         \
  do {                                                                        \
    if (!(condition)) [[unlikely]] {                                          \
      ::ballast::detail::check_failed(#condition, ::fmt::format(__VA_ARGS__), \
                                      ::std::source_location::current());     \
    }                                                                         \
  } while (false)
