// attnlab against PyTorch: the numbers in tests/data/reference.h5 come from
// tests/make_reference.py (the textbook single-head attention modules, and PyTorch
// re-implementations of the four model presets). Here we load the same
// weights into our modules BY NAME, run forward and backward in float64, and
// require outputs, attention weights, losses and every parameter gradient to
// match to 1e-5. No Python is needed to run this.
//
// Set ATTNLAB_REFERENCE_REPORT=1 to print each case's largest deviation.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "io/hdf5.h"
#include "layers/block.h"
#include "models/model.h"

using namespace attnlab;

namespace {

constexpr double kTolerance = 1e-5;

const H5File& reference() {
  static const H5File file = H5File::open_read(ATTNLAB_TEST_DATA_DIR "/reference.h5");
  return file;
}

Tensor load_f64(const std::string& path) {
  H5Data<double> d = reference().read_double(path);
  return Tensor::from_vector(d.values, d.shape, DType::F64);
}

IntTensor load_ids(const std::string& path) {
  H5Data<int32_t> d = reference().read_int32(path);
  return IntTensor{d.shape, d.values};
}

Mask load_mask(const std::string& path) {
  H5Data<uint8_t> d = reference().read_uint8(path);
  return Mask{d.shape, d.values};
}

std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(idx, ","));
}

// The largest deviation seen in one test case, for the optional report.
struct Deviation {
  explicit Deviation(std::string name) : case_name(std::move(name)) {}
  std::string case_name;
  double worst = 0;
  std::string where;
  ~Deviation() {
    if (std::getenv("ATTNLAB_REFERENCE_REPORT"))
      fmt::print("reference {:<28} max deviation {:.3e}  ({})\n", case_name, worst, where);
  }
};

// |ours - ref| / max(1, |ref|): absolute below 1, relative above, since
// logits, losses and gradients span both ranges.
void compare(const Tensor& ours, const std::string& path, Deviation& dev) {
  H5Data<double> ref = reference().read_double(path);
  INFO(path << ": ours " << shape_str(ours.shape()) << ", reference " << shape_str(ref.shape));
  REQUIRE(ours.shape() == ref.shape);
  const std::vector<double> a = ours.to_vector();
  double worst = -1;
  int64_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::abs(a[i] - ref.values[i]) / std::max(1.0, std::abs(ref.values[i]));
    if (std::isnan(err)) err = std::numeric_limits<double>::infinity();
    if (err > worst) {
      worst = err;
      at = int64_t(i);
    }
  }
  if (a.empty()) return;
  if (worst > dev.worst) {
    dev.worst = worst;
    dev.where = path;
  }
  INFO(fmt::format("worst element {}: ours {:.17g}, reference {:.17g}, deviation {:.3e}",
                   index_str(at, ref.shape), a[at], ref.values[at], worst));
  CHECK(worst <= kTolerance);
}

