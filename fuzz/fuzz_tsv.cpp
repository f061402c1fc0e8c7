// Fuzz target: user data files, read the way `attnlab train --train-file`
// reads them (TSV for translation and classification, plain text for
// language models), with either tokenizer. Input: one byte of settings, then
// the file's bytes. Expected: the data loads and makes a vocabulary, or the
// refusal names the file.
#include <cstdint>
#include <stdexcept>

#include "fuzz/bytes.h"
#include "fuzz/fuzz_common.h"
#include "train/trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attnlab;
  fuzz::Bytes in(data, size);
  const uint8_t settings = in.byte();
  TrainConfig config;
  config.task_kind = settings % 3 == 0   ? data::TaskKind::Translation
                     : settings % 3 == 1 ? data::TaskKind::Classification
                                         : data::TaskKind::LanguageModel;
  config.tokenizer = (settings / 3) % 3 == 0   ? TokenizerChoice::Auto
                     : (settings / 3) % 3 == 1 ? TokenizerChoice::Char
                                               : TokenizerChoice::Word;
  config.train_file = fuzz::scratch_path("train.tsv");
  fuzz::write_file(config.train_file, in.rest());
  if (settings & 0x80) config.valid_file = config.train_file;  // the same file held out
  try {
    const PreparedData prepared = prepare_data(config);
    // What loads must be usable: every text encodes with the vocabulary.
    for (const auto& example : prepared.dataset.train) {
      prepared.vocab->encode(example.source);
      if (config.task_kind == data::TaskKind::Translation) prepared.vocab->encode(example.target);
    }
  } catch (const std::exception& e) {
    fuzz::expect_names(e, config.train_file);
  }
  return 0;
}
