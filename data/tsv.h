// Readers for user data in tab-separated files, one example per line:
//   translation     source<TAB>target
//   classification  label<TAB>text
// Blank lines are skipped, CRLF line endings and a UTF-8 byte order mark are accepted. Every
// error is a std::runtime_error that names path:line and what is wrong with the line, because
// students usually produce these files with ad-hoc scripts and spreadsheets.
#pragma once

#include "data/example.h"

#include <cstddef>
#include <string>
#include <vector>

namespace attnlab::data {

struct TsvFile {
  std::string path;
  // For classification files, source = text and target = label.
  std::vector<Example> examples;
  // 1-based line number of each example, for error messages that come later (unknown labels).
  std::vector<std::size_t> lines;
};

TsvFile read_translation_tsv(const std::string& path);
TsvFile read_classification_tsv(const std::string& path);

// Throws std::runtime_error naming path:line, the label and the known labels for the first
// example of `file` whose label is not in `known_labels` (e.g. a validation label never seen in
// training, which a classifier could never predict).
void check_labels_known(const TsvFile& file, const std::vector<std::string>& known_labels);

// Reads a training file and an optional validation file (empty path: none) into a Dataset named
// after the training file. For classification the labels come from the training file and the
// validation labels are checked against them.
Dataset load_tsv_dataset(TaskKind kind, const std::string& train_path,
                         const std::string& valid_path = {});

}  // namespace attnlab::data
