#include "tools/table_printer.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

TEST(TablePrinter, PadsEachColumnToItsWidestCellWithoutTrailingSpaces) {
  TablePrinter table({{"NAME"}, {"MESSAGES", Align::kRight}, {"NOTE"}});
  table.add_row({"jobs", "12", "x"});
  table.add_row({"invoices-eu", "3", ""});
  EXPECT_EQ(table.render(),
            "NAME         MESSAGES  NOTE\n"
            "jobs               12  x\n"
            "invoices-eu         3\n");
}

TEST(TablePrinter, CountsUtf8CodePointsNotBytes) {
  TablePrinter table({{"NAME"}, {"N", Align::kRight}});
  table.add_row({"caf\xC3\xA9", "1"});
  table.add_row({"abcd", "22"});
  EXPECT_EQ(table.render(),
            "NAME   N\n"
            "caf\xC3\xA9   1\n"
            "abcd  22\n");
}

TEST(TablePrinter, PadsShortRowsWithEmptyCells) {
  TablePrinter table({{"KEY"}, {"VALUE"}});
  table.add_row({"only-key"});
  EXPECT_EQ(table.render(), "KEY       VALUE\nonly-key\n");
}

TEST(TablePrinter, HeaderAloneWhenThereAreNoRows) {
  EXPECT_EQ(TablePrinter({{"NAME"}, {"BYTES", Align::kRight}}).render(), "NAME  BYTES\n");
}

}  // namespace
}  // namespace ballast::tools
