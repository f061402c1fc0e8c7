// Workload: what a model computes on a task kind. It is the one place that
// knows how each (architecture, task) pair is framed, and it reaches the
// model only through the Model interface (models/model.h):
//
//   family      translation                     classification
//   BERT        -                               [CLS] text -> pooler -> label
//   Perceiver   -                               latents read text -> label
//   GPT         BOS src SEP tgt EOS, loss on    BOS text SEP label EOS (the label
//               tgt only (prefix LM: the        is text; prediction ranks the
//               condition is read by causal     labels by likelihood)
//               self-attention, no cross-attn)
//   T5          encoder src, decoder tgt        text-to-text: the label is the
//               (teacher forcing)               target; ranked like GPT
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/collate.h"
#include "data/encoding.h"
#include "data/tokenizer.h"
#include "decode/search.h"
#include "models/model.h"
#include "train/metrics.h"

namespace attnlab {

struct Prediction {
  std::string text;          // translation: the generated target; classification: the label
  double probability = 0.0;  // classification: P(label | text); translation: P(greedy sequence)
  // Translation: the generated ids (EOS not included) and the natural-log
  // probability of each choice the greedy search made: one per token, plus
  // one for EOS when it chose EOS (not when it ran out of max_len).
  std::vector<int32_t> tokens;
  std::vector<double> token_log_probs;
  // Classification: P(label | text) for every label, in label-id order.
  std::vector<double> label_probabilities;
};

// One example run through the model with everything it attends to (attnlab
// trace). Token axes are named: "input" (what the encoder or classifier
// reads), "decoder" (T5's decoder input), "sequence" (GPT's whole sequence),
// "latents" (the Perceiver's latent slots).
struct TraceMap {
  std::string name;  // "encoder/layers/0/self_attn", "decoder/layers/1/cross_attn", ...
  std::string kind;  // "bidirectional self", "causal self", "cross", "latent cross"
  std::string query_axis, key_axis;
  Tensor weights;  // (H, Tq, Tk)
};
struct TraceState {
  std::string name;  // "encoder/layers/0", ...: the block's output
  std::string axis;
  Tensor hidden;  // (T, C)
};
struct Trace {
  std::string input, output;  // the text and the prediction
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // name, tokens
  std::vector<TraceMap> maps;
  std::vector<TraceState> states;
};

// How greedy decoding runs: with the model's KV cache (the default), or by
// recomputing the whole sequence at every step (the reference the cached
// path is tested and benchmarked against).
enum class DecodeMode { Cached, Recompute };

class Workload {
 public:
  // Throws std::invalid_argument for pairs that make no sense (an encoder-only
  // model cannot translate).
  Workload(std::shared_ptr<Model> model, std::shared_ptr<const data::Vocab> vocab,
           data::TaskKind kind, std::vector<std::string> labels);

  data::Layout layout() const { return layout_; }
  // Language models: tokens per row (the model's max_len).
  int64_t block_size() const { return model_->config().max_len; }
  data::TaskKind kind() const { return kind_; }
  const Model& model() const { return *model_; }
  Model& model() { return *model_; }
  const std::vector<std::string>& labels() const { return labels_; }

  // Encodes a split the way this workload trains on it (classification for
  // GPT/T5 becomes text-to-text with the label as target).
  std::vector<data::EncodedExample> encode(const std::vector<data::Example>& examples) const;

  struct LossOptions {
    double label_smoothing = 0.0;
    // BERT: adds mlm_weight times the masked-LM loss of a copy of the batch whose tokens are
    // hidden as data::mask_tokens does, drawn from mask_seed (so a resumed run masks alike).
    // <unk> stands in for BERT's [MASK]: built-in tasks never produce it.
    double mlm_weight = 0.0;
    uint64_t mask_seed = 0;
  };
  // Mean training loss over examples[indices]; records the graph. With
  // `whole_batch` (indices is a part of it, as on one data-parallel rank): the
  // part's share of the whole batch's mean, weighted by its share of the
  // target positions (and of the masked tokens), so that the parts of a batch
  // add up to the whole batch's loss.
  Tensor loss(std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
              const LossOptions& options, std::span<const size_t> whole_batch = {}) const;

  // Held-out metrics on the first `max_examples` (0 = all) examples, in eval mode.
  EvalMetrics evaluate(std::span<const data::EncodedExample> encoded, size_t batch_size,
                       size_t max_examples = 0) const;

  // The same in parts: how many rows an evaluation covers (examples, or a
  // language model's blocks), the sums over rows [first, last) of them, and
  // the metrics from the sums of all parts. Data-parallel ranks each tally a
  // part and add the tallies up.
  struct EvalTally {
    double loss_sum = 0, loss_count = 0;    // loss per target token, or per example or block
    double correct_tokens = 0, exact = 0;   // translation
    std::vector<int64_t> truth, predicted;  // classification: label ids in row order
  };
  size_t eval_rows(std::span<const data::EncodedExample> encoded, size_t max_examples) const;
  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const;
  EvalMetrics metrics(const EvalTally& tally, size_t rows) const;

  // Predicts `text`, then runs the model once more on the input and the
  // prediction with attention capture on every stack.
  Trace trace(const std::string& text) const;

  void set_decode_mode(DecodeMode mode) { decode_mode_ = mode; }
  // How predict and evaluate choose output tokens (decode/search.h): greedy
  // by default; beam search or sampling when set. max_new and eos_id are the
  // workload's own. The Recompute mode is greedy only.
  void set_search(const GenerateOptions& options) { search_ = options; }

