// One self-contained HTML page for people (the compare report): inline CSS
// and inline SVG, no scripts and nothing fetched from the network, so the
// file opens in any browser, offline, and can be mailed as it is.
#pragma once

#include <string>
#include <vector>

#include "report/svg.h"

namespace attnlab::report {

class HtmlPage {
 public:
  explicit HtmlPage(const std::string& title);
  void heading(int level, const std::string& text);
  void paragraph(const std::string& text);   // plain text, escaped
  void code_block(const std::string& text);  // preformatted, escaped
  // A table of plain-text cells; numeric-looking columns are right-aligned.
  void table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows);
  // An inline SVG picture (an Svg's str()) with its caption.
  void figure(const std::string& svg_markup, const std::string& caption);
  std::string str() const;
  void save(const std::string& path) const;  // makes the parent directory

 private:
  std::string title_, body_;
};

}  // namespace attnlab::report
