// `attnlab describe`: the families side by side before any training. Where
// each attention lives and what it masks, parameters per component, FLOPs,
// activation memory and KV-cache bytes per token (formulas in
// models/stats.cpp, held to the built models by tests), how they grow with
// sequence length, and with --measure the same quantities measured.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "autograd/accounting.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/table.h"
#include "models/stats.h"

namespace attnlab {

namespace po = cli::po;

namespace {

std::vector<Family> chosen_families(const std::string& text) {
  if (text == "all") return {Family::BERT, Family::GPT, Family::T5, Family::Perceiver};
  std::vector<Family> out;
  for (const std::string& name : cli::parse_name_list(text)) {
    try {
      out.push_back(family_from_name(name));
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("--model: {} (or all)", e.what()));
    }
  }
  if (out.empty()) throw cli::UsageError("--model: name a family, a comma list, or all");
  return out;
}

std::string architecture_line(const ModelConfig& c) {
  std::string line =
      fmt::format("d_model {}, {} heads, d_ff {}, {} {}, vocab {}, {}-norm {}, {} positions",
                  c.d_model, c.n_heads, c.d_ff, c.n_layers,
                  c.family == Family::T5          ? "encoder layers"
                  : c.family == Family::Perceiver ? "latent layers"
                                                  : "layers",
                  c.vocab_size, enum_name(kNormPlacementNames, c.placement),
                  c.norm == NormKind::LayerNorm ? "LayerNorm" : "RMSNorm",
                  enum_name(kPositionNames, c.positions));
  if (c.family == Family::T5) line += fmt::format(", {} decoder layers", c.n_decoder_layers);
  if (c.family == Family::Perceiver) line += fmt::format(", {} latents", c.num_latents);
  return line;
}

std::string layout_table(const ModelConfig& c, int64_t seq, int64_t batch) {
  cli::Table t{
      {"block", "attention", "queries <- keys/values", "scores (B,H,Tq,Tk)", "mask", "then"}};
  for (const BlockLayout& block : model_layout(c, seq, batch)) {
    if (block.attention.empty()) t.rows.push_back({block.name, "-", "", "", "", block.rest});
    for (size_t i = 0; i < block.attention.size(); ++i) {
      const AttentionSite& a = block.attention[i];
      t.rows.push_back({i == 0 ? block.name : "", enum_name(kAttentionKindNames, a.kind),
                        a.queries + " <- " + a.keys, shape_str(a.scores), a.mask,
                        i + 1 == block.attention.size() ? block.rest : ""});
    }
  }
  return t.markdown();
}

std::string percent(double part, double whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100 * part / whole) : "-";
}

// The models side by side: one column per model.
std::string summary_table(const std::vector<ModelConfig>& configs, int64_t seq, int64_t batch) {
  cli::Table t{{"per token, T=" + std::to_string(seq) + ", B=" + std::to_string(batch)}};
  std::vector<ModelStats> stats;
  for (const ModelConfig& c : configs) {
    t.header.push_back(family_name(c.family));
    stats.push_back(model_stats(c, seq, batch));
  }
  auto row = [&](const std::string& name, auto cell) {
    std::vector<std::string> r{name};
    for (size_t i = 0; i < configs.size(); ++i) r.push_back(cell(stats[i], configs[i]));
    t.rows.push_back(r);
  };
  auto param_row = [&](const std::string& name, auto field) {
    row(name, [&](const ModelStats& s, const ModelConfig&) {
      return fmt::format("{} ({})", cli::with_commas(field(s.parameters)),
                         percent(double(field(s.parameters)), double(s.parameters.total())));
    });
  };
  row("parameters", [](const ModelStats& s, const ModelConfig&) {
    return cli::with_commas(s.parameters.total());
  });
  param_row("- embeddings", [](const ParameterBreakdown& p) { return p.embeddings; });
  param_row("- attention", [](const ParameterBreakdown& p) { return p.attention; });
  param_row("- FFN", [](const ParameterBreakdown& p) { return p.ffn; });
  param_row("- norms", [](const ParameterBreakdown& p) { return p.norms; });
  param_row("- heads", [](const ParameterBreakdown& p) { return p.heads; });
  row("forward FLOPs / token",
      [](const ModelStats& s, const ModelConfig&) { return cli::si_number(s.forward_flops()); });
  row("- in attention scores", [](const ModelStats& s, const ModelConfig&) {
    return percent(s.attention_flops, s.forward_flops());
  });
  row("training FLOPs / token",
      [](const ModelStats& s, const ModelConfig&) { return cli::si_number(s.training_flops()); });
  row("activations / token (training)", [](const ModelStats& s, const ModelConfig&) {
    return cli::binary_bytes(s.activation_bytes);
  });
  row("activations / batch", [&](const ModelStats& s, const ModelConfig&) {
    return cli::binary_bytes(s.activation_bytes * double(seq * batch));
  });
  row("KV cache / generated token", [](const ModelStats& s, const ModelConfig&) {
    return s.self_cache_bytes_per_token > 0 ? cli::binary_bytes(s.self_cache_bytes_per_token)
                                            : std::string("- (no generation)");
  });
  row("cross K/V, once / source token", [](const ModelStats& s, const ModelConfig&) {
    return s.cross_cache_bytes_per_source_token > 0
               ? cli::binary_bytes(s.cross_cache_bytes_per_source_token)
               : std::string("-");
  });
  return t.markdown();
}

