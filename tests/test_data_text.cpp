// UTF-8 helpers and tokenizers.
#include "data/text_file.h"
#include "data/tokenizer.h"
#include "data/utf8.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace attnlab::data;
using Catch::Matchers::Contains;

TEST_CASE("data: split_code_points splits multi-byte characters whole", "[data][utf8]") {
  const std::vector<std::string> expected = {"h", "é", "✓", "字", "😀"};
  CHECK(split_code_points("hé✓字😀") == expected);
  CHECK(split_code_points("").empty());
  CHECK(count_code_points("héllo wörld ✓") == 13);
}

TEST_CASE("data: invalid UTF-8 is reported with context and position", "[data][utf8]") {
  struct Case {
    std::string bytes;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"ab\x80", "continuation byte"},        {"ab\xC3", "cut off by the end"},
      {"\xC3(", "non-continuation"},          {"\xC0\xAF", "overlong"},
      {"\xE0\x80\x80", "overlong"},           {"\xED\xA0\x80", "surrogate"},
      {"\xF4\x90\x80\x80", "above U+10FFFF"}, {"\xFF", "never appears"},
  };
  for (const Case& c : cases) {
    INFO(c.problem);
    CHECK_THROWS_WITH(validate_utf8(c.bytes, "train.tsv:7"),
                      Contains("train.tsv:7: invalid UTF-8") && Contains(c.problem));
    CHECK_THROWS_AS(split_code_points(c.bytes), std::runtime_error);
  }
  CHECK_THROWS_WITH(validate_utf8("abc\xFF"), Contains("at byte 4"));
}

TEST_CASE("data: special tokens have fixed ids in every vocabulary", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"zebra"};
  for (const auto kind : {TokenizerKind::Char, TokenizerKind::Word}) {
    const Vocab vocab = Vocab::build(kind, texts);
    CHECK(vocab.token_of(kPadId) == "<pad>");
    CHECK(vocab.token_of(kBosId) == "<bos>");
    CHECK(vocab.token_of(kEosId) == "<eos>");
    CHECK(vocab.token_of(kUnkId) == "<unk>");
    CHECK(vocab.token_of(kSepId) == "<sep>");
    CHECK(vocab.token_of(kClsId) == "<cls>");
  }
}

TEST_CASE("data: char vocabulary round-trips UTF-8 text by code point", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"héllo wörld ✓", "你好，世界", "naïve café"};
  const Vocab vocab = Vocab::build(TokenizerKind::Char, texts);
  for (const std::string& text : texts) {
    const auto ids = vocab.encode(text);
    CHECK(ids.size() == count_code_points(text));
    CHECK(vocab.decode(ids) == text);
  }
  CHECK(vocab.id_of("é") != kUnkId);
  CHECK(vocab.id_of("你") != kUnkId);
  // A multi-byte character must be one token, not one per byte.
  CHECK(vocab.encode("✓").size() == 1);
}

TEST_CASE("data: word vocabulary round-trips whitespace-normalised text", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"héllo wörld ✓", "the cat  sat\ton the mat", "東京 大阪"};
  const Vocab vocab = Vocab::build(TokenizerKind::Word, texts);
  CHECK(vocab.decode(vocab.encode("héllo wörld ✓")) == "héllo wörld ✓");
  CHECK(vocab.decode(vocab.encode("the cat  sat\ton the mat")) == "the cat sat on the mat");
  CHECK(vocab.decode(vocab.encode("東京 大阪")) == "東京 大阪");
  CHECK(vocab.encode("  the   mat ").size() == 2);
}