Tensor parameter(const Module& m, const std::string& name) {
  for (const auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  FAIL("no parameter " << name);
  return Tensor();
}

std::string joined(const std::set<std::string>& names) {
  return names.empty() ? "(none)" : fmt::format("{}", fmt::join(names, ", "));
}

// Copies <group>/<name> into every parameter not in `not_in_file`, after
// requiring that the file's parameter names are exactly ours (the checkpoint
// key contract); read<double>(path, shape) enforces the shapes.
void load_parameters(const Module& m, const std::string& group,
                     const std::set<std::string>& not_in_file = {}) {
  std::set<std::string> in_file, ours;
  for (const std::string& path : reference().list_datasets(group))
    in_file.insert(path.substr(group.size() + 1));
  for (const auto& [name, _] : m.named_parameters())
    if (!not_in_file.count(name)) ours.insert(name);
  std::set<std::string> missing, extra;
  std::set_difference(ours.begin(), ours.end(), in_file.begin(), in_file.end(),
                      std::inserter(missing, missing.end()));
  std::set_difference(in_file.begin(), in_file.end(), ours.begin(), ours.end(),
                      std::inserter(extra, extra.end()));
  INFO(group << ": parameters we have but the file lacks: " << joined(missing));
  INFO(group << ": parameters the file has but we lack: " << joined(extra));
  REQUIRE((missing.empty() && extra.empty()));
  for (const auto& [name, t] : m.named_parameters()) {
    if (not_in_file.count(name)) continue;
    const std::vector<double> v = reference().read<double>(group + "/" + name, t.shape());
    std::copy(v.begin(), v.end(), t.data<double>());
  }
}

void compare_gradients(const Module& m, const std::string& group, Deviation& dev,
                       const std::set<std::string>& not_in_file = {}) {
  for (const auto& [name, t] : m.named_parameters()) {
    if (not_in_file.count(name)) continue;
    // A parameter the loss never reached has no gradient buffer: zero.
    const Tensor g = t.grad().defined() ? t.grad() : Tensor::zeros(t.shape(), DType::F64);
    compare(g, group + "/" + name, dev);
  }
}

void set_identity(const Tensor& w) {
  double* p = w.data<double>();
  for (int64_t r = 0; r < w.size(0); ++r)
    for (int64_t c = 0; c < w.size(1); ++c) p[r * w.size(1) + c] = r == c ? 1.0 : 0.0;
}

Tensor leaf_input(const std::string& path) {
  Tensor t = load_f64(path);
  t.set_requires_grad(true);
  return t;
}

// (B,1,Tq,Tk) single-head weights -> the single-head modules' (B,Tq,Tk).
Tensor drop_head_dim(const Tensor& w) {
  return reshape(w, {w.size(0), w.size(2), w.size(3)});
}

ParamInit f64_init() {
  return ParamInit{Generator{1, 0}, 0.02, DType::F64};
}

// ---- textbook single-head modules, bias-free projections -----------------------------------

// One of the single-head attention modules as our MultiHeadAttention: heads 1,
// dim = d_model = d_k, no biases, 1/sqrt(d_k) scaling; without the module's
// W_O (SelfAttention, CausalSelfAttention) out_proj is the identity.
void check_single_head_attention(const std::string& c, bool cross, bool causal, const char* padding,
                                 bool has_out_proj) {
  Deviation dev{c};
  const std::string q_name = cross ? "decoder_hidden" : "x";
  Tensor x = leaf_input(c + "/inputs/" + q_name);
  Tensor mem = cross ? leaf_input(c + "/inputs/encoder_output") : x;
  ParamInit init = f64_init();
  MultiHeadAttention attn(x.size(2), 1, /*bias=*/false, /*scale_scores=*/true, 0.0, nullptr, init);
  attn.eval();
  std::set<std::string> not_in_file;
  if (!has_out_proj) {
    set_identity(parameter(attn, "out_proj/weight"));
    not_in_file.insert("out_proj/weight");
  }
  load_parameters(attn, c + "/params", not_in_file);

  Mask pad;
  if (padding) pad = load_mask(c + "/inputs/" + padding);
  Tensor weights;
  Tensor out =
      attn.forward(x, mem, AttentionMasks{padding ? &pad : nullptr, causal, nullptr}, &weights);
  compare(out, c + "/outputs/out", dev);
  compare(drop_head_dim(weights), c + "/outputs/attn", dev);

  sum(mul(out, load_f64(c + "/inputs/R"))).backward();
  compare_gradients(attn, c + "/grad", dev, not_in_file);
  compare(x.grad(), c + "/grad_inputs/" + q_name, dev);
  if (cross) compare(mem.grad(), c + "/grad_inputs/encoder_output", dev);
}

}  // namespace

TEST_CASE("reference: single-head SelfAttention", "[reference]") {
  check_single_head_attention("single_head_self_attention", false, false, "padding_mask", false);
}

TEST_CASE("reference: single-head CausalSelfAttention", "[reference]") {
  check_single_head_attention("single_head_causal_self_attention", false, true, nullptr, false);
}

TEST_CASE("reference: single-head CrossAttention", "[reference]") {
  check_single_head_attention("single_head_cross_attention", true, false, "encoder_padding_mask",
                              true);
}

TEST_CASE("reference: single-head EncoderDecoderBlock", "[reference]") {
  const std::string c = "single_head_encoder_decoder_block";
  Deviation dev{c};
  Tensor x = leaf_input(c + "/inputs/decoder_input");
  Tensor mem = leaf_input(c + "/inputs/encoder_output");
  const Mask mem_pad = load_mask(c + "/inputs/encoder_mask");
  // Pre-norm LayerNorm block, exact GELU, dropout off. Biases must be on for
  // the FFN, so the single-head module's bias-free attention projections get zero biases.
  BlockConfig bc;
  bc.dim = x.size(2);
  bc.heads = 1;
  bc.ffn_dim = reference().shape(c + "/params/ffn/fc1/weight").at(0);
  bc.norm = NormKind::LayerNorm;
  bc.norm_eps = 1e-5;  // nn.LayerNorm's default
  bc.placement = NormPlacement::Pre;
  bc.activation = Activation::GELU;
  bc.bias = true;
  bc.scale_scores = true;
  bc.dropout = 0.0;
  ParamInit init = f64_init();
  TransformerBlock block(BlockKind::EncoderDecoder, bc, nullptr, init);
  block.eval();
  std::set<std::string> not_in_file{
      "self_attn/out_proj/weight"};  // the textbook block has no W_O there
  for (const char* attn : {"self_attn", "cross_attn"})
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
      not_in_file.insert(fmt::format("{}/{}/bias", attn, proj));
  for (const std::string& name : not_in_file) {
    Tensor p = parameter(block, name);
    if (p.dim() == 2)
      set_identity(p);
    else
      std::fill_n(p.data<double>(), p.numel(), 0.0);
  }
  load_parameters(block, c + "/params", not_in_file);

  BlockAttention attention;
  // The textbook block's decoder self-attention has no padding mask: causal only.
  Tensor out = block.forward(x, BlockInputs{nullptr, nullptr, &mem, &mem_pad}, &attention);
  compare(out, c + "/outputs/out", dev);
  compare(drop_head_dim(attention.cross_weights), c + "/outputs/cross_weights", dev);
  compare(drop_head_dim(attention.self_weights), c + "/outputs/self_weights", dev);

  sum(mul(out, load_f64(c + "/inputs/R"))).backward();
  compare_gradients(block, c + "/grad", dev, not_in_file);
  compare(x.grad(), c + "/grad_inputs/decoder_input", dev);
  compare(mem.grad(), c + "/grad_inputs/encoder_output", dev);
}