struct Measured {
  double milliseconds = 0;  // forward + backward, median of the repeats
  int64_t graph_bytes = 0;  // the forward graph, counted
  int64_t peak_bytes = 0;   // live tensor memory above the model's own, at its peak
};

Measured measure(const ModelConfig& c, int64_t batch, int64_t seq, int repeats) {
  auto model = make_model(c);
  model->train(true);
  std::vector<double> times;
  Measured m;
  for (int r = 0; r <= repeats; ++r) {  // the first run warms up
    for (auto& [name, p] : model->named_parameters()) p.zero_grad();
    const int64_t before = TensorMemory::live();
    TensorMemory::reset_peak();
    const auto start = std::chrono::steady_clock::now();
    Tensor out = forward_for_stats(*model, batch, seq);
    m.graph_bytes = graph_bytes(out);
    mean(out).backward();
    const auto stop = std::chrono::steady_clock::now();
    m.peak_bytes = TensorMemory::peak() - before;
    if (r > 0) times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  m.milliseconds = times[times.size() / 2];
  return m;
}

std::string scaling_table(const std::vector<ModelConfig>& configs,
                          const std::vector<int64_t>& lengths, int64_t batch, bool measured,
                          int repeats) {
  cli::Table t{{"model", "T", "fwd FLOPs / sequence", "x prev", "in attention",
                "activations / batch", "x prev"}};
  if (measured)
    for (const char* h :
         {"measured fwd+bwd", "GFLOP/s", "counted activations", "peak tensor memory"})
      t.header.push_back(h);
  for (const ModelConfig& c : configs) {
    double prev_flops = 0, prev_bytes = 0;
    for (int64_t T : lengths) {
      ModelStats s = model_stats(c, T, batch);
      const double flops = s.forward_flops() * double(T);
      const double bytes = s.activation_bytes * double(T * batch);
      std::vector<std::string> row{family_name(c.family),
                                   std::to_string(T),
                                   cli::si_number(flops),
                                   prev_flops > 0 ? fmt::format("{:.2f}", flops / prev_flops) : "",
                                   percent(s.attention_flops, s.forward_flops()),
                                   cli::binary_bytes(bytes),
                                   prev_bytes > 0 ? fmt::format("{:.2f}", bytes / prev_bytes) : ""};
      if (measured) {
        Measured m = measure(c, batch, T, repeats);
        row.push_back(fmt::format("{:.1f} ms", m.milliseconds));
        // training FLOPs (3 x forward) of the whole batch over the measured time
        row.push_back(fmt::format("{:.1f}", 3 * flops * double(batch) / (m.milliseconds * 1e6)));
        row.push_back(cli::binary_bytes(double(m.graph_bytes)));
        row.push_back(cli::binary_bytes(double(m.peak_bytes)));
      }
      t.rows.push_back(row);
      prev_flops = flops;
      prev_bytes = bytes;
    }
  }
  return t.markdown();
}

}  // namespace

