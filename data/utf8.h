// UTF-8 validation and splitting into code points. Character-level tokenizers work on code
// points, not bytes, so "é" is one token and a student's accented data never gets split into
// meaningless byte fragments.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::data {

// Splits `text` into its code points, each returned as the bytes that encode it.
// Invalid UTF-8 (stray continuation bytes, truncated or overlong sequences, surrogates,
// values above U+10FFFF) throws std::runtime_error. The message starts with `context`
// (the caller passes e.g. "train.tsv:12") so the user can find the offending line.
std::vector<std::string> split_code_points(std::string_view text, std::string_view context = {});

// Throws exactly like split_code_points, without building the pieces.
void validate_utf8(std::string_view text, std::string_view context = {});

// Number of code points in valid UTF-8 `text`; throws like validate_utf8 otherwise.
std::size_t count_code_points(std::string_view text, std::string_view context = {});

// Bytes of the code point that starts at byte `pos` of `text` (pos < text.size()); throws
// like validate_utf8 if it is not valid there. For walking a text one code point at a time
// without building the pieces: a long text would cost 32 bytes a code point as strings.
std::size_t code_point_length(std::string_view text, std::size_t pos,
                              std::string_view context = {});

}  // namespace attnlab::data