  // Translate (greedy decoding) or classify raw texts. A translation stops
  // at EOS or after `max_new` tokens (EOS included; 0: kDefaultMaxNew), and
  // never beyond the model's max_len.
  std::vector<Prediction> predict(const std::vector<std::string>& texts, size_t batch_size = 64,
                                  size_t max_new = 0) const;
  // predict's default output length: a model with a long max_len that never
  // learned to stop would otherwise decode for minutes.
  static constexpr size_t kDefaultMaxNew = 256;

  // How many target positions the loss of these rows averages over (a
  // label, each next token of a block, or each target token and EOS). Data-
  // parallel ranks weight their rows' mean loss by their share of the batch's count.
  int64_t target_count(std::span<const data::EncodedExample> examples,
                       std::span<const size_t> indices) const;

  // Throws std::invalid_argument naming the first example (1-based, of the
  // `split`) whose rows do not fit the model's max_len.
  // With `origins` (one "file:line" per example), the message names the line instead.
  // Counts tokens without encoding, so call it before encode(): an over-long
  // input is refused before memory is spent on it.
  void check_lengths(std::span<const data::Example> examples, const char* split,
                     std::span<const std::string> origins = {}) const;

  // Longest sequence a row of this workload may have (the model's max_len).
  data::LengthLimit length_limit() const;

 private:
  // Logits of a prefix-LM or seq2seq batch with its targets (B rows, `cols`
  // target positions each; kIgnoreIndex where nothing is predicted).
  struct TeacherForced {
    Tensor logits;  // (B, cols, V)
    std::vector<int32_t> targets;
    int64_t cols = 0;
  };
  TeacherForced teacher_forced(std::span<const data::EncodedExample> examples,
                               std::span<const size_t> indices) const;
  // Logits for a collated batch (no graph if grad mode is off).
  Tensor logits_prefix_lm(const data::PrefixLmBatch& b) const;         // (B,T,V)
  Tensor logits_seq2seq(const data::Seq2SeqBatch& b) const;            // (B,Tt,V)
  Tensor logits_classifier(const data::ClassificationBatch& b) const;  // (B,K)
  // The decoder's starting rows for greedy decoding: BOS src SEP (prefix
  // LM), or BOS with the encoded source as memory (encoder-decoder).
  struct DecoderStart {
    std::vector<std::vector<int32_t>> prompts;
    Tensor memory;     // (B,Ts,C), encoder-decoder only
    Mask memory_mask;  // (B,Ts)
  };
  DecoderStart start_decoding(std::span<const data::EncodedExample> examples,
                              std::span<const size_t> indices) const;
  // Mean cross-entropy of the tokens mask_tokens hides in `input` (a [CLS] text batch).
  // The masked-LM loss of a batch collated from examples[indices]; each row is
  // masked from (mask_seed, its example's index). Also the number of masked tokens.
  Tensor masked_lm_loss(const data::Batch& input, std::span<const size_t> indices,
                        uint64_t mask_seed, int64_t* masked = nullptr) const;
  // How many tokens masked_lm_loss masks in the rows of `indices`.
  int64_t masked_count(std::span<const data::EncodedExample> examples,
                       std::span<const size_t> indices, uint64_t mask_seed) const;
  // Output tokens for a batch of encoded sources with the workload's search
  // (greedy unless set_search chose beams or sampling); token ids without EOS
  // and, if asked, each choice's log-probability (see Prediction).
  std::vector<std::vector<int32_t>> decode_outputs(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
      size_t max_new, std::vector<std::vector<double>>* token_log_probs) const;
  std::vector<std::vector<int32_t>> greedy_decode_recompute(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
      size_t max_new, std::vector<std::vector<double>>* token_log_probs) const;
  // Language models: the mean next-token cross-entropy of the blocks of
  // block_size tokens that start at `offsets` in the stream stream[0].
  Tensor cross_entropy_of_blocks(std::span<const data::EncodedExample> stream,
                                 std::span<const size_t> offsets, double label_smoothing) const;
  // log P(label_k tokens + EOS | source) for each row and label: (rows, K).
  std::vector<std::vector<double>> label_log_likelihoods(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices) const;

  DecodeMode decode_mode_ = DecodeMode::Cached;
  GenerateOptions search_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<const data::Vocab> vocab_;
  data::TaskKind kind_;
  std::vector<std::string> labels_;
  data::Layout layout_;
  std::vector<std::vector<int32_t>> label_tokens_;       // text-to-text classification
  std::map<std::vector<int32_t>, int> label_of_tokens_;  // ... and back to the label's index
  size_t longest_label_ = 0;                             // in tokens

  // Text-to-text classification with more labels than this decodes greedily and
  // reads the label off the output, instead of scoring every label (one
  // forward pass each): 10,000 labels made every evaluation take minutes.
  static constexpr size_t kMaxScoredLabels = 64;
  bool scores_labels() const { return label_tokens_.size() <= kMaxScoredLabels; }
  // Refuses (std::invalid_argument, naming input i+1) an input longer than
  // the model's max_len with the tokens it is framed by.
  void check_prediction_inputs(std::span<const data::EncodedExample> inputs) const;
  // The label each row decodes to (-1: the output is no label), and when
  // asked, each row's greedy log-probabilities and output tokens.
  std::vector<int> decode_labels(std::span<const data::EncodedExample> examples,
                                 std::span<const size_t> indices,
                                 std::vector<std::vector<double>>* token_log_probs,
                                 std::vector<std::vector<int32_t>>* outputs) const;
};

}  // namespace attnlab
