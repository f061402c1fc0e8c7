#include "data/utf8.h"

#include <fmt/format.h>
#include "common/errors.h"

#include <stdexcept>

namespace attnlab::data {
namespace {

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Result of looking at the code point that starts at some byte offset: its length in bytes,
// or 0 together with a human-readable reason when the bytes are not valid UTF-8.
struct SequenceCheck {
  std::size_t length = 0;
  const char* problem = nullptr;
};

SequenceCheck check_sequence(std::string_view text, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {1, nullptr};
  if (is_continuation(lead)) return {0, "continuation byte without a lead byte"};
  if (lead == 0xC0 || lead == 0xC1) return {0, "overlong encoding"};
  if (lead > 0xF4) return {0, "byte that never appears in UTF-8"};

  const std::size_t length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (pos + length > text.size()) return {0, "multi-byte sequence cut off by the end of the text"};
  for (std::size_t i = 1; i < length; ++i) {
    if (!is_continuation(static_cast<unsigned char>(text[pos + i]))) {
      return {0, "multi-byte sequence cut off by a non-continuation byte"};
    }
  }
  // The lead byte alone cannot rule out every bad value: these second-byte ranges are the
  // overlong forms, the UTF-16 surrogates and values above U+10FFFF.
  const auto second = static_cast<unsigned char>(text[pos + 1]);
  if (lead == 0xE0 && second < 0xA0) return {0, "overlong encoding"};
  if (lead == 0xED && second > 0x9F) return {0, "UTF-16 surrogate code point"};
  if (lead == 0xF0 && second < 0x90) return {0, "overlong encoding"};
  if (lead == 0xF4 && second > 0x8F) return {0, "code point above U+10FFFF"};
  return {length, nullptr};
}

[[noreturn]] void throw_invalid(std::string_view text, std::size_t pos, std::string_view context,
                                const char* problem) {
  const auto byte = static_cast<unsigned char>(text[pos]);
  const std::string where = context.empty() ? std::string() : fmt::format("{}: ", context);
  throw InputError(
      fmt::format("{}invalid UTF-8 at byte {} (0x{:02X}): {}", where, pos + 1, byte, problem));
}

}  // namespace

std::size_t code_point_length(std::string_view text, std::size_t pos, std::string_view context) {
  const SequenceCheck check = check_sequence(text, pos);
  if (check.length == 0) throw_invalid(text, pos, context, check.problem);
  return check.length;
}

namespace {

// Calls on_code_point(offset, length) for every code point, throwing on the first bad one.
template <typename Visitor>
void for_each_code_point(std::string_view text, std::string_view context, Visitor on_code_point) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = code_point_length(text, pos, context);
    on_code_point(pos, length);
    pos += length;
  }
}

}  // namespace

std::vector<std::string> split_code_points(std::string_view text, std::string_view context) {
  std::vector<std::string> pieces;
  pieces.reserve(text.size());
  for_each_code_point(text, context, [&](std::size_t pos, std::size_t length) {
    pieces.emplace_back(text.substr(pos, length));
  });
  return pieces;
}

void validate_utf8(std::string_view text, std::string_view context) {
  for_each_code_point(text, context, [](std::size_t, std::size_t) {});
}

std::size_t count_code_points(std::string_view text, std::string_view context) {
  std::size_t count = 0;
  for_each_code_point(text, context, [&](std::size_t, std::size_t) { ++count; });
  return count;
}

}  // namespace attnlab::data
