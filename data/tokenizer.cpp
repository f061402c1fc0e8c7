#include "data/tokenizer.h"

#include "common/errors.h"
#include "data/utf8.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

namespace attnlab::data {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_special_token(std::string_view token) {
  return std::find(kSpecialTokens.begin(), kSpecialTokens.end(), token) != kSpecialTokens.end();
}

// Calls on_word(word) for every run of non-whitespace bytes.
template <typename Visitor>
void for_each_word(std::string_view text, Visitor on_word) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_ascii_space(text[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && !is_ascii_space(text[pos])) ++pos;
    if (pos > start) on_word(text.substr(start, pos - start));
  }
}

// Calls on_token(token) for every token of `text` in order, as views into it:
// the tokens of a long text as strings would take 32 bytes each, far more
// than the text (a 256 MiB file would need 8 GB).
template <typename Visitor>
void for_each_token(TokenizerKind kind, std::string_view text, std::string_view context,
                    Visitor on_token) {
  if (is_subword(kind))
    throw std::logic_error("a subword tokenizer splits text with its model (Vocab::tokenize)");
  if (kind == TokenizerKind::Char) {
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t length = code_point_length(text, pos, context);
      on_token(text.substr(pos, length));
      pos += length;
    }
    return;
  }
  validate_utf8(text, context);
  for_each_word(text, on_token);
}

}  // namespace

std::vector<std::string> split_whitespace(std::string_view text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::string_view word) { words.emplace_back(word); });
  return words;
}

std::size_t count_tokens(TokenizerKind kind, std::string_view text, std::string_view context) {
  std::size_t count = 0;
  for_each_token(kind, text, context, [&](std::string_view) { ++count; });
  return count;
}

Vocab::Vocab(TokenizerKind kind, std::vector<std::string> tokens,
             std::shared_ptr<const SubwordModel> subword)
    : kind_(kind), subword_(std::move(subword)), tokens_(std::move(tokens)) {
  ids_.reserve(tokens_.size());
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    ids_.emplace(tokens_[i], static_cast<int32_t>(i));
  }
  ordinary_end_ = size();
  while (ordinary_end_ > kNumSpecialTokens && is_reserved_token(tokens_[ordinary_end_ - 1]))
    --ordinary_end_;
  chars_.assign(tokens_.size(), 0);
  chars_[kUnkId] = 1;
  for (int32_t id = kNumSpecialTokens; id < ordinary_end_; ++id)
    chars_[size_t(id)] =
        kind_ == TokenizerKind::Char ? 1
        : kind_ == TokenizerKind::Word
            ? int32_t(count_code_points(tokens_[size_t(id)])) + 1  // and the space after it
            : int32_t(count_code_points(piece_text(tokens_[size_t(id)])));
}

std::string_view Vocab::subword_model() const {
  return subword_ ? std::string_view(subword_->serialized()) : std::string_view();
}

int32_t Vocab::chars_of(int32_t id) const {
  token_of(id);  // names an id outside the vocabulary
  return chars_[size_t(id)];
}

Vocab Vocab::build(TokenizerKind kind, std::span<const std::string> texts,
                   const VocabOptions& options) {
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  return build(kind, std::span<const std::string_view>(views), options);
}

