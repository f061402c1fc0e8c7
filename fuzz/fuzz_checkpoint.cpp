// Fuzz target: the checkpoint loader, as `eval`/`predict` (load_run) and
// `train --resume` (the optimizer state) use it. Three small valid
// checkpoints are made at start-up (GPT and T5 translators, a BERT
// classifier); an input
// picks one and is then a program of edits (fuzz/checkpoint_mutator.h).
// Expected: the edited checkpoint loads and predicts, or the refusal names
// the file; and a changed parameter or optimizer value is never accepted.
#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "cli/loaded_run.h"
#include "fuzz/bytes.h"
#include "fuzz/checkpoint_mutator.h"
#include "fuzz/fuzz_common.h"
#include "models/config.h"
#include "optim/optim.h"
#include "train/checkpoint.h"

namespace {

using namespace attnlab;

struct Base {
  std::string bytes;
  fuzz::CheckpointLayout layout;
};

Base make_base(Family family, data::TaskKind kind, const std::string& name) {
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
  const std::string path = fuzz::scratch_path(name);
  save_checkpoint(path, info, *model, &optimizer);
  std::ifstream in(path, std::ios::binary);
  Base base{std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()},
            fuzz::survey_checkpoint(path)};
  if (base.layout.datasets.empty()) fuzz::violated("the base checkpoint has datasets", path);
  return base;
}

const Base& base(int which) {
  static const Base bases[3] = {
      make_base(Family::GPT, data::TaskKind::Translation, "base_gpt.h5"),
      make_base(Family::T5, data::TaskKind::Translation, "base_t5.h5"),
      make_base(Family::BERT, data::TaskKind::Classification, "base_bert.h5")};
  return bases[which];
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // the mutator's failed edits are expected
  base(0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes program(data, size);
  const Base& b = base(program.byte() % 3);
  const std::string path = fuzz::scratch_path("checkpoint.h5");
  fuzz::write_file(path, b.bytes);
  const fuzz::EditReport edits = fuzz::edit_checkpoint(path, b.layout, program);
  try {
    LoadedRun run = load_run(path);
    OptimizerConfig oc;
    oc.kind = run.info.train.optimizer;
    oc.weight_decay = run.info.train.weight_decay;
    Optimizer optimizer(run.model->named_parameters(), oc);
    load_optimizer_state(path, optimizer);
    if (!edits.changed_tensors.empty())
      fuzz::violated("a checkpoint whose stored tensor changed is refused",
                     *edits.changed_tensors.begin());
    if (run.vocab->size() != run.model->config().vocab_size)
      fuzz::violated("a loaded checkpoint's vocabulary fits its model", path);
    run.workload->predict({"jan 31"});
  } catch (const std::exception& e) {
    fuzz::expect_names(e, path);
  }
  return 0;
}
