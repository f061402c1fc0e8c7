// Vocabularies for the tokenizers attnlab offers: character-level (the default; one token per
// Unicode code point), whitespace word-level, and subword (a SentencePiece BPE or unigram model
// trained on the training texts; see data/subword.h). A Vocab is fully described by its kind
// name, its token list and, for subwords, the serialised SentencePiece model: what a checkpoint
// stores to rebuild it.
#pragma once

#include "common/enum_names.h"
#include "data/subword.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attnlab::data {

// Special tokens sit at fixed ids in every vocabulary, so model code can refer to them as
// constants and padding is always id 0.
inline constexpr int32_t kPadId = 0;
inline constexpr int32_t kBosId = 1;
inline constexpr int32_t kEosId = 2;
inline constexpr int32_t kUnkId = 3;
inline constexpr int32_t kSepId = 4;
inline constexpr int32_t kClsId = 5;
inline constexpr int32_t kNumSpecialTokens = 6;
inline constexpr std::array<std::string_view, kNumSpecialTokens> kSpecialTokens = {
    "<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<cls>"};
// The special tokens that frame rows and are never text: decoding never
// chooses them (EOS ends an output; UNK stands for text the vocabulary lacks).
inline constexpr std::array<int32_t, 4> kNeverGenerated = {kPadId, kBosId, kSepId, kClsId};

// Tokens a training objective adds after the ordinary ones: BERT's <mask>,
// which hides a token to predict, and T5's sentinels <extra_id_0>,
// <extra_id_1>, ..., each standing for one dropped span. No text ever
// encodes to them; they come last in a vocabulary that has them.
inline constexpr std::string_view kMaskToken = "<mask>";
std::string sentinel_token(int index);  // "<extra_id_<index>>"
bool is_reserved_token(std::string_view token);

enum class TokenizerKind { Char, Word, Bpe, Unigram };
inline constexpr EnumName<TokenizerKind> kTokenizerKindNames[] = {
    {TokenizerKind::Char, "char"},
    {TokenizerKind::Word, "word"},
    {TokenizerKind::Bpe, "bpe"},
    {TokenizerKind::Unigram, "unigram"}};
inline bool is_subword(TokenizerKind kind) {
  return kind == TokenizerKind::Bpe || kind == TokenizerKind::Unigram;
}
inline std::string_view tokenizer_kind_name(TokenizerKind kind) {
  return enum_name(kTokenizerKindNames, kind);
}

struct VocabOptions {
  // Tokens seen fewer times than this in the training texts map to <unk>.
  std::size_t min_count = 1;
  // If non-zero, keep at most this many tokens in total (special tokens included), dropping the
  // rarest first. Subword tokenizers need it: the number of pieces their model learns.
  std::size_t max_size = 0;
  // If non-zero, texts with more distinct tokens than this are refused (InputError) as soon as
  // the count passes it: counting is what costs memory. `source` names the texts in the message.
  std::size_t max_distinct = 0;
  std::string source;
  // Reserved tokens (kMaskToken, sentinel_token(i)) appended after the ordinary ones.
  std::vector<std::string> reserved;
};

class Vocab {
 public:
  // Counts the tokens of `texts` and keeps the frequent ones after the special tokens, ordered
  // by count (most frequent first) and then by byte order, so the ids depend only on the texts.
  // Texts are validated; a UTF-8 error names the index of the offending text.
  static Vocab build(TokenizerKind kind, std::span<const std::string_view> texts,
                     const VocabOptions& options = {});
  static Vocab build(TokenizerKind kind, std::span<const std::string> texts,
                     const VocabOptions& options = {});

  // Rebuilds a vocabulary saved with kind_name(), tokens() and subword_model(). Throws
  // std::invalid_argument if the kind is unknown, the special tokens are not the first six
  // entries, a token repeats, or a token cannot come out of the tokenizer (char: not exactly one
  // code point; word: empty or containing whitespace; subword: not the model's piece of that id,
  // or no model given).
  static Vocab from_tokens(std::string_view kind_name, std::vector<std::string> tokens,
                           std::string_view subword_model = {});

  TokenizerKind kind() const { return kind_; }
  // The serialised SentencePiece model of a subword vocabulary; empty for char and word.
  std::string_view subword_model() const;
  std::string_view kind_name() const { return tokenizer_kind_name(kind_); }
  const std::vector<std::string>& tokens() const { return tokens_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  // Ordinary tokens are the ids [kNumSpecialTokens, ordinary_end()); reserved ones follow.
  int32_t ordinary_end() const { return ordinary_end_; }
  // The id of a reserved token; throws std::invalid_argument when the vocabulary lacks it
  // (a vocabulary built for another objective).
  int32_t reserved_id(std::string_view token) const;

  // Id of a token string, kUnkId if it is not in the vocabulary. In word vocabularies the
  // special-token strings ("<sep>", ...) written in text map to their special ids.
  int32_t id_of(std::string_view token) const;
  // Throws std::out_of_range naming the id and the vocabulary size.
  const std::string& token_of(int32_t id) const;

  // Splits `text` with this vocabulary's tokenizer; throws std::runtime_error on invalid UTF-8,
  // with `context` (e.g. "train.tsv:3") leading the message.
  std::vector<std::string> tokenize(std::string_view text, std::string_view context = {}) const;

  // Unknown tokens become kUnkId, and so do reserved ones: text never holds them.
  std::vector<int32_t> encode(std::string_view text, std::string_view context = {}) const;
  // How many tokens encode() makes of `text`; throws like tokenize. For char and word
  // vocabularies it costs no memory (see data::count_tokens).
  std::size_t count_tokens(std::string_view text, std::string_view context = {}) const;
  // The characters of text a token stands for: 1 for a character (and for <unk>, which stands
  // for one), a subword piece's length, 0 for special and reserved tokens. Bits per character
  // divide a loss by these.
  int32_t chars_of(int32_t id) const;

  // Char and subword vocabularies concatenate the tokens (a piece's U+2581 is a space), word
  // vocabularies join them with single spaces.
  // The structural special tokens (<pad> <bos> <eos> <sep> <cls>) are skipped unless
  // keep_special_tokens is set (useful for debugging generations); <unk> is always written out
  // because it stands for real text the vocabulary could not represent, and hiding it would make
  // a model's output look better than it is. Throws std::out_of_range for an id outside the
  // vocabulary.
  std::string decode(std::span<const int32_t> ids, bool keep_special_tokens = false) const;

 private:
  Vocab(TokenizerKind kind, std::vector<std::string> tokens,
        std::shared_ptr<const SubwordModel> subword = nullptr);

  TokenizerKind kind_;
  std::shared_ptr<const SubwordModel> subword_;  // subword kinds only
  std::vector<int32_t> chars_;                   // chars_of() by id
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t ordinary_end_ = 0;
};

// Splits on runs of ASCII whitespace (space, tab, CR, LF, VT, FF); empty pieces are dropped.
std::vector<std::string> split_whitespace(std::string_view text);

// How many tokens `kind`'s tokenizer (char or word; a subword one needs its Vocab) makes of
// `text`, without building them: the length checks come before any memory is spent on an
// over-long input. Throws like Vocab::tokenize on invalid UTF-8.
std::size_t count_tokens(TokenizerKind kind, std::string_view text, std::string_view context = {});

}  // namespace attnlab::data
