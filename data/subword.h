// Subword tokenizers (--tokenizer bpe|unigram): a SentencePiece model trained
// on the training texts, as T5 trains its own. attnlab's special tokens take
// the model's first ids, so the ids it gives are the vocabulary's ids, and a
// loader that reads the stored model with SentencePiece itself gets exactly
// the ids attnlab trained on. A line break and a tab are pieces of their own:
// a language model learns where lines end. No normalisation is applied, so
// decoding gives back the text exactly (characters the model never saw
// become <unk>, and U+2581, which SentencePiece writes for a space, comes
// back as a space).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace attnlab::data {

enum class SubwordAlgorithm { Bpe, Unigram };

class SubwordModel {
 public:
  // Trains a model of at most `vocab_size` pieces (the special tokens, line
  // break and tab included) on `texts`, deterministically. A text too small for
  // that many pieces gives fewer. Throws InputError naming `source` when the
  // texts cannot make a model of that size.
  static SubwordModel train(SubwordAlgorithm algorithm, std::span<const std::string_view> texts,
                            int64_t vocab_size, std::string_view source);
  // Loads a serialised model (as serialized() gives it); throws
  // std::invalid_argument when the bytes are no SentencePiece model or its
  // first pieces are not attnlab's special tokens.
  static SubwordModel load(std::string_view serialized);

  // The model as SentencePiece's own ModelProto bytes.
  const std::string& serialized() const { return serialized_; }
  std::vector<std::string> pieces() const;
  // The ids of `text` (valid UTF-8, checked by the caller).
  std::vector<int32_t> encode(std::string_view text) const;
  std::vector<std::string> encode_pieces(std::string_view text) const;

 private:
  SubwordModel() = default;
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor_;
  std::string serialized_;
};

// The text a piece stands for: SentencePiece writes a space as U+2581 ('▁').
std::string piece_text(std::string_view piece);

}  // namespace attnlab::data
