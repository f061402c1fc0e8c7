// One name table per enum: the only place an enum value is spelled as text.
// Printing, parsing, the CLI's help text and the checkpoint all read the
// table, so a value added to an enum is added in exactly one more place.
//
//   inline constexpr EnumName<NormKind> kNormKindNames[] = {
//       {NormKind::LayerNorm, "layernorm"}, {NormKind::RMSNorm, "rmsnorm"}};
//   enum_name(kNormKindNames, NormKind::RMSNorm)        -> "rmsnorm"
//   enum_from_name(kNormKindNames, "rmsnorm", "norm")   -> NormKind::RMSNorm
#pragma once

#include <fmt/format.h>

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace attnlab {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E>
const char* enum_name(std::span<const EnumName<E>> table, E value) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return "?";  // unreachable while every enumerator has a table entry
}

// "a, b or c": the choices, for help texts and error messages.
template <typename E>
std::string enum_choices(std::span<const EnumName<E>> table) {
  std::string out;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i) out += i + 1 == table.size() ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

// Throws std::invalid_argument "<what>: 'text' is not one of a, b or c".
template <typename E>
E enum_from_name(std::span<const EnumName<E>> table, std::string_view text, std::string_view what) {
  for (const auto& entry : table)
    if (text == entry.name) return entry.value;
  throw std::invalid_argument(
      fmt::format("{}: '{}' is not one of {}", what, text, enum_choices(table)));
}

// Array overloads, so call sites pass the table as it is declared.
template <typename E, size_t N>
const char* enum_name(const EnumName<E> (&table)[N], E value) {
  return enum_name(std::span<const EnumName<E>>(table), value);
}
template <typename E, size_t N>
std::string enum_choices(const EnumName<E> (&table)[N]) {
  return enum_choices(std::span<const EnumName<E>>(table));
}
template <typename E, size_t N>
E enum_from_name(const EnumName<E> (&table)[N], std::string_view text, std::string_view what) {
  return enum_from_name(std::span<const EnumName<E>>(table), text, what);
}

}  // namespace attnlab
