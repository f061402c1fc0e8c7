// Edits a valid checkpoint through HDF5 itself, so that a fuzzed checkpoint
// gets past HDF5's own parser and reaches attnlab's checks: attributes with
// other types and values, datasets with other shapes and element types,
// deleted objects, single values poked into tensors, and (when asked) finally
// raw byte flips. A fuzz input is read as a program of such edits.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "fuzz/bytes.h"

namespace attnlab::fuzz {

struct CheckpointLayout {
  std::vector<std::string> datasets;                            // "params/embed/weight", ...
  std::vector<std::pair<std::string, std::string>> attributes;  // (object, attribute name)
};

// Every dataset and attribute of the file at `path`.
CheckpointLayout survey_checkpoint(const std::string& path);

struct EditReport {
  // Tensors under params/ or optimizer/ that now hold other bytes than
  // before, and that no later edit removed or replaced.
  std::set<std::string> changed_tensors;
  int edits = 0;
};

enum class Edits {
  ThroughHdf5,   // the file stays well-formed HDF5: raw byte flips are skipped
  AlsoRawBytes,  // and flips of raw bytes, written last, which may break its structure
};

// Applies the edits that `program` spells to the file at `path` (a copy of a
// checkpoint with the given layout). Both kinds read a program the same way.
EditReport edit_checkpoint(const std::string& path, const CheckpointLayout& layout, Bytes& program,
                           Edits kind);

}  // namespace attnlab::fuzz
