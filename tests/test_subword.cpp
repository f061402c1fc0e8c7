// Subword tokenizers (--tokenizer bpe|unigram): SentencePiece models trained
// on the text, stored in the checkpoint where SentencePiece itself can read
// them, and bits per character that count the characters each piece stands for.
#include <sentencepiece_processor.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "cli_process.h"
#include "common/errors.h"
#include "data/tokenizer.h"
#include "data/utf8.h"
#include "io/hdf5.h"
#include "train/checkpoint.h"

using namespace cli_test;
using namespace attnlab;
using namespace attnlab::data;
using Catch::Matchers::Contains;

namespace {

// A small text with repeated words, leading spaces, blank lines, a tab and
// characters outside ASCII.
std::string sample_text() {
  const std::vector<std::string> words = {"the",   "cat",   "sat",    "on",   "a",
                                          "mat",   "while", "dogs",   "ran",  "over",
                                          "hills", "and",   "rivers", "near", "towns"};
  std::string text;
  for (size_t i = 0; i < 60; ++i) {
    for (size_t j = 0; j < 8; ++j)
      text += words[(i * j + 3 * i) % words.size()] + (j < 7 ? " " : "\n");
    text += "  indented, été\tdone\n\n";
  }
  return text;
}

Vocab subword_vocab(TokenizerKind kind, const std::string& text, size_t size,
                    std::vector<std::string> reserved = {}) {
  const std::vector<std::string_view> texts = {text};
  VocabOptions options;
  options.max_size = size;
  options.source = "sample.txt";
  options.reserved = std::move(reserved);
  return Vocab::build(kind, texts, options);
}

}  // namespace

TEST_CASE("subword: BPE and unigram give back the text exactly, with attnlab's special ids") {
  const std::string text = sample_text();
  for (const TokenizerKind kind : {TokenizerKind::Bpe, TokenizerKind::Unigram}) {
    INFO(tokenizer_kind_name(kind));
    const Vocab vocab = subword_vocab(kind, text, 80, {std::string(kMaskToken)});
    CHECK(vocab.kind_name() == tokenizer_kind_name(kind));
    for (int32_t id = 0; id < kNumSpecialTokens; ++id)
      CHECK(vocab.token_of(id) == kSpecialTokens[size_t(id)]);
    CHECK(vocab.token_of(kNumSpecialTokens) == "\n");  // line breaks and tabs are pieces
    CHECK(vocab.token_of(kNumSpecialTokens + 1) == "\t");
    CHECK(vocab.size() <= 81);
    CHECK(vocab.ordinary_end() == vocab.size() - 1);
    CHECK(vocab.token_of(vocab.size() - 1) == kMaskToken);

    const std::vector<int32_t> ids = vocab.encode(text);
    // Pieces are longer than characters: the text takes fewer tokens.
    CHECK(double(ids.size()) < 0.7 * double(count_code_points(text)));
    CHECK(vocab.count_tokens(text) == ids.size());
    CHECK(vocab.tokenize(text).size() == ids.size());
    CHECK(vocab.decode(ids) == text);
    // Each token stands for characters that add up to the text's.
    size_t chars = 0;
    for (const int32_t id : ids) chars += size_t(vocab.chars_of(id));
    CHECK(chars == count_code_points(text));
    CHECK(vocab.chars_of(kBosId) == 0);
    CHECK(vocab.chars_of(vocab.reserved_id(kMaskToken)) == 0);

    // A character the text never had is <unk>, and written out as such.
    const std::vector<int32_t> unknown = vocab.encode("cat 字");
    CHECK(unknown.back() == kUnkId);
    CHECK(vocab.decode(unknown) == "cat <unk>");
    CHECK_THROWS_WITH(vocab.encode("ok \xC3", "train.txt:3"), Contains("train.txt:3"));

    // The same text trains the same model: every rank of a data-parallel run agrees.
    CHECK(subword_vocab(kind, text, 80, {std::string(kMaskToken)}).subword_model() ==
          vocab.subword_model());
  }
}

TEST_CASE("subword: a vocabulary is rebuilt from its tokens and model, and mismatches refused") {
  const std::string text = sample_text();
  const Vocab vocab = subword_vocab(TokenizerKind::Bpe, text, 50, {sentinel_token(0)});
  const std::string model(vocab.subword_model());
  const Vocab again = Vocab::from_tokens("bpe", vocab.tokens(), model);
  CHECK(again.tokens() == vocab.tokens());
  CHECK(again.encode(text) == vocab.encode(text));

  CHECK_THROWS_WITH(Vocab::from_tokens("bpe", vocab.tokens()),
                    Contains("needs its SentencePiece model"));
  CHECK_THROWS_WITH(
      Vocab::from_tokens("char", {kSpecialTokens.begin(), kSpecialTokens.end()}, model),
      Contains("has no SentencePiece model"));
  CHECK_THROWS_WITH(Vocab::from_tokens("bpe", vocab.tokens(), "not a model"),
                    Contains("not a SentencePiece model"));
  std::vector<std::string> swapped = vocab.tokens();
  std::swap(swapped[8], swapped[9]);
  CHECK_THROWS_WITH(Vocab::from_tokens("bpe", swapped, model),
                    Contains("vocabulary token 8") && Contains("is not the SentencePiece model's"));
  std::vector<std::string> short_list(vocab.tokens().begin(), vocab.tokens().end() - 3);
  short_list.push_back(sentinel_token(0));
  CHECK_THROWS_WITH(Vocab::from_tokens("bpe", short_list, model),
                    Contains("ordinary tokens but its SentencePiece model"));
  // A unigram model is rebuilt the same way.
  const Vocab unigram = subword_vocab(TokenizerKind::Unigram, text, 50);
  CHECK_NOTHROW(Vocab::from_tokens("unigram", unigram.tokens(), unigram.subword_model()));
}

