// A framing is one way a model is trained and asked on a task: how an
// example becomes the model's rows and loss targets, which lengths fit, what
// decoding starts from, what the held-out metrics are and which token axes a
// trace shows. It reaches the model only through the Model interface
// (models/model.h) and never asks which family it holds.
//
//   framing                       model          rows of one example (source s, target t)
//   encoder classification        classifier     [CLS] s -> label
//   decoder-only seq2seq          decoder-only   BOS s SEP t EOS, loss on t EOS; read causally
//   encoder-decoder seq2seq       enc-dec        encoder s EOS | decoder BOS t -> t EOS
//   text-to-text classification   either of the  the label's tokens are the target; the
//                                 two above      labels are ranked by likelihood
//   causal language model         decoder-only   blocks of one token stream, each position
//                                                predicts the next
//   masked language model         classifier     BERT's masked tokens of a text (text_stream.h)
//   span corruption               enc-dec        T5's dropped spans of a text (text_stream.h)
//
// make_framing picks the framing of a (task kind, model) pair from the list
// in framing/registry.cpp. Adding one: a file that implements Framing and one
// line there (docs/extending.md).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/collate.h"
#include "data/encoding.h"
#include "data/tokenizer.h"
#include "decode/search.h"
#include "framing/metrics.h"
#include "models/model.h"

namespace attnlab {

struct Prediction {
  std::string text;          // translation: the generated target; classification: the label
  double probability = 0.0;  // classification: P(label | text); translation: P(greedy sequence)
  // Generated outputs: the ids (EOS not included) and the natural-log
  // probability of each choice the search made: one per token, plus one for
  // EOS when it chose EOS (not when it ran out of max_len).
  std::vector<int32_t> tokens;
  std::vector<double> token_log_probs;
  // Classification: P(label | text) for every label, in label-id order.
  std::vector<double> label_probabilities;
};

// How greedy decoding runs: with the model's KV cache (the default), or by
// recomputing the whole sequence at every step (the reference the cached
// path is tested and benchmarked against).
enum class DecodeMode { Cached, Recompute };

struct LossOptions {
  double label_smoothing = 0.0;
  // Encoder classification: adds mlm_weight times the masked-LM loss of a
  // copy of the batch whose tokens are hidden as data::mask_tokens does,
  // drawn from mask_seed (so a resumed run masks alike). <unk> stands in for
  // BERT's [MASK]: built-in tasks never produce it.
  double mlm_weight = 0.0;
  uint64_t mask_seed = 0;
};

// Sums over held-out rows, which data-parallel ranks add up.
struct EvalTally {
  double loss_sum = 0, loss_count = 0;    // loss per target token, or per example or block
  double correct_tokens = 0, exact = 0;   // sequence-to-sequence
  std::vector<int64_t> truth, predicted;  // classification: label ids in row order
  // Text objectives whose predicted tokens are not the text's characters one
  // for one (T5's spans come with sentinels): the characters predicted.
  double predicted_chars = 0;
};

// A batch as the model reads it, with what its loss is computed on.
struct FramedBatch {
  data::Batch input;    // (B,T): what the classifier or the decoder reads
  data::Batch encoder;  // (B,Ts): an encoder-decoder's encoder input; empty otherwise
  // (B,T) next-token targets, kIgnoreIndex where nothing is predicted; or
  // (B) label ids for a classifier.
  std::vector<int32_t> targets;
  // Decoder-only rows: the tokens before the first predicted one (BOS s SEP).
  std::vector<int32_t> prefix_lengths;
};

// What a framing frames: a model, its vocabulary, the task kind and labels.
struct FramingContext {
  std::shared_ptr<Model> model;
  std::shared_ptr<const data::Vocab> vocab;
  data::TaskKind kind = data::TaskKind::Translation;
  std::vector<std::string> labels;
};

class Framing {
 public:
  explicit Framing(FramingContext context) : context_(std::move(context)) {}
  virtual ~Framing() = default;
  Framing(const Framing&) = delete;
  Framing& operator=(const Framing&) = delete;

