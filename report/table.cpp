#include "report/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace attnlab::report {

namespace {
// "-" and "- (why)" stand for no value and do not decide a column's alignment.
bool looks_numeric(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                           ((cell[0] == '-' || cell[0] == '+') && cell.size() > 1 &&
                            std::isdigit(static_cast<unsigned char>(cell[1]))));
}
}  // namespace

std::string Table::markdown() const {
  // A '|' inside a cell would end it: written as "\|", as Markdown reads it.
  const auto escaped = [](std::vector<std::string> cells) {
    for (std::string& cell : cells)
      for (size_t at = cell.find('|'); at != std::string::npos; at = cell.find('|', at + 2))
        cell.replace(at, 1, "\\|");
    return cells;
  };
  const std::vector<std::string> header = escaped(this->header);
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : this->rows) rows.push_back(escaped(row));
  std::vector<size_t> width(header.size(), 3);
  std::vector<bool> right(header.size(), true);
  for (size_t c = 0; c < header.size(); ++c) width[c] = std::max(width[c], header[c].size());
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < header.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
      if (!row[c].empty() && row[c][0] != '-' && !looks_numeric(row[c])) right[c] = false;
    }
  right[0] = false;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      out += right[c] ? fmt::format(" {:>{}} |", cell, width[c])
                      : fmt::format(" {:<{}} |", cell, width[c]);
    }
    return out + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t c = 0; c < header.size(); ++c)
    out += right[c] ? fmt::format(" {:->{}}: |", "", width[c] - 1)
                    : fmt::format(" {:-<{}} |", "", width[c]);
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string si_number(double x) {
  static const char* units[] = {"", " k", " M", " G", " T", " P"};
  int u = 0;
  while (std::fabs(x) >= 1000 && u < 5) {
    x /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f}", x) : fmt::format("{:.3g}{}", x, units[u]);
}

}  // namespace attnlab::report
