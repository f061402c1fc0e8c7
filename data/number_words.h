// English number names as used by the `numbers` task: no "and", no hyphens, e.g.
// 1234 -> "one thousand two hundred thirty four", 105 -> "one hundred five". Keeping every word
// space-separated lets a word-level tokenizer learn "twenty" and "one" as separate tokens.
#pragma once

#include <cstdint>
#include <string>

namespace attnlab::data {

// Valid for 0 <= n <= 999'999'999; throws std::invalid_argument otherwise.
std::string number_to_words(int64_t n);

}  // namespace attnlab::data