  // "encoder classification", "decoder-only seq2seq", ...
  virtual std::string_view name() const = 0;
  const Model& model() const { return *context_.model; }
  const std::vector<std::string>& labels() const { return context_.labels; }

  // ---- Rows ----
  // Encodes a split as this framing trains on it.
  virtual std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const = 0;
  // Throws std::invalid_argument naming the first example (1-based, of the
  // `split`; with `origins`, one "file:line" per example, its line) whose
  // rows do not fit the model's max_len. Counts tokens without encoding, so
  // call it before encode(): an over-long input costs no memory.
  virtual void check_lengths(std::span<const data::Example> examples, const char* split,
                             std::span<const std::string> origins = {}) const;
  // The rows of examples[indices] and their targets (a language model:
  // `indices` are the offsets of blocks in the one stream), within `limit`
  // (the model's max_len when not given).
  FramedBatch collate(std::span<const data::EncodedExample> examples,
                      std::span<const size_t> indices, const data::LengthLimit& limit) const {
    return frame_rows(examples, indices, limit);
  }
  FramedBatch collate(std::span<const data::EncodedExample> examples,
                      std::span<const size_t> indices) const {
    return frame_rows(examples, indices, length_limit());
  }
  // Each example's row length, to bucket batches by (an encoder-decoder
  // counts both rows, since both are padded).
  virtual std::vector<size_t> row_lengths(std::span<const data::EncodedExample> examples,
                                          const data::LengthLimit& limit) const = 0;
  // True when the training data is one token stream cut into blocks of
  // block_size() (rows are offsets), not a list of examples.
  virtual bool streams_blocks() const { return false; }
  int64_t block_size() const { return model().config().max_len; }
  // How many target positions the loss of these rows averages over.
  virtual int64_t target_count(std::span<const data::EncodedExample> examples,
                               std::span<const size_t> indices) const = 0;
  // The tokens of these rows' examples (source and target), for throughput.
  virtual int64_t tokens_read(std::span<const data::EncodedExample> examples,
                              std::span<const size_t> indices) const;
  // The positions of the row the model's first stack reads for an example
  // (compare's cost per held-out row).
  virtual size_t input_positions(const data::EncodedExample& example) const = 0;
  // Longest row allowed (the model's max_len).
  data::LengthLimit length_limit() const;

  // ---- Training ----
  // Mean training loss over examples[indices]; records the graph. With
  // `whole_batch` (indices is a part of it, as on one data-parallel rank):
  // the part's share of the whole batch's mean, weighted by its share of the
  // target positions, so that the parts of a batch add up to its loss.
  virtual Tensor loss(std::span<const data::EncodedExample> examples,
                      std::span<const size_t> indices, const LossOptions& options,
                      std::span<const size_t> whole_batch = {}) const = 0;

  // ---- Held-out metrics ----
  // How many rows an evaluation of the first `max_examples` (0 = all) covers.
  virtual size_t eval_rows(std::span<const data::EncodedExample> encoded,
                           size_t max_examples) const;
  // The sums over rows [first, last), in eval mode.
  virtual EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size,
                          size_t first, size_t last) const = 0;
  virtual EvalMetrics metrics(const EvalTally& tally, size_t rows) const = 0;

  // ---- Asking ----
  // Translates (with the search set_search chose, greedy by default) or
  // classifies raw texts, `batch_size` at a time. A translation stops at EOS
  // or after `max_new` tokens (EOS included; 0: kDefaultMaxNew), and never
  // beyond the model's max_len. Throws std::invalid_argument, naming the
  // input, for one that does not fit max_len, before any is predicted.
  std::vector<Prediction> predict(const std::vector<std::string>& texts, size_t batch_size = 64,
                                  size_t max_new = 0) const;
  // predict's default output length: a model with a long max_len that never
  // learned to stop would otherwise decode for minutes.
  static constexpr size_t kDefaultMaxNew = 256;
  // Held-out metrics on the first `max_examples` (0 = all) rows, in eval mode.
  EvalMetrics evaluate(std::span<const data::EncodedExample> encoded, size_t batch_size,
                       size_t max_examples = 0) const {
    const size_t rows = eval_rows(encoded, max_examples);
    return metrics(tally(encoded, batch_size, 0, rows), rows);
  }
  // Predicts `text`, then runs the model once more on the input and the
  // prediction with attention capture on every stack.
  virtual Trace trace(const std::string& text) const = 0;
  // The reference pair of a held-out example through the model with
  // attention capture, teacher-forced: the decoder reads the expected output
  // (a translation's target, a text-to-text label's tokens), not the model's
  // own, so a weak model's pictures show the same rows as a strong one's.
  // trace.output is the reference. A classifier or language model reads the
  // source alone: trace() of it, with the reference as the output.
  virtual Trace trace_reference(const data::Example& example) const {
    Trace t = trace(example.source);
    if (!example.target.empty()) t.output = example.target;
    return t;
  }