Vocab Vocab::build(TokenizerKind kind, std::span<const std::string_view> texts,
                   const VocabOptions& options) {
  if (options.max_size != 0 && options.max_size < kNumSpecialTokens) {
    throw std::invalid_argument(
        fmt::format("vocabulary max_size {} is smaller than the {} special tokens",
                    options.max_size, kNumSpecialTokens));
  }
  for (const std::string& token : options.reserved)
    if (!is_reserved_token(token))
      throw std::invalid_argument(fmt::format("'{}' is not a reserved token", token));
  if (is_subword(kind)) {
    if (options.max_size == 0)
      throw std::invalid_argument("a subword vocabulary needs its size (max_size)");
    auto model = std::make_shared<const SubwordModel>(SubwordModel::train(
        kind == TokenizerKind::Bpe ? SubwordAlgorithm::Bpe : SubwordAlgorithm::Unigram, texts,
        int64_t(options.max_size), options.source.empty() ? "the texts" : options.source));
    std::vector<std::string> tokens = model->pieces();
    tokens.insert(tokens.end(), options.reserved.begin(), options.reserved.end());
    return Vocab(kind, std::move(tokens), std::move(model));
  }
  // std::map keeps the counting independent of hash order; the final order is set below anyway.
  // std::less<> finds a token by its view, so only a new token is copied.
  std::map<std::string, std::size_t, std::less<>> counts;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for_each_token(kind, texts[i], fmt::format("text {}", i + 1), [&](std::string_view token) {
      const auto it = counts.find(token);
      if (it != counts.end()) {
        ++it->second;
        return;
      }
      // Special-token strings typed in word-level text already have ids; counting them would
      // create duplicates. Reserved ones never come from text.
      if (is_special_token(token) || is_reserved_token(token)) return;
      if (options.max_distinct != 0 && counts.size() == options.max_distinct)
        throw InputError(fmt::format(
            "{}: more than {} distinct {} tokens; a vocabulary holds at most {}, with its {} "
            "special tokens{}",
            options.source, options.max_distinct, tokenizer_kind_name(kind),
            options.max_distinct + kNumSpecialTokens, kNumSpecialTokens,
            kind == TokenizerKind::Word ? " (the char tokenizer, --tokenizer char, makes far fewer)"
                                        : ""));
      counts.emplace(token, 1);
    });
  }

  std::vector<std::pair<std::string, std::size_t>> kept;
  for (auto& [token, count] : counts) {
    if (count >= options.min_count) kept.emplace_back(token, count);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (options.max_size != 0 && kept.size() + kNumSpecialTokens > options.max_size) {
    kept.resize(options.max_size - kNumSpecialTokens);
  }

  std::vector<std::string> tokens(kSpecialTokens.begin(), kSpecialTokens.end());
  for (auto& entry : kept) tokens.push_back(std::move(entry.first));
  tokens.insert(tokens.end(), options.reserved.begin(), options.reserved.end());
  return Vocab(kind, std::move(tokens));
}

std::string sentinel_token(int index) {
  return fmt::format("<extra_id_{}>", index);
}

bool is_reserved_token(std::string_view token) {
  if (token == kMaskToken) return true;
  constexpr std::string_view prefix = "<extra_id_";
  if (token.size() <= prefix.size() + 1 || token.substr(0, prefix.size()) != prefix ||
      token.back() != '>')
    return false;
  const std::string_view digits = token.substr(prefix.size(), token.size() - prefix.size() - 1);
  return digits.size() <= 6 && (digits == "0" || digits[0] != '0') &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int32_t Vocab::reserved_id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end() || it->second < ordinary_end_)
    throw std::invalid_argument(fmt::format(
        "the vocabulary has no reserved token {} (it was built for another training objective)",
        token));
  return it->second;
}

