#pragma once
// Plain-text tables for the CLI's human output: columns padded to their widest cell.
// Not thread-safe: a value.

#include <string>
#include <vector>

namespace ballast::tools {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Every row on its own line, columns separated by two spaces, no trailing spaces.
  std::string render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Splits text into lines (without their line endings), dropping a final empty line.
std::vector<std::string> split_lines(const std::string& text);

}  // namespace ballast::tools
