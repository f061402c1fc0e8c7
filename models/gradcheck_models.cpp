#include "models/gradcheck_models.h"

namespace attnlab {

ModelConfig tiny_config(Family family) {
  ModelConfig c = preset(family);
  c.vocab_size = 7;
  c.num_classes = 3;
  c.d_model = 8;
  c.n_heads = 2;
  c.d_ff = 12;
  c.n_layers = 1;
  c.n_decoder_layers = 1;
  c.max_len = 8;
  c.num_latents = 3;
  c.relative_buckets = 8;
  c.relative_max_distance = 16;
  c.dropout = 0.0;
  c.init_std = 0.3;  // large enough that every path carries gradient
  if (family != Family::T5) c.embedding_std = 0.5;
  c.mlm_head = family == Family::BERT;
  c.dtype = DType::F64;
  return c;
}

namespace {

// ids (2,4): the second row padded after 2 tokens.
const IntTensor kIds{{2, 4}, {1, 5, 2, 6, 3, 4, 0, 0}};
const Mask kPadding{{2, 4}, {0, 0, 0, 0, 0, 0, 1, 1}};

GradCheckResult check_model(const Model& model, const std::function<Tensor()>& loss) {
  return gradcheck([&](const std::vector<Tensor>&) { return loss(); }, model.parameters());
}

template <typename M>
GradCheckCase model_case(std::string name, std::string shapes, Family family,
                         std::function<Tensor(const M&)> loss) {
  return {std::move(name), std::move(shapes), [family, loss] {
            M model(tiny_config(family));
            return check_model(model, [&] { return loss(model); });
          }};
}

}  // namespace

std::vector<GradCheckCase> model_gradcheck_cases() {
  std::vector<GradCheckCase> cases;
  cases.push_back(model_case<BertModel>(
      "model/bert_classify", "ids (2,4) padded, 3 classes", Family::BERT, [](const BertModel& m) {
        return cross_entropy(m.classify(kIds, &kPadding), IntTensor{{2}, {2, 0}});
      }));
  cases.push_back(model_case<BertModel>(
      "model/bert_mlm", "ids (2,4) padded, tied MLM head", Family::BERT, [](const BertModel& m) {
        IntTensor targets{{2, 4}, {-100, 3, -100, 1, 6, -100, -100, -100}};
        return cross_entropy(m.masked_lm_logits(m.encode(kIds, &kPadding)), targets);
      }));
  cases.push_back(model_case<GptModel>(
      "model/gpt_lm", "ids (2,4) padded, next-token loss", Family::GPT, [](const GptModel& m) {
        IntTensor targets{{2, 4}, {5, 2, 6, 1, 4, -100, -100, -100}};
        return cross_entropy(m.decode(kIds, &kPadding), targets);
      }));
  cases.push_back({"model/gpt_prefix_lm", "ids (2,4) padded, prefixes 3 and 2", [] {
                     ModelConfig c = tiny_config(Family::GPT);
                     c.prefix_lm = true;
                     GptModel m(c);
                     // Only positions from each prefix's last on are scored, as a prefix LM trains.
                     IntTensor targets{{2, 4}, {-100, -100, 6, 1, -100, 4, -100, -100}};
                     return check_model(m, [&] {
                       return cross_entropy(m.decode_prefix(kIds, &kPadding, {3, 2}), targets);
                     });
                   }});
  cases.push_back(model_case<T5Model>(
      "model/t5_seq2seq", "src (2,4) padded, tgt (2,3) padded", Family::T5, [](const T5Model& m) {
        IntTensor tgt{{2, 3}, {1, 3, 5, 1, 2, 0}};
        Mask tgt_pad{{2, 3}, {0, 0, 0, 0, 0, 1}};
        IntTensor targets{{2, 3}, {3, 5, 2, 2, 2, -100}};
        return cross_entropy(m.logits(kIds, &kPadding, tgt, &tgt_pad), targets, -100, 0.1);
      }));
  cases.push_back(model_case<PerceiverModel>(
      "model/perceiver_classify", "ids (2,4) padded, 3 latents", Family::Perceiver,
      [](const PerceiverModel& m) {
        return cross_entropy(m.classify(kIds, &kPadding), IntTensor{{2}, {1, 2}});
      }));
  return cases;
}

}  // namespace attnlab
