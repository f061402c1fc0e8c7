// Plain UTF-8 text files for language modelling (--task-kind lm): each line,
// with its newline, becomes one example; the model reads them as one stream.
#pragma once

#include <string>

#include "data/example.h"

namespace attnlab::data {

// The training text, and the held-out text when valid_path is not empty.
// Throws std::runtime_error naming the file (and file:line for invalid UTF-8)
// when a file cannot be read, is empty, or is larger than the limit below.
Dataset load_text_dataset(const std::string& train_path, const std::string& valid_path);

// Files above this size are refused rather than read into memory. Training
// holds about 20 bytes per character (the token stream and each epoch's
// shuffled block offsets), so 256 MiB of text needs about 5 GiB.
inline constexpr size_t kMaxTextFileBytes = size_t(256) << 20;

}  // namespace attnlab::data