Vocab Vocab::from_tokens(std::string_view kind_name, std::vector<std::string> tokens,
                         std::string_view subword_model) {
  const TokenizerKind kind = enum_from_name(kTokenizerKindNames, kind_name, "tokenizer kind");
  std::shared_ptr<const SubwordModel> subword;
  if (is_subword(kind) && subword_model.empty())
    throw std::invalid_argument(
        fmt::format("a {} vocabulary needs its SentencePiece model, and none is given", kind_name));
  if (!is_subword(kind) && !subword_model.empty())
    throw std::invalid_argument(
        fmt::format("a {} vocabulary has no SentencePiece model, but one is given", kind_name));
  std::vector<std::string> pieces;
  if (is_subword(kind)) {
    subword = std::make_shared<const SubwordModel>(SubwordModel::load(subword_model));
    pieces = subword->pieces();
  }
  if (tokens.size() < kNumSpecialTokens) {
    throw std::invalid_argument(
        fmt::format("vocabulary has {} tokens; it must start with the {} special tokens",
                    tokens.size(), kNumSpecialTokens));
  }
  for (int32_t id = 0; id < kNumSpecialTokens; ++id) {
    if (tokens[id] != kSpecialTokens[id]) {
      throw std::invalid_argument(fmt::format("vocabulary token {} is '{}' but must be '{}'", id,
                                              tokens[id], kSpecialTokens[id]));
    }
  }
  bool reserved_seen = false;  // reserved tokens come after every ordinary one
  for (std::size_t id = kNumSpecialTokens; id < tokens.size(); ++id) {
    const std::string& token = tokens[id];
    const std::string context = fmt::format("vocabulary token {}", id);
    if (is_reserved_token(token)) {
      reserved_seen = true;
      continue;
    }
    if (reserved_seen)
      throw std::invalid_argument(fmt::format(
          "{} '{}' follows a reserved token; reserved tokens come last", context, token));
    if (is_subword(kind) && (id >= pieces.size() || pieces[id] != token))
      throw std::invalid_argument(fmt::format(
          "{} '{}' is not the SentencePiece model's piece {}{}", context, token, id,
          id < pieces.size() ? fmt::format(" ('{}')", pieces[id]) : std::string(" (it has none)")));
    if (kind == TokenizerKind::Char && count_code_points(token, context) != 1) {
      throw std::invalid_argument(
          fmt::format("{} '{}' is not a single character, so a char tokenizer can never produce it",
                      context, token));
    }
    if (kind == TokenizerKind::Word &&
        (token.empty() || std::any_of(token.begin(), token.end(), is_ascii_space))) {
      throw std::invalid_argument(fmt::format(
          "{} '{}' is empty or contains whitespace, so a word tokenizer can never produce it",
          context, token));
    }
  }
  if (is_subword(kind)) {
    const size_t ordinary =
        size_t(std::find_if(tokens.begin() + kNumSpecialTokens, tokens.end(), is_reserved_token) -
               tokens.begin());
    if (ordinary != pieces.size())
      throw std::invalid_argument(
          fmt::format("the vocabulary has {} ordinary tokens but its SentencePiece model {} pieces",
                      ordinary, pieces.size()));
  }
  Vocab vocab(kind, std::move(tokens), std::move(subword));
  if (vocab.ids_.size() != vocab.tokens_.size()) {
    for (std::size_t id = 0; id < vocab.tokens_.size(); ++id) {
      const int32_t first = vocab.ids_.at(vocab.tokens_[id]);
      if (static_cast<std::size_t>(first) != id) {
        throw std::invalid_argument(fmt::format("vocabulary token '{}' appears at ids {} and {}",
                                                vocab.tokens_[id], first, id));
      }
    }
  }
  return vocab;
}

int32_t Vocab::id_of(std::string_view token) const {
  // Heterogeneous lookup needs a transparent hash; building a string for the lookup is cheap
  // next to everything else that happens per token.
  const auto it = ids_.find(std::string(token));
  return it == ids_.end() ? kUnkId : it->second;
}

const std::string& Vocab::token_of(int32_t id) const {
  if (id < 0 || id >= size()) {
    throw std::out_of_range(
        fmt::format("token id {} is outside the vocabulary (size {})", id, size()));
  }
  return tokens_[id];
}

std::vector<std::string> Vocab::tokenize(std::string_view text, std::string_view context) const {
  if (subword_) {
    validate_utf8(text, context);
    return subword_->encode_pieces(text);
  }
  std::vector<std::string> tokens;
  for_each_token(kind_, text, context, [&](std::string_view token) { tokens.emplace_back(token); });
  return tokens;
}

std::vector<int32_t> Vocab::encode(std::string_view text, std::string_view context) const {
  if (subword_) {
    validate_utf8(text, context);
    return subword_->encode(text);  // its ids are ours, and it never makes a reserved one
  }
  std::vector<int32_t> ids;
  for_each_token(kind_, text, context, [&](std::string_view token) {
    const int32_t id = id_of(token);
    ids.push_back(id >= ordinary_end_ ? kUnkId : id);
  });
  return ids;
}

std::size_t Vocab::count_tokens(std::string_view text, std::string_view context) const {
  return subword_ ? encode(text, context).size() : data::count_tokens(kind_, text, context);
}

std::string Vocab::decode(std::span<const int32_t> ids, bool keep_special_tokens) const {
  std::string text;
  bool first = true;
  for (const int32_t id : ids) {
    const std::string& token = token_of(id);
    if (id < kNumSpecialTokens && id != kUnkId && !keep_special_tokens) continue;
    if (kind_ == TokenizerKind::Word && !first) text += ' ';
    text += subword_ && id < ordinary_end_ ? piece_text(token) : token;
    first = false;
  }
  return text;
}

}  // namespace attnlab::data
