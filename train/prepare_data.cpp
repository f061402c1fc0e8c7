#include "train/prepare_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "common/errors.h"
#include "data/tasks.h"
#include "data/text_file.h"
#include "data/text_objectives.h"
#include "data/tsv.h"
#include "models/model.h"
#include "train/memory_limit.h"

namespace attnlab {

namespace {

// At its peak a language model's training holds about this many bytes per
// byte of text (measured: 8.2 for a 250 MB ASCII text with character tokens;
// multi-byte characters and word tokens make fewer tokens per byte): the
// token stream and each epoch's block order, 4 bytes a token each.
constexpr double kTrainingBytesPerTextByte = 9;

// Refuses, before a byte is read, a text whose training would not fit in the
// memory this process may use. A file that cannot be sized is left to the
// reader, which names the problem.
void check_text_memory(const TrainConfig& c) {
  double bytes = 0;
  for (const std::string& path : {c.train_file, c.valid_file}) {
    std::error_code ec;
    const auto size = path.empty() ? 0 : std::filesystem::file_size(path, ec);
    if (!ec) bytes += double(size);
  }
  const double need = kTrainingBytesPerTextByte * bytes;
  const MemoryLimit limit = process_memory_limit();
  if (need <= limit.bytes) return;
  throw InputError(fmt::format(
      "{}: training a language model on {} of text needs about {} of memory (about {:.0f} bytes "
      "per byte of text: its token stream and each epoch's block order), more than the {} this "
      "process may use ({}); train on a shorter text",
      c.train_file, memory_size(bytes), memory_size(need), kTrainingBytesPerTextByte,
      memory_size(limit.bytes), limit.source));
}

}  // namespace

PreparedData prepare_data(const TrainConfig& c, std::shared_ptr<data::Vocab> vocab) {
  PreparedData out;
  if (!c.task.empty())
    out.dataset = data::make_task(c.task, c.data_seed, size_t(c.train_size), size_t(c.valid_size));
  else if (c.task_kind == data::TaskKind::LanguageModel) {
    check_text_memory(c);
    out.dataset = data::load_text_dataset(c.train_file, c.valid_file);
  } else
    out.dataset = data::load_tsv_dataset(c.task_kind, c.train_file, c.valid_file);
  if (out.dataset.valid.empty()) {
    // No held-out file: hold out up to 10% of the training examples (at least 1).
    size_t n = std::max<size_t>(1, out.dataset.train.size() / 10);
    if (out.dataset.train.size() < 2)
      throw std::invalid_argument(fmt::format(
          "{}: needs at least 2 examples to hold one out for evaluation", c.train_file));
    out.dataset.valid.assign(out.dataset.train.end() - n, out.dataset.train.end());
    out.dataset.train.resize(out.dataset.train.size() - n);
    auto& origin = out.dataset.train_origin;
    if (!origin.empty()) {
      out.dataset.valid_origin.assign(origin.end() - n, origin.end());
      origin.resize(origin.size() - n);
    }
  }
  std::vector<std::string_view> texts;  // views: a text of 256 MiB is not copied to count it
  for (const auto& e : out.dataset.train) {
    texts.push_back(e.source);
    if (out.dataset.kind == data::TaskKind::Translation) texts.push_back(e.target);
  }
  // Classification labels are text too for the text-to-text families.
  for (const auto& label : out.dataset.labels) texts.push_back(label);
  // The data sets two sizes of the model: both are bounded before the model
  // is made, and the vocabulary while it is counted.
  const std::string source = c.task.empty() ? c.train_file : fmt::format("task '{}'", c.task);
  if (out.dataset.labels.size() > size_t(kMaxNumClasses))
    throw InputError(fmt::format("{}: {} distinct labels, more than the {} a classifier may have",
                                 source, out.dataset.labels.size(), kMaxNumClasses));
  if (vocab) {
    out.vocab = std::move(vocab);
    return out;
  }
  data::VocabOptions vocab_options;
  vocab_options.max_distinct = size_t(kMaxVocabSize) - data::kNumSpecialTokens;
  vocab_options.source = source;
  // A text objective's own tokens: BERT's <mask>, T5's sentinels.
  if (out.dataset.kind == data::TaskKind::LanguageModel) {
    if (text_objective(c.model) == TextObjective::MaskedLM)
      vocab_options.reserved = {std::string(data::kMaskToken)};
    if (text_objective(c.model) == TextObjective::SpanCorruption && c.block_size < 3)
      throw InputError(fmt::format(
          "--block-size {}: T5's span corruption drops a span from a row of block_size - 1 "
          "tokens and keeps some: give at least 3",
          c.block_size));
    if (text_objective(c.model) == TextObjective::SpanCorruption)
      for (int64_t i = 0; i < data::span_counts(c.block_size - 1).spans; ++i)
        vocab_options.reserved.push_back(data::sentinel_token(int(i)));
    vocab_options.max_distinct -= vocab_options.reserved.size();
  }
  const data::TokenizerKind kind = resolve_tokenizer(c.tokenizer, out.dataset, !c.task.empty());
  if (data::is_subword(kind)) vocab_options.max_size = size_t(c.vocab_size);
  out.vocab = std::make_shared<data::Vocab>(data::Vocab::build(kind, texts, vocab_options));
  return out;
}

data::TokenizerKind resolve_tokenizer(TokenizerChoice choice, const data::Dataset& dataset,
                                      bool built_in_task) {
  if (choice != TokenizerChoice::Auto)
    return enum_from_name(data::kTokenizerKindNames, enum_name(kTokenizerChoiceNames, choice),
                          "tokenizer");
  if (built_in_task || dataset.kind != data::TaskKind::Classification || dataset.train.empty())
    return data::TokenizerKind::Char;
  size_t words = 0;
  for (const data::Example& e : dataset.train)
    words += data::count_tokens(data::TokenizerKind::Word, e.source);
  return words >= 3 * dataset.train.size() ? data::TokenizerKind::Word : data::TokenizerKind::Char;
}

}  // namespace attnlab