  // Activation patching (attnlab patch): `text` with the output tokens
  // `forced` teacher-forced after it, run once in eval mode: the trace of that
  // forward (its token axes, maps and block outputs) and the
  // log-probabilities of what the model writes next, over the vocabulary (a
  // translation or a text) or over the labels (a classifier; `forced` must
  // be empty). Throws std::invalid_argument when the rows do not fit the
  // model's max_len, or when this framing has no next output to score.
  struct ForcedRun {
    Trace trace;
    std::vector<double> next;  // (V) or (K) log-probabilities
    bool over_labels = false;
  };
  virtual ForcedRun run_forced(const std::string& text, const std::vector<int32_t>& forced) const;

  // A short sample of what the model makes of the held-out data, one line,
  // for progress output ("" when the framing shows none): a text model's
  // continuation or filled-in blanks. `seed` varies it between calls.
  virtual std::string sample(std::span<const data::EncodedExample> held_out, uint64_t seed) const {
    (void)held_out, (void)seed;
    return "";
  }

  virtual void set_decode_mode(DecodeMode mode) { decode_mode_ = mode; }
  virtual void set_search(const GenerateOptions& options) { search_ = options; }

  // Positions one example's rows need (its texts' tokens counted by
  // `count`), for check_lengths.
  virtual size_t positions_needed(const data::Example& example,
                                  const std::function<size_t(std::string_view)>& count) const = 0;
  // What a prediction input of `source` tokens needs: positions, and the
  // tokens that frame it (for the message).
  struct InputNeed {
    size_t positions = 0;
    const char* with = "";
  };
  virtual InputNeed input_need(size_t source) const = 0;

 protected:
  virtual FramedBatch frame_rows(std::span<const data::EncodedExample> examples,
                                 std::span<const size_t> indices,
                                 const data::LengthLimit& limit) const = 0;
  // Throws std::invalid_argument, saying what to use instead, when this
  // framing makes no predictions; predict calls it before anything else.
  virtual void require_predictions() const {}
  // The predictions for encoded[rows], in eval mode; `max_new` as predict's.
  virtual std::vector<Prediction> predict_batch(std::span<const data::EncodedExample> encoded,
                                                std::span<const size_t> rows,
                                                size_t max_new) const = 0;
  Model& mutable_model() const { return *context_.model; }
  const data::Vocab& vocab() const { return *context_.vocab; }
  size_t max_len() const { return size_t(model().config().max_len); }
  // Raw texts as prediction inputs; throws for an input that, with what
  // input_need adds, does not fit max_len.
  std::vector<data::EncodedExample> encode_inputs(const std::vector<std::string>& texts) const;
  FramingContext context_;
  DecodeMode decode_mode_ = DecodeMode::Cached;
  GenerateOptions search_;
};

// The framing of a (task kind, model) pair; std::invalid_argument when no
// framing takes it (an encoder-only model cannot translate, ...).
std::unique_ptr<Framing> make_framing(FramingContext context);

// The factory of a framing that frames one task kind on one architecture:
// a framing file's frame_<name> is often just this.
template <typename F>
std::unique_ptr<Framing> frame_when(const FramingContext& c, data::TaskKind kind,
                                    Architecture architecture) {
  if (c.kind != kind || c.model->architecture() != architecture) return nullptr;
  return std::make_unique<F>(c);
}

}  // namespace attnlab
