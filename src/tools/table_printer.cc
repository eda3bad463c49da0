#include "tools/table_printer.h"

#include <algorithm>

#include "util/check.h"

namespace ballast::tools {
namespace {

constexpr std::string_view kGap = "  ";

// Code points, so a queue name with accents does not push its row out of line.
size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

TablePrinter::TablePrinter(std::vector<Column> columns) : columns_(std::move(columns)) {}

void TablePrinter::add_row(std::vector<std::string> cells) {
  BALLAST_CHECK(cells.size() <= columns_.size(), "table row has {} cells for {} columns", cells.size(),
                columns_.size());
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TablePrinter::render() const {
  const auto widths = column_widths();
  std::vector<std::string> titles;
  for (const auto& column : columns_) titles.push_back(column.title);
  std::string text = render_line(titles, widths);
  for (const auto& row : rows_) text += render_line(row, widths);
  return text;
}

std::vector<size_t> TablePrinter::column_widths() const {
  std::vector<size_t> widths;
  for (const auto& column : columns_) widths.push_back(display_width(column.title));
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  return widths;
}

std::string TablePrinter::render_line(const std::vector<std::string>& cells,
                                      const std::vector<size_t>& widths) const {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string padding(widths[i] - display_width(cells[i]), ' ');
    if (i > 0) line += kGap;
    if (columns_[i].align == Align::kRight) line += padding;
    line += cells[i];
    if (columns_[i].align == Align::kLeft) line += padding;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + '\n';
}

}  // namespace ballast::tools
