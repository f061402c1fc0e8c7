#include "data/subword.h"

#include "common/errors.h"
#include "data/tokenizer.h"
#include "data/utf8.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace attnlab::data {
namespace {

// SentencePiece skips training sentences longer than its limit; lines are
// cut below it, at a character boundary, so none is lost.
constexpr size_t kMaxSentenceBytes = 4096;
// The trainer holds its sentences several times over: past this much text a
// model learns little more, so longer texts are sampled evenly.
constexpr size_t kMaxTrainingBytes = size_t(32) << 20;
// Texts longer than this are encoded a part at a time (see encode).
constexpr size_t kEncodeChunkBytes = size_t(1) << 16;
// attnlab's special tokens, the line break and the tab take the first ids.
constexpr int64_t kFixedPieces = kNumSpecialTokens + 2;
constexpr std::string_view kSpacePiece = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// The training texts as SentencePiece reads them: their non-empty lines,
// each cut to at most kMaxSentenceBytes.
class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  bool done() const override { return next_ >= lines_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return lines_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

// Calls on_line(line) for every non-empty line of `text`, long lines in
// pieces of at most kMaxSentenceBytes that end at a character boundary.
template <typename Visitor>
void for_each_line(std::string_view text, Visitor on_line) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty()) {
      size_t cut = std::min(line.size(), kMaxSentenceBytes);
      // A continuation byte (10xxxxxx) is inside a character: step back.
      while (cut < line.size() && cut > 0 && (uint8_t(line[cut]) & 0xC0) == 0x80) --cut;
      on_line(line.substr(0, cut));
      line.remove_prefix(cut);
    }
    start = end + 1;
  }
}

void must(const sentencepiece::util::Status& status, const char* what) {
  if (!status.ok()) throw std::invalid_argument(fmt::format("{}: {}", what, status.ToString()));
}

}  // namespace

std::string piece_text(std::string_view piece) {
  std::string text;
  text.reserve(piece.size());
  for (size_t pos = 0; pos < piece.size();) {
    if (piece.substr(pos, kSpacePiece.size()) == kSpacePiece) {
      text += ' ';
      pos += kSpacePiece.size();
    } else {
      text += piece[pos++];
    }
  }
  return text;
}

