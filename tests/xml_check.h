// A small well-formedness check for the XML attnlab writes (SVG, HTML
// reports): tags nest and close, attribute values are quoted, '&' starts a
// known entity, and there is one root element. It returns the problem, or ""
// and the count of each element name.
#pragma once

#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace xml_check {

inline std::string check(const std::string& doc, std::map<std::string, int>* elements = nullptr) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  const auto at = [&](size_t pos) { return " at byte " + std::to_string(pos); };
  while (i < doc.size()) {
    if (doc[i] == '&') {
      const size_t semi = doc.find(';', i);
      const std::string entity = semi == std::string::npos ? "" : doc.substr(i, semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
          entity != "&apos;" && entity.rfind("&#", 0) != 0)
        return "bad entity" + at(i);
      i = semi + 1;
      continue;
    }
    if (doc[i] != '<') {
      ++i;
      continue;
    }
    if (doc.compare(i, 4, "<!--") == 0) {
      const size_t end = doc.find("-->", i);
      if (end == std::string::npos) return "unclosed comment" + at(i);
      i = end + 3;
      continue;
    }
    if (doc.compare(i, 2, "<?") == 0 || doc.compare(i, 2, "<!") == 0) {  // prolog, doctype
      i = doc.find('>', i) + 1;
      continue;
    }
    const size_t end = doc.find('>', i);
    if (end == std::string::npos) return "unclosed tag" + at(i);
    std::string tag = doc.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (closing) tag = tag.substr(1);
    if (self_closing) tag.pop_back();
    size_t n = 0;
    while (n < tag.size() && !std::isspace(static_cast<unsigned char>(tag[n]))) ++n;
    const std::string name = tag.substr(0, n);
    if (name.empty()) return "empty tag name" + at(i);
    // Attributes: name="value" pairs, values quoted.
    for (size_t k = n; k < tag.size();) {
      while (k < tag.size() && std::isspace(static_cast<unsigned char>(tag[k]))) ++k;
      if (k >= tag.size()) break;
      const size_t eq = tag.find('=', k);
      if (eq == std::string::npos || eq + 1 >= tag.size() ||
          (tag[eq + 1] != '"' && tag[eq + 1] != '\''))
        return "unquoted attribute in <" + name + ">" + at(i);
      const size_t close = tag.find(tag[eq + 1], eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + name + ">" + at(i);
      k = close + 1;
    }
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> does not close <" + (open.empty() ? "" : open.back()) + ">" + at(i);
      open.pop_back();
    } else {
      if (open.empty()) ++roots;
      if (elements) ++(*elements)[name];
      if (!self_closing) open.push_back(name);
    }
    i = end + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  if (roots != 1) return "expected one root element, found " + std::to_string(roots);
  return "";
}

}  // namespace xml_check
