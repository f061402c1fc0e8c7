// The few JSON pieces `--format jsonl` needs: escaped strings and numbers
// that read back exactly.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::cli {

// A JSON string literal; UTF-8 passes through, control characters are escaped.
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += char(c);
    }
  }
  return out + "\"";
}

// Shortest text that reads back to the same double; JSON has no inf or NaN,
// so those become null.
inline std::string json_number(double x) {
  return std::isfinite(x) ? fmt::format("{}", x) : "null";
}

template <typename T, typename Format>
std::string json_array(const std::vector<T>& values, Format format) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + format(values[i]);
  return out + "]";
}

}  // namespace attnlab::cli
