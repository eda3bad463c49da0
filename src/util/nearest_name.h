#pragma once
// "Did you mean ...?" for unknown keys: the candidate closest to a misspelt name by edit
// distance (Levenshtein). Thread-safe: pure functions.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace ballast {

size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `given`, if it is at most `max_distance` edits away.
std::optional<std::string_view> nearest_name(std::string_view given,
                                             const std::vector<std::string_view>& candidates,
                                             size_t max_distance);

}  // namespace ballast