int describe_command(int argc, char** argv) {
  po::options_description options("describe options");
  options.add_options()  //
      ("model", po::value<std::string>()->default_value("all"),
       "bert, gpt, t5, perceiver, a comma list, or all (side by side)")  //
      ("seq", po::value<int64_t>()->default_value(128),
       "sequence length T for the tables (T5: source and target length)")  //
      ("batch", po::value<int64_t>()->default_value(8),
       "batch size B for mask shapes and memory")  //
      ("lengths", po::value<std::string>(),
       "comma list of sequence lengths: how FLOPs and memory grow, e.g. 64,128,256,512")          //
      ("measure", "with --lengths: also run forward+backward at each length and measure")         //
      ("repeats", po::value<int>()->default_value(3), "timed repeats per length with --measure")  //
      ("threads", po::value<int>()->default_value(0),
       "OpenMP threads for --measure (0 = all cores)");
  cli::add_model_options(options);
  po::variables_map vm;
  if (!cli::parse_options(
          "describe",
          "Describes model families before training: attention routing and "
          "masks, parameters, FLOPs, memory and KV cache per token.\n"
          "Example: attnlab describe --model all --seq 128 --lengths 64,128,256,512",
          argc, argv, options, vm))
    return cli::kExitOk;
  const int64_t seq = vm["seq"].as<int64_t>(), batch = vm["batch"].as<int64_t>();
  if (seq <= 0) throw cli::UsageError(fmt::format("--seq {}: must be positive", seq));
  if (batch <= 0) throw cli::UsageError(fmt::format("--batch {}: must be positive", batch));
  const int repeats = vm["repeats"].as<int>();
  if (repeats <= 0) throw cli::UsageError(fmt::format("--repeats {}: must be positive", repeats));
  std::vector<int64_t> lengths;
  if (vm.count("lengths"))
    lengths = cli::parse_int_list("--lengths", vm["lengths"].as<std::string>());
  if (vm.count("measure") && lengths.empty())
    throw cli::UsageError("--measure needs --lengths (the lengths to measure at)");
  cli::apply_threads(vm["threads"].as<int>());

  const int64_t longest =
      std::max(seq, lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end()));
  std::vector<ModelConfig> configs;
  for (Family f : chosen_families(vm["model"].as<std::string>())) {
    ModelConfig c = preset(f);
    try {
      for (const auto& [key, value] : cli::model_overrides(vm, f)) set_config_field(c, key, value);
      validate(c);
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("{} model: {}", family_name(f), e.what()));
    }
    if (longest > c.max_len) {
      if (vm.count("max-len"))
        throw cli::UsageError(fmt::format(
            "--max-len {} is shorter than the longest length asked for ({})", c.max_len, longest));
      fmt::print("note: {} max_len raised from {} to {} to cover T={}\n", family_name(f), c.max_len,
                 longest, longest);
      c.max_len = longest;
    }
    configs.push_back(c);
  }

  for (const ModelConfig& c : configs) {
    fmt::print("\n## {}: {}\n\n", family_name(c.family), architecture_line(c));
    fmt::print("{}", layout_table(c, seq, batch));
  }
  fmt::print("\n## {}\n\n", configs.size() > 1 ? "Side by side" : "Cost");
  fmt::print("{}", summary_table(configs, seq, batch));
  fmt::print(
      "\nFLOPs count matrix products (multiply-add = 2); training = 3 x forward. Activations are "
      "the tensors the forward graph keeps for backward, in {}, for full-length sequences.\n",
      dtype_name(configs.front().dtype));
  if (!lengths.empty()) {
    fmt::print("\n## Scaling with sequence length (B={})\n\n", batch);
    fmt::print("{}", scaling_table(configs, lengths, batch, vm.count("measure") > 0, repeats));
    if (vm.count("measure"))
      fmt::print(
          "\nMeasured: median of {} forward+backward passes with {} threads; counted activations "
          "walk the recorded graph (they equal the formula); peak tensor memory is the most "
          "tensor storage alive at once during the pass beyond the parameters (activations, "
          "gradients, temporaries).\n",
          repeats, thread_count());
  }
  return cli::kExitOk;
}

}  // namespace attnlab
