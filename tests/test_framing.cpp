// Framings: one per way a model is trained and asked, reached only through
// the Model interface, and what predict's numbers mean.
#include <catch2/catch.hpp>
#include <cmath>

#include "framing/framing.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<const data::Vocab> char_vocab() {
  const std::vector<std::string> texts = {"abcdef"};
  return std::make_shared<data::Vocab>(data::Vocab::build(data::TokenizerKind::Char, texts));
}

std::shared_ptr<Model> tiny(Family family, int64_t vocab, int64_t max_len) {
  ModelConfig c = preset(family);
  c.vocab_size = vocab;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_ff = 32;
  c.n_layers = 1;
  c.n_decoder_layers = 1;
  c.max_len = max_len;
  c.dropout = 0.0;
  c.seed = 7;
  return make_model(c);
}

// log softmax(logits[row])[token], in double, written out here.
double log_prob_at(const Tensor& logits, int64_t row, int32_t token) {
  const int64_t v = logits.size(-1);
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < v; ++j) mx = std::max(mx, logits.item(row * v + j));
  for (int64_t j = 0; j < v; ++j) sum += std::exp(logits.item(row * v + j) - mx);
  return logits.item(row * v + token) - mx - std::log(sum);
}

}  // namespace

TEST_CASE("framing: a translation's probability covers exactly the output tokens (and EOS)") {
  // An untrained model rarely says EOS, so decoding runs into max_len: the
  // token that no longer fits is neither output nor counted.
  auto vocab = char_vocab();
  for (Family family : {Family::GPT, Family::T5}) {
    CAPTURE(family_name(family));
    auto model = tiny(family, vocab->size(), 8);
    auto w = make_framing({model, vocab, data::TaskKind::Translation, {}});
    const Prediction p = w->predict({"abc"})[0];
    const std::vector<int32_t>& out = p.tokens;
    // Recompute the chosen tokens' log-probabilities by teacher forcing.
    NoGradGuard no_grad;
    model->eval();
    std::vector<int32_t> seq = {data::kBosId};
    Tensor logits;
    int64_t first = 0;  // the position that predicts the first output token
    if (family == Family::GPT) {
      for (int32_t id : vocab->encode("abc", "src")) seq.push_back(id);
      seq.push_back(data::kSepId);
      first = int64_t(seq.size()) - 1;
      seq.insert(seq.end(), out.begin(), out.end());
      logits = model->decode(IntTensor{{1, int64_t(seq.size())}, seq}, nullptr);
    } else {
      std::vector<int32_t> src = vocab->encode("abc", "src");
      src.push_back(data::kEosId);
      const Tensor memory = model->encode(IntTensor{{1, int64_t(src.size())}, src}, nullptr);
      seq.insert(seq.end(), out.begin(), out.end());
      logits = model->decode(IntTensor{{1, int64_t(seq.size())}, seq}, nullptr, &memory);
    }
    CHECK(int64_t(seq.size()) <= 8);  // what the decoder read never exceeds max_len
    const bool chose_eos = p.token_log_probs.size() == out.size() + 1;
    // With this seed neither untrained model says EOS: the max_len path, where
    // the old code counted the dropped token, is the one exercised.
    CHECK_FALSE(chose_eos);
    REQUIRE((chose_eos || p.token_log_probs.size() == out.size()));
    if (!chose_eos) CHECK(int64_t(seq.size()) == 8);  // stopped by max_len, not by EOS
    double total = 0;
    for (size_t i = 0; i < p.token_log_probs.size(); ++i) {
      const int32_t token = i < out.size() ? out[i] : data::kEosId;
      const double expected = log_prob_at(logits, first + int64_t(i), token);
      CHECK(p.token_log_probs[i] == Approx(expected).margin(1e-5));
      total += expected;
    }
    CHECK(std::log(p.probability) == Approx(total).margin(1e-5));
  }
}

