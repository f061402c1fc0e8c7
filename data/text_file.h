// Plain UTF-8 text files for language modelling (--task-kind lm): the model
// reads each file as one stream of tokens, newlines included.
#pragma once

#include <string>

#include "data/example.h"

namespace attnlab::data {

// The whole of `path`, each line checked as UTF-8 (an error names
// file:line). Throws InputError naming the file when it cannot be read, is
// empty, or is larger than the limit below.
std::string read_text_file(const std::string& path);

// A language model's text as one training example and one held-out example.
// Without `valid_path` the last tenth of the training file's lines is held
// out, or of its characters when it has fewer than 10 lines. The text is held
// once, not line by line: a 250 MB file costs 250 MB here.
Dataset load_text_dataset(const std::string& train_path, const std::string& valid_path);

// Files above this size are refused rather than read into memory; training
// holds about 9 bytes per byte of text at its peak (docs/generation.md).
inline constexpr size_t kMaxTextFileBytes = size_t(256) << 20;

}  // namespace attnlab::data
