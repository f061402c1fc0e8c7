// Every framing, and how a (task kind, model) pair finds its own: each
// framing file defines frame_<name>(context), which returns nullptr for a
// pair it does not frame. The first that takes the pair frames it.
#include <fmt/format.h>

#include <stdexcept>

#include "framing/framing.h"

// One line per framing, in the order they are asked.
#define ATTNLAB_FRAMINGS(X)      \
  X(encoder_classification)      \
  X(decoder_only_seq2seq)        \
  X(encoder_decoder_seq2seq)     \
  X(text_to_text_classification) \
  X(causal_language_model)       \
  X(masked_language_model)       \
  X(span_corruption)

namespace attnlab {

#define ATTNLAB_DECLARE_FRAMING(name) std::unique_ptr<Framing> frame_##name(const FramingContext&);
ATTNLAB_FRAMINGS(ATTNLAB_DECLARE_FRAMING)
#undef ATTNLAB_DECLARE_FRAMING

namespace {

// Why no framing takes the pair, in the user's terms.
std::string unframed(const FramingContext& c) {
  const char* family = family_name(c.model->config().family);
  switch (c.kind) {
    case data::TaskKind::LanguageModel:
      return fmt::format(
          "a {} model has no objective for plain text (GPT predicts each next token, BERT fills "
          "in masked tokens, T5 writes dropped spans); use one of those",
          family);
    case data::TaskKind::Translation:
      return fmt::format(
          "a {} model is an encoder without a decoder: it classifies but cannot translate; use "
          "--model gpt or --model t5 for translation tasks",
          family);
    case data::TaskKind::Classification:
      break;
  }
  return fmt::format("no framing classifies with a {} model", family);
}

}  // namespace

std::unique_ptr<Framing> make_framing(FramingContext context) {
#define ATTNLAB_TRY_FRAMING(name) \
  if (auto framing = frame_##name(context)) return framing;
  ATTNLAB_FRAMINGS(ATTNLAB_TRY_FRAMING)
#undef ATTNLAB_TRY_FRAMING
  throw std::invalid_argument(unframed(context));
}

}  // namespace attnlab
