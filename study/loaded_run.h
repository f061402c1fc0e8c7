// A finished run's checkpoint with its framing rebuilt, ready to evaluate,
// predict, trace or compare: what eval, predict, trace and compare share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framing/framing.h"
#include "train/checkpoint.h"

namespace attnlab {

struct LoadedRun {
  std::string file;  // the checkpoint file read (--ckpt may name a directory)
  CheckpointInfo info;
  std::shared_ptr<data::Vocab> vocab;
  std::shared_ptr<Model> model;
  std::unique_ptr<Framing> framing;
};

// --ckpt names a file, or a run directory: its best.h5 when there is one (the
// model of the best held-out evaluation), else its checkpoint.h5. Throws
// InputError when there is neither.
LoadedRun load_run(const std::string& ckpt_option);

// The data a run is scored on: `valid_file` when given (a TSV, or a plain
// text for a language model), else the run's own held-out split,
// regenerated from its training data. Throws InputError naming the run and
// --valid-file when that data cannot be read.
struct HeldOut {
  std::vector<data::Example> examples;
  std::vector<std::string> origins;  // file:line of each example, when from a TSV
  std::string source;                // "held-out split of train.tsv", or the file
};
HeldOut held_out_of(const LoadedRun& run, const std::string& valid_file);

// "best model: held-out accuracy 0.9710 at step 2500" or "checkpoint at step 8000".
std::string which_model(const std::string& file, const CheckpointInfo& info);

}  // namespace attnlab