TEST_CASE("framing: an architecture is asked only for what it has") {
  auto vocab = char_vocab();
  auto bert = tiny(Family::BERT, vocab->size(), 8);
  CHECK_THROWS_WITH(make_framing({bert, vocab, data::TaskKind::Translation, {}}),
                    Contains("cannot translate"));
  CHECK_THROWS_WITH(bert->decode(IntTensor{{1, 2}, {1, 2}}, nullptr),
                    Contains("a bert model has no decode()"));
  auto gpt = tiny(Family::GPT, vocab->size(), 8);
  CHECK_THROWS_WITH(gpt->classify(IntTensor{{1, 2}, {1, 2}}, nullptr),
                    Contains("a gpt model has no classify()"));
  CHECK_THROWS_WITH(gpt->encode(IntTensor{{1, 2}, {1, 2}}, nullptr),
                    Contains("a gpt model has no encode()"));
  auto t5 = tiny(Family::T5, vocab->size(), 8);
  CHECK_THROWS_WITH(t5->decode(IntTensor{{1, 2}, {1, 2}}, nullptr),
                    Contains("needs the encoder output"));
  CHECK_THROWS_WITH(t5->masked_lm_logits(Tensor::zeros({1, 2, 16})),
                    Contains("only BERT has a masked-LM head"));
}

TEST_CASE("framing: many text labels are read off the greedy output, few are scored") {
  // 100 labels "aa".."fe" (more than kMaxScoredLabels): predict and evaluate
  // decode once instead of scoring every label with its own forward pass.
  auto vocab = char_vocab();
  std::vector<std::string> many, few = {"ab", "cd", "ef"};
  const std::string letters = "abcdef";
  for (char a : letters)
    for (char b : letters)
      for (char c : letters)
        if (many.size() < 100) many.push_back(std::string{a, b, c});
  for (Family family : {Family::GPT, Family::T5}) {
    CAPTURE(family_name(family));
    auto model = tiny(family, vocab->size(), 16);
    auto scored = make_framing({model, vocab, data::TaskKind::Classification, few});
    const auto p3 = scored->predict({"abc"});
    CHECK(p3[0].label_probabilities.size() == 3);
    auto decoded = make_framing({model, vocab, data::TaskKind::Classification, many});
    const auto p = decoded->predict({"abc", "fed"});
    REQUIRE(p.size() == 2);
    for (const auto& prediction : p) {
      CHECK(prediction.label_probabilities.empty());
      const bool is_label = std::find(many.begin(), many.end(), prediction.text) != many.end();
      CHECK((is_label || prediction.text.rfind("(no label) ", 0) == 0));
      CHECK(prediction.probability > 0);
      CHECK(prediction.probability <= 1);
    }
    // Evaluation reads the label off the greedy output too. "abc" paired with
    // each of the 100 labels: scoring the labels would pick one of them and
    // be right exactly once (accuracy 0.01). The untrained model's greedy
    // output is no label, so reading it off is never right.
    REQUIRE(p[0].text.rfind("(no label) ", 0) == 0);
    std::vector<data::Example> examples;
    for (const std::string& label : many) examples.push_back({"abc", label});
    const EvalMetrics m = decoded->evaluate(decoded->encode(examples), 8, 0);
    CHECK(m.accuracy == 0);
  }
}

