// Fuzz target: the UTF-8 decoder and both tokenizers. Input: one byte of
// settings, then text. Expected, beyond not crashing:
//   - split_code_points, validate_utf8 and count_code_points agree on what
//     is valid, and the pieces of valid text concatenate back to it;
//   - a vocabulary built from valid text encodes it without <unk>, and
//     decoding gives the text back (char) or its words joined by single
//     spaces (word), and count_tokens, tokenize and encode agree on how many
//     tokens it has;
//   - Vocab::from_tokens takes back any vocabulary's own token list.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "data/utf8.h"
#include "fuzz/bytes.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace attnlab;
using data::TokenizerKind;

bool is_special_token(const std::string& word) {
  for (auto special : data::kSpecialTokens)
    if (word == special) return true;
  return false;
}

void round_trip(TokenizerKind kind, const std::string& text) {
  const std::vector<std::string> texts{text};
  const data::Vocab vocab = data::Vocab::build(kind, texts);
  std::string want = text;
  if (kind == TokenizerKind::Word) {
    want.clear();
    for (const std::string& word : data::split_whitespace(text)) {
      if (is_special_token(word)) return;  // written specials become special ids, not text
      want += (want.empty() ? "" : " ") + word;
    }
  }
  const std::vector<int32_t> ids = vocab.encode(text);
  if (data::count_tokens(kind, text) != ids.size() || vocab.tokenize(text).size() != ids.size())
    fuzz::violated("count_tokens, tokenize and encode agree on the number of tokens", text);
  for (int32_t id : ids)
    if (id == data::kUnkId)
      fuzz::violated("text encodes without <unk> in its own vocabulary", text);
  const std::string back = vocab.decode(ids);
  if (back != want) fuzz::violated("decode(encode(text)) gives the text back", text);
  const data::Vocab again = data::Vocab::from_tokens(vocab.kind_name(), vocab.tokens());
  if (again.tokens() != vocab.tokens()) fuzz::violated("from_tokens keeps the tokens", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in(data, size);
  const uint8_t settings = in.byte();
  const std::string text(in.rest());
  bool valid = true;
  std::vector<std::string> pieces;
  try {
    pieces = data::split_code_points(text, "fuzz:1");
  } catch (const std::runtime_error& e) {
    valid = false;
    if (std::string_view(e.what()).find("fuzz:1") == std::string_view::npos)
      fuzz::violated("a UTF-8 error starts with its context", e.what());
  }
  bool validated = true;
  try {
    data::validate_utf8(text, "fuzz:1");
  } catch (const std::runtime_error&) {
    validated = false;
  }
  if (valid != validated) fuzz::violated("split_code_points and validate_utf8 agree", text);
  if (!valid) return 0;
  std::string joined;
  for (const auto& p : pieces) joined += p;
  if (joined != text) fuzz::violated("code points concatenate back to the text", text);
  if (data::count_code_points(text) != pieces.size())
    fuzz::violated("count_code_points counts the pieces", text);
  round_trip(settings & 1 ? TokenizerKind::Word : TokenizerKind::Char, text);
  // A token list taken from the input: refused with std::invalid_argument, or kept as given.
  std::vector<std::string> tokens(data::kSpecialTokens.begin(), data::kSpecialTokens.end());
  for (std::size_t i = 0; i < pieces.size(); i += 1 + settings % 3) tokens.push_back(pieces[i]);
  try {
    const data::Vocab vocab = data::Vocab::from_tokens(settings & 2 ? "word" : "char", tokens);
    if (vocab.tokens() != tokens) fuzz::violated("from_tokens keeps a token list it accepts", text);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
