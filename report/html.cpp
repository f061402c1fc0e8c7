#include "report/html.h"

#include "train/output_file.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace attnlab::report {

namespace {

// Readable on screen and in print: a narrow column, tables with light rules.
const char* kStyle = R"(
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f6f6f6; padding: 0.8em; font-size: 0.9em; white-space: pre-wrap;
      overflow-wrap: anywhere; }
figure { margin: 1.2em 0; } figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
svg { max-width: 100%; height: auto; }
)";

bool numeric_cell(const std::string& cell) {
  if (cell.empty() || cell == "-") return true;
  const unsigned char first = static_cast<unsigned char>(cell[0]);
  return std::isdigit(first) || ((first == '-' || first == '+') && cell.size() > 1 &&
                                 std::isdigit(static_cast<unsigned char>(cell[1])));
}

}  // namespace

HtmlPage::HtmlPage(const std::string& title) : title_(title) {
  heading(1, title);
}

void HtmlPage::heading(int level, const std::string& text) {
  body_ += fmt::format("<h{0}>{1}</h{0}>\n", level, xml_escape(text));
}

void HtmlPage::paragraph(const std::string& text) {
  body_ += "<p>" + xml_escape(text) + "</p>\n";
}

void HtmlPage::code_block(const std::string& text) {
  body_ += "<pre>" + xml_escape(text) + "</pre>\n";
}

void HtmlPage::table(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows) {
  std::vector<bool> numeric(header.size(), true);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < header.size(); ++c)
      if (!numeric_cell(row[c])) numeric[c] = false;
  body_ += "<table>\n<tr>";
  for (const std::string& h : header) body_ += "<th>" + xml_escape(h) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      body_ += (c > 0 && numeric[c] ? "<td class=\"num\">" : "<td>") + xml_escape(cell) + "</td>";
    }
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlPage::figure(const std::string& svg_markup, const std::string& caption) {
  body_ += "<figure>\n" + svg_markup + "\n<figcaption>" + xml_escape(caption) +
           "</figcaption>\n</figure>\n";
}

std::string HtmlPage::str() const {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
      xml_escape(title_), kStyle, body_);
}

void HtmlPage::save(const std::string& path) const {
  write_file_atomically(path, str());
}

}  // namespace attnlab::report