TEST_CASE("subword: a long text is encoded in parts, into the ids of one encoding") {
  std::string text;  // about 200 KB: more than one part
  while (text.size() < 200000) text += sample_text();
  for (const TokenizerKind kind : {TokenizerKind::Bpe, TokenizerKind::Unigram}) {
    INFO(tokenizer_kind_name(kind));
    const Vocab vocab = subword_vocab(kind, sample_text(), 80);
    sentencepiece::SentencePieceProcessor whole;
    REQUIRE(whole.LoadFromSerializedProto(vocab.subword_model()).ok());
    std::vector<int> expected;
    REQUIRE(whole.Encode(text, &expected).ok());
    CHECK(vocab.encode(text) == std::vector<int32_t>(expected.begin(), expected.end()));
  }
}

TEST_CASE("subword: a vocabulary size too small for the text's characters is refused by name") {
  const std::string text = sample_text();
  CHECK_THROWS_AS(subword_vocab(TokenizerKind::Unigram, text, 20), InputError);
  CHECK_THROWS_WITH(subword_vocab(TokenizerKind::Unigram, text, 20),
                    Contains("--vocab-size 20") && Contains("sample.txt") &&
                        Contains("distinct characters") && Contains("give at least"));
}

TEST_CASE(
    "subword: train stores the model where SentencePiece reads it, and bits per character "
    "count characters") {
  const fs::path dir = fresh_dir("subword_run");
  const fs::path train = dir / "train.txt", valid = dir / "valid.txt";
  {
    std::ofstream t(train), v(valid);
    for (int i = 0; i < 120; ++i)
      t << "we hold these truths to be self evident, number " << i % 9 << "\n";
    for (int i = 0; i < 30; ++i)
      v << "these truths we hold to be self evident, number " << i % 9 << "\n";
  }
  const fs::path out = dir / "run";
  Run r = run(fmt::format(
      "train --model gpt --task-kind lm --train-file {} --valid-file {} --tokenizer bpe "
      "--vocab-size 80 --block-size 16 --d-model 32 --heads 2 --d-ff 64 --layers 1 --batch-size 8 "
      "--steps 40 --eval-every 0 --out {}",
      train.string(), valid.string(), out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("vocab 80"));

  // SentencePiece reads the stored bytes by itself and splits the held-out
  // text into the ids attnlab trained on.
  const std::string checkpoint = (out / "checkpoint.h5").string();
  const H5Data<uint8_t> bytes = H5File::open_read(checkpoint).read<uint8_t>("data/subword_model");
  const std::string serialized(bytes.values.begin(), bytes.values.end());
  sentencepiece::SentencePieceProcessor outside;
  REQUIRE(outside.LoadFromSerializedProto(serialized).ok());
  CHECK(outside.GetPieceSize() == 80);
  CHECK(outside.IdToPiece(kUnkId) == "<unk>");
  const std::string held_out = read_text(valid);
  std::vector<int> outside_ids;
  REQUIRE(outside.Encode(held_out, &outside_ids).ok());
  const Vocab stored = stored_vocab(read_checkpoint_info(checkpoint));
  CHECK(stored.encode(held_out) == std::vector<int32_t>(outside_ids.begin(), outside_ids.end()));

  // Bits per character are the loss per token times the tokens per character
  // of the held-out text (every line alike, so any whole blocks of it give
  // the same ratio to within a piece).
  r = run(fmt::format("eval --ckpt {} --format jsonl", checkpoint));
  REQUIRE(r.exit_code == 0);
  const Json m = first_json(r.output);
  const double tokens_per_char = double(outside_ids.size()) / double(count_code_points(held_out));
  CHECK(tokens_per_char < 0.5);
  CHECK(number_of(m.at("bits_per_char")) ==
        Approx(number_of(m.at("loss")) * tokens_per_char / std::log(2.0)).epsilon(0.03));

  // generate continues text in pieces, and resume keeps the stored tokenizer.
  r = run(fmt::format("generate --ckpt {} --prompt \"we hold\" --max-new 8", out.string()));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("we hold"));
  r = run(fmt::format("train --resume --out {} --steps 44", out.string()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(read_checkpoint_info(checkpoint).subword_model == serialized);
  fs::remove_all(dir);
}
