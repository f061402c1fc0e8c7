// A config struct's fields by name: one table per struct, each entry a name,
// a pointer to member and a help line. Command-line options, INI files,
// `--set key=value`, checkpoints and the help text all go through the table,
// so a field is declared once and every error message has one form:
//   <what> '<key>': '<value>' is not an integer
//   unknown <what> '<key>' (known: a, b, ...)
#pragma once

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/enum_names.h"

namespace attnlab {

namespace fields_detail {

// Whole-string parses: "12x", "" and " 12" are refused.
template <typename V>
bool parse_number(std::string_view text, V& out) {
  if (text.empty()) return false;
  if constexpr (std::is_unsigned_v<V>)
    if (text[0] == '-') return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec == std::errc::result_out_of_range && ptr == end)
    throw std::invalid_argument(fmt::format("'{}' is out of range", text));
  return ec == std::errc() && ptr == end;
}

inline bool parse_bool(std::string_view text, bool& out) {
  if (text == "true" || text == "1" || text == "yes") return out = true, true;
  if (text == "false" || text == "0" || text == "no") return out = false, true;
  return false;
}

}  // namespace fields_detail

template <typename Config>
class FieldTable {
 public:
  struct Field {
    std::string name;
    std::string help;
    std::function<std::string(const Config&)> get;
    // Throws std::invalid_argument saying what is wrong with the value.
    std::function<void(Config&, std::string_view)> set;
  };

  // `what` names the struct's fields in messages: "model config", "option".
  explicit FieldTable(std::string what) : what_(std::move(what)) {}

  // int64_t, uint64_t, double, bool and std::string members.
  template <typename V>
  FieldTable& add(const char* name, V Config::*member, std::string help) {
    Field f{name, std::move(help), nullptr, nullptr};
    f.get = [member](const Config& c) { return format_value(c.*member); };
    f.set = [member](Config& c, std::string_view text) { parse_value(text, c.*member); };
    fields_.push_back(std::move(f));
    return *this;
  }

  // Enum members, spelled by their name table; the help line lists the choices.
  template <typename E, size_t N>
  FieldTable& add(const char* name, E Config::*member, const EnumName<E> (&names)[N],
                  std::string help) {
    const EnumName<E>* table = names;
    Field f{name, fmt::format("{} ({})", help, enum_choices(names)), nullptr, nullptr};
    f.get = [member, table](const Config& c) {
      return std::string(enum_name(std::span<const EnumName<E>>(table, N), c.*member));
    };
    f.set = [member, table](Config& c, std::string_view text) {
      const std::span<const EnumName<E>> span(table, N);
      for (const auto& entry : span)
        if (text == entry.name) {
          c.*member = entry.value;
          return;
        }
      throw std::invalid_argument(fmt::format("'{}' is not one of {}", text, enum_choices(span)));
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  const std::vector<Field>& fields() const { return fields_; }

  const Field* find(std::string_view name) const {
    for (const Field& f : fields_)
      if (f.name == name) return &f;
    return nullptr;
  }

  // Throws std::invalid_argument naming the key for unknown keys and bad values.
  void set(Config& config, std::string_view key, std::string_view value) const {
    const Field* f = find(key);
    if (!f) {
      std::string known;
      for (const Field& g : fields_) known += (known.empty() ? "" : ", ") + g.name;
      throw std::invalid_argument(fmt::format("unknown {} '{}' (known: {})", what_, key, known));
    }
    try {
      f->set(config, value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{} '{}': {}", what_, key, e.what()));
    }
  }

  std::map<std::string, std::string> to_map(const Config& config) const {
    std::map<std::string, std::string> out;
    for (const Field& f : fields_) out[f.name] = f.get(config);
    return out;
  }

 private:
  template <typename V>
  static std::string format_value(const V& v) {
    if constexpr (std::is_same_v<V, bool>)
      return v ? "true" : "false";
    else
      return fmt::format("{}", v);  // doubles: the shortest text that reads back exactly
  }

  template <typename V>
  static void parse_value(std::string_view text, V& out) {
    bool ok = false;
    const char* expected = "a number";
    V parsed{};  // a refused value leaves the field as it was
    if constexpr (std::is_same_v<V, std::string>) {
      parsed = std::string(text);
      ok = true;
    } else if constexpr (std::is_same_v<V, bool>) {
      ok = fields_detail::parse_bool(text, parsed);
      expected = "true/false";
    } else {
      static_assert(std::is_arithmetic_v<V>, "FieldTable: unsupported member type");
      ok = fields_detail::parse_number(text, parsed);
      if constexpr (std::is_unsigned_v<V>)
        expected = "a non-negative integer";
      else if constexpr (std::is_integral_v<V>)
        expected = "an integer";
    }
    if (!ok) throw std::invalid_argument(fmt::format("'{}' is not {}", text, expected));
    out = std::move(parsed);
  }

  std::string what_;
  std::vector<Field> fields_;
};

}  // namespace attnlab