TEST_CASE("framing: check_lengths counts what encode() makes, for every layout and tokenizer") {
  // check_lengths counts tokens without encoding; here encode() is the
  // oracle, and the positions each layout needs are written out again.
  for (const auto kind : {data::TokenizerKind::Char, data::TokenizerKind::Word}) {
    CAPTURE(data::tokenizer_kind_name(kind));
    // "<sep>" typed in the text is one token in a word vocabulary.
    const std::vector<data::Example> translation = {{"the cat <sep> sat", "le  chat\tx"}};
    const std::vector<data::Example> classification = {{"a b <sep> c", "pos label"}};
    const std::vector<std::string> labels = {"neg", "pos label"};
    std::vector<std::string> texts = {"the cat <sep> sat", "le  chat\tx", "a b <sep> c"};
    texts.insert(texts.end(), labels.begin(), labels.end());
    const auto vocab = std::make_shared<data::Vocab>(data::Vocab::build(kind, texts));
    for (Family family : {Family::GPT, Family::T5, Family::BERT}) {
      for (const auto task : {data::TaskKind::Translation, data::TaskKind::Classification}) {
        if (family == Family::BERT && task == data::TaskKind::Translation) continue;
        CAPTURE(family_name(family), int(task));
        const auto& examples = task == data::TaskKind::Translation ? translation : classification;
        const auto& task_labels =
            task == data::TaskKind::Translation ? std::vector<std::string>{} : labels;
        auto probe = make_framing({tiny(family, vocab->size(), 256), vocab, task, task_labels});
        const data::EncodedExample e = probe->encode(examples)[0];
        size_t need = 0;
        if (family == Family::BERT)
          need = e.source.size() + 1;  // [CLS] text
        else if (family == Family::GPT)
          need = e.source.size() + e.target.size() + 3;  // BOS source SEP target EOS
        else
          need = std::max(e.source.size(), e.target.size()) + 1;  // source EOS | BOS target
        auto fits =
            make_framing({tiny(family, vocab->size(), int64_t(need)), vocab, task, task_labels});
        CHECK_NOTHROW(fits->check_lengths(examples, "training"));
        auto short_by_one = make_framing(
            {tiny(family, vocab->size(), int64_t(need) - 1), vocab, task, task_labels});
        CHECK_THROWS_WITH(short_by_one->check_lengths(examples, "training"),
                          Contains(fmt::format("training example 1 needs {} positions", need)));
      }
    }
  }
}

TEST_CASE("framing: scored text labels are checked at the longest label's length") {
  // Evaluation writes every label after every text, so a row that fits with
  // its own short label but not with the longest is refused before training.
  auto vocab = char_vocab();
  const std::vector<std::string> labels = {"a", "abcdef"};
  const std::vector<data::Example> examples = {{"abc", "a"}};
  // GPT: BOS abc SEP abcdef EOS = 3 + 6 + 3 = 12 positions; with "a": 7.
  const auto gpt = make_framing(
      {tiny(Family::GPT, vocab->size(), 11), vocab, data::TaskKind::Classification, labels});
  CHECK_THROWS_WITH(gpt->check_lengths(examples, "training"),
                    Contains("training example 1 needs 12 positions"));
  const auto roomy = make_framing(
      {tiny(Family::GPT, vocab->size(), 12), vocab, data::TaskKind::Classification, labels});
  CHECK_NOTHROW(roomy->check_lengths(examples, "training"));
  // T5: the decoder's BOS abcdef needs 7.
  const auto t5 = make_framing(
      {tiny(Family::T5, vocab->size(), 6), vocab, data::TaskKind::Classification, labels});
  CHECK_THROWS_WITH(t5->check_lengths(examples, "training"),
                    Contains("training example 1 needs 7 positions"));
}

TEST_CASE("framing: predict batches every framing alike and a language model refuses first") {
  auto vocab = char_vocab();
  // Batches of 2 over 5 inputs give what one batch of 5 gives, in order.
  for (Family family : {Family::BERT, Family::GPT, Family::T5}) {
    const auto task =
        family == Family::BERT ? data::TaskKind::Classification : data::TaskKind::Translation;
    const std::vector<std::string> labels =
        family == Family::BERT ? std::vector<std::string>{"a", "b"} : std::vector<std::string>{};
    auto framing = make_framing({tiny(family, vocab->size(), 16), vocab, task, labels});
    const std::vector<std::string> inputs = {"abc", "f", "edcba", "", "bb"};
    const auto whole = framing->predict(inputs, 5, 4);
    const auto pairs = framing->predict(inputs, 2, 4);
    REQUIRE(whole.size() == inputs.size());
    REQUIRE(pairs.size() == inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      INFO(family_name(family) << " input " << i);
      CHECK(pairs[i].text == whole[i].text);
      CHECK(pairs[i].probability == Approx(whole[i].probability).epsilon(1e-4));
    }
  }
  // A language model has no predictions: it says so before it measures the
  // inputs, which here are longer than its max_len.
  auto lm =
      make_framing({tiny(Family::GPT, vocab->size(), 4), vocab, data::TaskKind::LanguageModel, {}});
  CHECK_THROWS_WITH(lm->predict({"abcdefabcdef"}),
                    Contains("has no output for an input: use attnlab generate"));
}
