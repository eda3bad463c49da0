#pragma once
// Plain-text tables for the CLI's human output: a header row, then one row per item, each
// column padded to its widest cell (counted in UTF-8 code points), columns separated by two
// spaces, no trailing spaces.
// Not thread-safe: a value.

#include <string>
#include <vector>

namespace ballast::tools {

enum class Align { kLeft, kRight };

struct Column {
  std::string title;
  Align align = Align::kLeft;
};

class TablePrinter {
 public:
  explicit TablePrinter(std::vector<Column> columns);

  // Adds one row. A row with fewer cells than columns is padded with empty cells; more cells
  // than columns is a bug.
  void add_row(std::vector<std::string> cells);

  // The header and every row, each line ending in '\n'.
  std::string render() const;

 private:
  std::vector<size_t> column_widths() const;
  std::string render_line(const std::vector<std::string>& cells, const std::vector<size_t>& widths) const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ballast::tools