TEST_CASE("data: count_tokens counts what the tokenizers make, and refuses what they refuse",
          "[data][tokenizer]") {
  // Counted by hand: 15 code points; 3 words (a tab, two spaces and a newline separate them).
  const std::string text = "héllo\twörld  ✓\n";
  CHECK(count_tokens(TokenizerKind::Char, text) == 15);
  CHECK(count_tokens(TokenizerKind::Word, text) == 3);
  CHECK(count_tokens(TokenizerKind::Char, "") == 0);
  CHECK(count_tokens(TokenizerKind::Word, " \t\n") == 0);
  for (const auto kind : {TokenizerKind::Char, TokenizerKind::Word}) {
    const Vocab vocab = Vocab::build(kind, std::vector<std::string>{text});
    CHECK(vocab.tokenize(text).size() == count_tokens(kind, text));
    CHECK_THROWS_WITH(count_tokens(kind, "ok \xC3", "train.tsv:7"),
                      Contains("train.tsv:7") && Contains("byte 4"));
  }
}

TEST_CASE("data: a vocabulary refuses more distinct tokens than max_distinct while counting",
          "[data][tokenizer]") {
  VocabOptions options;
  options.max_distinct = 3;
  options.source = "words.tsv";
  // Repeats and typed special tokens are not new tokens.
  const Vocab three =
      Vocab::build(TokenizerKind::Word, std::vector<std::string>{"a b a", "c <sep> b c"}, options);
  CHECK(three.size() == kNumSpecialTokens + 3);
  CHECK_THROWS_WITH(
      Vocab::build(TokenizerKind::Word, std::vector<std::string>{"a b", "c d"}, options),
      Contains("words.tsv: more than 3 distinct word tokens; a vocabulary holds at most 9"));
  CHECK_THROWS_WITH(Vocab::build(TokenizerKind::Char, std::vector<std::string>{"abcd"}, options),
                    Contains("words.tsv: more than 3 distinct char tokens"));
}

TEST_CASE("data: vocabulary order is by frequency then string, with min_count and max_size",
          "[data][tokenizer]") {
  const std::vector<std::string> texts = {"b a c b", "d b a", "e"};
  const Vocab all = Vocab::build(TokenizerKind::Word, texts);
  const std::vector<std::string> expected = {"<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<cls>",
                                             "b",     "a",     "c",     "d",     "e"};
  CHECK(all.tokens() == expected);

  const Vocab frequent = Vocab::build(TokenizerKind::Word, texts, {.min_count = 2});
  CHECK(frequent.size() == kNumSpecialTokens + 2);
  CHECK(frequent.encode("a e") == std::vector<int32_t>{7, kUnkId});

  const Vocab capped = Vocab::build(TokenizerKind::Word, texts, {.max_size = 7});
  CHECK(capped.tokens().back() == "b");
  CHECK_THROWS_AS(Vocab::build(TokenizerKind::Word, texts, {.max_size = 3}), std::invalid_argument);
}

TEST_CASE("data: unknown tokens encode to <unk> and decode skips structural specials",
          "[data][tokenizer]") {
  const std::vector<std::string> texts = {"abc"};
  const Vocab vocab = Vocab::build(TokenizerKind::Char, texts);
  const auto ids = vocab.encode("abz");
  CHECK(ids.back() == kUnkId);
  CHECK(vocab.decode(ids) == "ab<unk>");

  std::vector<int32_t> framed = {kBosId};
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.push_back(kEosId);
  framed.push_back(kPadId);
  CHECK(vocab.decode(framed) == "ab<unk>");
  CHECK(vocab.decode(framed, true) == "<bos>ab<unk><eos><pad>");
  const std::vector<int32_t> bad = {1000};
  CHECK_THROWS_WITH(vocab.decode(bad), Contains("1000") && Contains("size"));
}

TEST_CASE("data: vocabulary survives saving as kind name plus token list", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"héllo wörld ✓", "good night"};
  for (const auto kind : {TokenizerKind::Char, TokenizerKind::Word}) {
    const Vocab original = Vocab::build(kind, texts);
    const Vocab restored = Vocab::from_tokens(std::string(original.kind_name()), original.tokens());
    CHECK(restored.kind() == kind);
    CHECK(restored.tokens() == original.tokens());
    CHECK(restored.encode("héllo night") == original.encode("héllo night"));
  }
}

