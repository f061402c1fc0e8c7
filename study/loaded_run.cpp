#include "study/loaded_run.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/errors.h"
#include "data/text_file.h"
#include "data/tsv.h"
#include "train/prepare_data.h"
#include "train/run_dir.h"

namespace attnlab {

namespace {

// The file --ckpt names, or the one its run directory holds.
std::string checkpoint_file(const std::string& ckpt) {
  namespace fs = std::filesystem;
  if (!fs::exists(ckpt)) throw InputError(fmt::format("--ckpt {}: no such file", ckpt));
  if (!fs::is_directory(ckpt)) return ckpt;
  for (const char* name : {run_files::kBest, run_files::kCheckpoint})
    if (fs::exists(run_files::in(ckpt, name))) return run_files::in(ckpt, name);
  throw InputError(fmt::format("--ckpt {}: the directory holds neither {} nor {}", ckpt,
                               run_files::kBest, run_files::kCheckpoint));
}

}  // namespace

std::string which_model(const std::string& file, const CheckpointInfo& info) {
  if (std::filesystem::path(file).filename() == run_files::kBest && info.state.best_step >= 0)
    return fmt::format("best model: held-out {} {:.4f} at step {}",
                       enum_name(kSelectMetricNames, info.train.select_metric),
                       info.state.best_metric, info.state.best_step);
  return fmt::format("checkpoint at step {}", info.state.step);
}

LoadedRun load_run(const std::string& ckpt_option) {
  const std::string ckpt = checkpoint_file(ckpt_option);
  LoadedRun run;
  run.file = ckpt;
  run.info = read_checkpoint_info(ckpt);
  // A run directory's best model must be of the run its checkpoint is.
  if (ckpt != ckpt_option && std::filesystem::path(ckpt).filename() == run_files::kBest) {
    const std::string last = run_files::in(ckpt_option, run_files::kCheckpoint);
    if (std::filesystem::exists(last))
      check_same_run(read_checkpoint_info(last), last, run.info, ckpt);
  }
  run.vocab = std::make_shared<data::Vocab>(stored_vocab(run.info));
  run.model = make_model(run.info.model);
  load_parameters(ckpt, *run.model);
  run.framing = make_framing({run.model, run.vocab, run.info.task_kind, run.info.labels});
  return run;
}

HeldOut held_out_of(const LoadedRun& run, const std::string& valid_file) {
  HeldOut h;
  if (!valid_file.empty() && run.info.task_kind == data::TaskKind::LanguageModel) {
    h.examples = {data::Example{data::read_text_file(valid_file), ""}};  // a plain text file
    h.source = valid_file;
  } else if (!valid_file.empty()) {
    data::TsvFile f = run.info.task_kind == data::TaskKind::Classification
                          ? data::read_classification_tsv(valid_file)
                          : data::read_translation_tsv(valid_file);
    if (run.info.task_kind == data::TaskKind::Classification)
      data::check_labels_known(f, run.info.labels);
    h.examples = f.examples;
    for (size_t line : f.lines) h.origins.push_back(fmt::format("{}:{}", valid_file, line));
    h.source = valid_file;
  } else {
    try {
      data::Dataset dataset = prepare_data(run.info.train).dataset;
      h.examples = std::move(dataset.valid);
      h.origins = std::move(dataset.valid_origin);
    } catch (const std::runtime_error& e) {
      if (run.info.train.train_file.empty()) throw;
      throw InputError(fmt::format(
          "{}: its held-out split comes from its training data, which cannot be read ({}); give "
          "held-out data with --valid-file FILE",
          run.file, e.what()));
    }
    h.source = run.info.train.task.empty()
                   ? "held-out split of " + run.info.train.train_file
                   : fmt::format("held-out split of task '{}'", run.info.train.task);
  }
  return h;
}

}  // namespace attnlab
