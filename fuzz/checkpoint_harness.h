// What fuzz_checkpoint and fuzz_checkpoint_bytes share: three small valid
// checkpoints made at start-up (GPT and T5 translators, a BERT classifier),
// and one execution: an input picks a checkpoint and is then a program of
// edits (fuzz/checkpoint_mutator.h). Expected: the edited checkpoint loads
// and predicts, or the refusal names the file; and a changed parameter or
// optimizer value is never accepted.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "fuzz/bytes.h"
#include "fuzz/checkpoint_mutator.h"
#include "fuzz/fuzz_common.h"
#include "io/hdf5.h"
#include "models/config.h"
#include "optim/optim.h"
#include "study/loaded_run.h"
#include "train/checkpoint.h"

namespace attnlab::fuzz {
namespace checkpoint_harness {

struct Base {
  std::string bytes;
  CheckpointLayout layout;
};

inline Base make_base(Family family, data::TaskKind kind, const std::string& name) {
  const std::vector<std::string> texts{"2024-01-31", "jan 31, 2024", "abc xyz"};
  const data::Vocab vocab = data::Vocab::build(data::TokenizerKind::Char, texts);
  ModelConfig mc = preset(family);
  mc.vocab_size = vocab.size();
  mc.d_model = 8;
  mc.n_heads = 2;
  mc.d_ff = 16;
  mc.n_layers = 1;
  mc.n_decoder_layers = 1;
  mc.max_len = 24;
  mc.relative_buckets = 8;
  mc.relative_max_distance = 16;
  mc.num_classes = 2;
  validate(mc);
  const auto model = make_model(mc);
  CheckpointInfo info;
  info.model = mc;
  info.train = recipe(family, "");
  info.train.model = family;
  info.task_kind = kind;
  info.vocab_kind = std::string(vocab.kind_name());
  info.vocab_tokens = vocab.tokens();
  if (kind == data::TaskKind::Classification) info.labels = {"neg", "pos"};
  OptimizerConfig oc;
  oc.kind = info.train.optimizer;
  oc.weight_decay = info.train.weight_decay;
  Optimizer optimizer(model->named_parameters(), oc);
  const std::string path = scratch_path(name);
  save_checkpoint(path, info, *model, &optimizer);
  std::ifstream in(path, std::ios::binary);
  Base base{std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()},
            survey_checkpoint(path)};
  if (base.layout.datasets.empty()) violated("the base checkpoint has datasets", path);
  return base;
}

inline const Base& base(int which) {
  static const Base bases[3] = {
      make_base(Family::GPT, data::TaskKind::Translation, "base_gpt.h5"),
      make_base(Family::T5, data::TaskKind::Translation, "base_t5.h5"),
      make_base(Family::BERT, data::TaskKind::Classification, "base_bert.h5")};
  return bases[which];
}

}  // namespace checkpoint_harness

// Once, before the first input: HDF5's messages about the mutator's failed
// edits are expected, so they are silenced. HDF5 allocates about a megabyte
// of cache tables per open file, and returns blocks that large to the system
// at close; under ASan each open then costs fresh pages, 70% of the time.
// Keeping them on HDF5's free lists made the long runs 1.8 times faster (it
// hides nothing of ours from ASan: only blocks HDF5 allocated for itself
// are reused).
inline void start_checkpoint_harness() {
  H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  checkpoint_harness::base(0);
}

inline void run_checkpoint_input(const uint8_t* data, size_t size, Edits kind) {
  Bytes program(data, size);
  const uint8_t head = program.byte();
  const checkpoint_harness::Base& b = checkpoint_harness::base(head % 3);
  const std::string path = scratch_path("checkpoint.h5");
  write_file(path, b.bytes);
  const EditReport report = edit_checkpoint(path, b.layout, program, kind);
  // Any edit of a setting or the vocabulary fails the info checksum first.
  // Half of the well-formed files are sealed again, as a tool that writes
  // bad values on purpose would, so that the checks behind it are reached.
  if (kind == Edits::ThroughHdf5 && (head & 0x80)) {
    try {
      H5File f = H5File::open_rw(path);
      if (f.has_attribute("/", "info_checksum")) seal_checkpoint_info(f);
      f.close();
    } catch (const std::exception&) {
      // Edits that leave the checksum unreadable are the loader's to refuse.
    }
  }
  try {
    LoadedRun run = load_run(path);
    OptimizerConfig oc;
    oc.kind = run.info.train.optimizer;
    oc.weight_decay = run.info.train.weight_decay;
    Optimizer optimizer(run.model->named_parameters(), oc);
    load_optimizer_state(path, optimizer);
    if (!report.changed_tensors.empty())
      violated("a checkpoint whose stored tensor changed is refused",
               *report.changed_tensors.begin());
    if (run.vocab->size() != run.model->config().vocab_size)
      violated("a loaded checkpoint's vocabulary fits its model", path);
    run.framing->predict({"jan 31"});
  } catch (const std::exception& e) {
    expect_names(e, path);
  }
}

}  // namespace attnlab::fuzz