SubwordModel SubwordModel::train(SubwordAlgorithm algorithm,
                                 std::span<const std::string_view> texts, int64_t vocab_size,
                                 std::string_view source) {
  const char* name = algorithm == SubwordAlgorithm::Bpe ? "bpe" : "unigram";
  size_t bytes = 0;
  for (std::string_view text : texts) bytes += text.size();
  // Every line of a text that fits, else every k-th: a fixed choice, so
  // every process of a data-parallel run trains the same model.
  const size_t every = std::max<size_t>(1, (bytes + kMaxTrainingBytes - 1) / kMaxTrainingBytes);
  std::vector<std::string> lines;
  std::set<std::string, std::less<>> characters;
  size_t index = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    validate_utf8(texts[i], fmt::format("{}: text {}", source, i + 1));
    for_each_line(texts[i], [&](std::string_view line) {
      if (index++ % every != 0) return;
      for (size_t pos = 0; pos < line.size();) {
        const size_t length = code_point_length(line, pos);
        if (line[pos] != ' ' && line[pos] != '\t') characters.emplace(line.substr(pos, length));
        pos += length;
      }
      lines.emplace_back(line);
    });
  }
  if (lines.empty())
    throw InputError(fmt::format("{}: no text to train a {} tokenizer on", source, name));
  // Every character needs a piece of its own (SentencePiece's space is one
  // too), so that no training text becomes <unk>.
  const int64_t least = kFixedPieces + int64_t(characters.size()) + 1;
  if (vocab_size < least)
    throw InputError(fmt::format(
        "--vocab-size {}: {} has {} distinct characters, and a {} tokenizer needs a piece for each "
        "besides its {} special ones: give at least {}",
        vocab_size, source, characters.size() + 1, name, kFixedPieces, least));

  const std::unordered_map<std::string, std::string> options = {
      {"model_type", name},
      {"vocab_size", std::to_string(vocab_size)},
      {"hard_vocab_limit", "false"},  // a small text gives fewer pieces, not an error
      {"pad_id", std::to_string(kPadId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"unk_id", std::to_string(kUnkId)},
      {"pad_piece", std::string(kSpecialTokens[kPadId])},
      {"bos_piece", std::string(kSpecialTokens[kBosId])},
      {"eos_piece", std::string(kSpecialTokens[kEosId])},
      {"unk_piece", std::string(kSpecialTokens[kUnkId])},
      {"control_symbols", fmt::format("{},{}", kSpecialTokens[kSepId], kSpecialTokens[kClsId])},
      // SentencePiece's trainer would make a tab <unk>, and lines hold no
      // line break: both are pieces of their own.
      {"user_defined_symbols", "\n,\t"},
      // The text as it is: no Unicode normalisation, spaces kept as they are.
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"character_coverage", "1.0"},
      {"max_sentence_length", std::to_string(kMaxSentenceBytes * 2)},
      {"num_threads", "1"},  // one thread: the same pieces on every run
      {"minloglevel", "2"},
  };
  LineIterator iterator(std::move(lines));
  std::string serialized;
  const auto status = sentencepiece::SentencePieceTrainer::Train(options, &iterator, &serialized);
  if (!status.ok())
    throw InputError(fmt::format("{}: training a {} tokenizer of {} pieces failed: {}", source,
                                 name, vocab_size, status.ToString()));
  return load(serialized);
}

SubwordModel SubwordModel::load(std::string_view serialized) {
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  must(processor->LoadFromSerializedProto(serialized), "not a SentencePiece model");
  if (processor->GetPieceSize() < kFixedPieces)
    throw std::invalid_argument(fmt::format("the SentencePiece model has {} pieces, fewer than {}",
                                            processor->GetPieceSize(), kFixedPieces));
  for (int32_t id = 0; id < kNumSpecialTokens; ++id)
    if (processor->IdToPiece(id) != kSpecialTokens[size_t(id)])
      throw std::invalid_argument(
          fmt::format("the SentencePiece model's piece {} is '{}' but attnlab's special token {} "
                      "is '{}'",
                      id, processor->IdToPiece(id), id, kSpecialTokens[size_t(id)]));
  SubwordModel model;
  model.processor_ = std::move(processor);
  model.serialized_ = std::string(serialized);
  return model;
}

std::vector<std::string> SubwordModel::pieces() const {
  std::vector<std::string> pieces;
  for (int id = 0; id < processor_->GetPieceSize(); ++id)
    pieces.push_back(processor_->IdToPiece(id));
  return pieces;
}

std::vector<int32_t> SubwordModel::encode(std::string_view text) const {
  // SentencePiece holds a few dozen bytes per character of what it encodes
  // at once: a long text goes in pieces that end with a line break. A piece
  // never spans one (it is a piece of its own), so the ids are the same.
  std::vector<int32_t> ids;
  std::vector<int> part;
  while (!text.empty()) {
    size_t end = text.size();
    if (end > kEncodeChunkBytes) {
      const size_t newline = text.find('\n', kEncodeChunkBytes);
      end = newline == std::string_view::npos ? text.size() : newline + 1;
    }
    must(processor_->Encode(text.substr(0, end), &part), "SentencePiece encoding");
    ids.insert(ids.end(), part.begin(), part.end());
    text.remove_prefix(end);
  }
  return ids;
}

std::vector<std::string> SubwordModel::encode_pieces(std::string_view text) const {
  std::vector<std::string> pieces;
  must(processor_->Encode(text, &pieces), "SentencePiece encoding");
  return pieces;
}

}  // namespace attnlab::data
