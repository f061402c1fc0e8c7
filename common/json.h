// JSON documents are read and written with nlohmann-json; keys keep the
// order they are set in, so that a line reads in a sensible order.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace attnlab {

using Json = nlohmann::ordered_json;

// One line of a JSON Lines document, spaced as Python's json.dumps spaces it
// ({"key": value, "other": [1, 2]}), non-finite numbers as null, and bytes
// that are not UTF-8 replaced rather than thrown on.
inline void append_json(std::string& out, const Json& j) {
  const auto scalar = [](const Json& x) {
    return x.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  if (j.is_object()) {
    out += '{';
    const char* separator = "";
    for (const auto& [key, value] : j.items()) {
      out += separator;
      out += scalar(Json(key)) + ": ";
      append_json(out, value);
      separator = ", ";
    }
    out += '}';
  } else if (j.is_array()) {
    out += '[';
    const char* separator = "";
    for (const Json& value : j) {
      out += separator;
      append_json(out, value);
      separator = ", ";
    }
    out += ']';
  } else {
    out += scalar(j);
  }
}
inline std::string json_line(const Json& j) {
  std::string out;
  append_json(out, j);
  return out;
}

}  // namespace attnlab
