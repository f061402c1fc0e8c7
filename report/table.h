// Tables for people: Markdown pipe tables with padded columns, so the same
// text reads well in a terminal and pastes into docs. Numbers in human units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab::report {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Columns that hold numbers are right-aligned; the first column never is.
  std::string markdown() const;
};

std::string with_commas(int64_t n);  // 1234567 -> "1,234,567"
std::string si_number(double x);     // 1.23e6 -> "1.23 M"

}  // namespace attnlab::report