// ---- the model presets ------------------------------------------------------------

namespace {

// Fields the script sets to make the model tiny; every other field must be
// the family's preset, so a changed preset fails here until the reference
// is regenerated from a matching re-implementation.
const std::set<std::string> kSizeFields{
    "vocab_size",       "num_classes",           "d_model",  "n_heads",       "d_ff",
    "n_layers",         "n_decoder_layers",      "max_len",  "dropout",       "num_latents",
    "relative_buckets", "relative_max_distance", "init_std", "embedding_std", "seed",
    "mlm_head"};

ModelConfig load_config(const std::string& c) {
  std::map<std::string, std::string> values;
  for (const std::string& key : reference().attribute_names(c + "/config"))
    values[key] = reference().get_attribute(c + "/config", key);
  ModelConfig config = config_from_map(values);
  config.dtype = DType::F64;

  const auto ours = config_to_map(config);
  const auto preset_values = config_to_map(preset(config.family));
  const auto defaults = config_to_map(ModelConfig{});
  for (const auto& [key, value] : preset_values) {
    INFO(c << "/config: field '" << key << "'");
    // The script writes every field we have; a field added since the file
    // was made must be off (its default) in the preset, as the script's
    // model has no such choice.
    if (!values.count(key)) {
      CHECK(value == defaults.at(key));
      continue;
    }
    if (!kSizeFields.count(key)) {
      INFO("reference " << ours.at(key) << ", our preset " << value);
      CHECK(ours.at(key) == value);
    }
  }
  return config;
}

}  // namespace

TEST_CASE("reference: BERT preset logits, loss and gradients", "[reference]") {
  const std::string c = "bert";
  Deviation dev{c};
  BertModel m(load_config(c));
  m.eval();
  load_parameters(m, c + "/params");
  const IntTensor ids = load_ids(c + "/inputs/ids");
  const Mask pad = load_mask(c + "/inputs/padding");
  Tensor logits = m.classify(ids, &pad);
  Tensor mlm_logits = m.masked_lm_logits(m.encode(ids, &pad));
  Tensor loss = add(cross_entropy(logits, load_ids(c + "/inputs/labels")),
                    cross_entropy(mlm_logits, load_ids(c + "/inputs/mlm_targets"), -100));
  compare(logits, c + "/outputs/logits", dev);
  compare(mlm_logits, c + "/outputs/mlm_logits", dev);
  compare(loss, c + "/outputs/loss", dev);
  loss.backward();
  compare_gradients(m, c + "/grad", dev);
}

TEST_CASE("reference: GPT preset logits, loss and gradients", "[reference]") {
  const std::string c = "gpt";
  Deviation dev{c};
  GptModel m(load_config(c));
  m.eval();
  load_parameters(m, c + "/params");
  const Mask pad = load_mask(c + "/inputs/padding");
  Tensor logits = m.decode(load_ids(c + "/inputs/ids"), &pad);
  Tensor loss = cross_entropy(logits, load_ids(c + "/inputs/targets"), -100);
  compare(logits, c + "/outputs/logits", dev);
  compare(loss, c + "/outputs/loss", dev);
  loss.backward();
  compare_gradients(m, c + "/grad", dev);
}

TEST_CASE("reference: T5 preset logits, loss and gradients", "[reference]") {
  const std::string c = "t5";
  Deviation dev{c};
  T5Model m(load_config(c));
  m.eval();
  load_parameters(m, c + "/params");
  const Mask src_pad = load_mask(c + "/inputs/src_padding");
  const Mask tgt_pad = load_mask(c + "/inputs/tgt_padding");
  Tensor logits =
      m.logits(load_ids(c + "/inputs/src"), &src_pad, load_ids(c + "/inputs/tgt"), &tgt_pad);
  const double smoothing = reference().read<double>(c + "/inputs/label_smoothing", {}).at(0);
  Tensor loss = cross_entropy(logits, load_ids(c + "/inputs/targets"), -100, smoothing);
  compare(logits, c + "/outputs/logits", dev);
  compare(loss, c + "/outputs/loss", dev);
  loss.backward();
  compare_gradients(m, c + "/grad", dev);
}

TEST_CASE("reference: Perceiver preset logits, loss and gradients", "[reference]") {
  const std::string c = "perceiver";
  Deviation dev{c};
  PerceiverModel m(load_config(c));
  m.eval();
  load_parameters(m, c + "/params");
  const Mask pad = load_mask(c + "/inputs/padding");
  Tensor logits = m.classify(load_ids(c + "/inputs/ids"), &pad);
  Tensor loss = cross_entropy(logits, load_ids(c + "/inputs/labels"));
  compare(logits, c + "/outputs/logits", dev);
  compare(loss, c + "/outputs/loss", dev);
  loss.backward();
  compare_gradients(m, c + "/grad", dev);
}