TEST_CASE("data: malformed saved vocabularies are rejected", "[data][tokenizer]") {
  std::vector<std::string> tokens(kSpecialTokens.begin(), kSpecialTokens.end());
  CHECK_THROWS_WITH(Vocab::from_tokens("bytes", tokens), Contains("'bytes'"));

  auto swapped = tokens;
  std::swap(swapped[0], swapped[1]);
  CHECK_THROWS_WITH(Vocab::from_tokens("char", swapped), Contains("must be '<pad>'"));

  auto duplicated = tokens;
  duplicated.insert(duplicated.end(), {"x", "y", "x"});
  CHECK_THROWS_WITH(Vocab::from_tokens("char", duplicated), Contains("'x' appears at ids 6 and 8"));

  auto multi_char = tokens;
  multi_char.push_back("ab");
  CHECK_THROWS_WITH(Vocab::from_tokens("char", multi_char), Contains("not a single character"));
  CHECK_NOTHROW(Vocab::from_tokens("word", multi_char));

  auto spaced = tokens;
  spaced.push_back("a b");
  CHECK_THROWS_WITH(Vocab::from_tokens("word", spaced), Contains("whitespace"));
}

TEST_CASE("data: tokenizers report invalid UTF-8 with the caller's context", "[data][tokenizer]") {
  const std::vector<std::string> texts = {"ok", "bad \xC3"};
  CHECK_THROWS_WITH(Vocab::build(TokenizerKind::Char, texts), Contains("text 2"));
  const Vocab vocab = Vocab::build(TokenizerKind::Word, std::vector<std::string>{"ok"});
  CHECK_THROWS_WITH(vocab.encode("\xFF", "valid.tsv:3"), Contains("valid.tsv:3"));
  CHECK(enum_from_name(kTokenizerKindNames, "word", "tokenizer") == TokenizerKind::Word);
  CHECK_THROWS_WITH(enum_from_name(kTokenizerKindNames, "bytes", "tokenizer"),
                    Contains("tokenizer: 'bytes' is not one of char, word, bpe or unigram"));
}

TEST_CASE("data: a text file is held out by its last tenth of lines, or of characters") {
  const auto dir = std::filesystem::temp_directory_path() / "attnlab_text_split";
  std::filesystem::create_directories(dir);
  const std::string many = (dir / "many.txt").string(), few = (dir / "few.txt").string();
  std::string text;
  for (int i = 1; i <= 25; ++i) text += "line " + std::to_string(i) + "\n";
  std::ofstream(many) << text;
  std::ofstream(few) << "abcdefghij\u00e9klmnopqrs\nend";  // 3 lines, 24 characters
  // 25 lines: the last 2 are held out, cut where line 24 starts.
  Dataset d = load_text_dataset(many, "");
  REQUIRE(d.train.size() == 1);
  REQUIRE(d.valid.size() == 1);
  CHECK(d.valid[0].source == "line 24\nline 25\n");
  CHECK(d.train[0].source + d.valid[0].source == text);
  CHECK(d.valid_origin == std::vector<std::string>{many + ":24"});
  // 3 lines: the last 2 of 24 characters (a two-byte character counts once).
  d = load_text_dataset(few, "");
  CHECK(d.valid[0].source == "nd");
  CHECK(d.train[0].source == "abcdefghij\u00e9klmnopqrs\ne");
  // A held-out file is read whole.
  d = load_text_dataset(few, many);
  CHECK(d.train[0].source == "abcdefghij\u00e9klmnopqrs\nend");
  CHECK(d.valid[0].source == text);
  std::ofstream(few) << "ok\n\xff\n";
  CHECK_THROWS_WITH(load_text_dataset(few, ""), Contains(few + ":2"));
  std::filesystem::remove_all(dir);
}
