#include "study/describe.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "autograd/accounting.h"
#include "autograd/ops.h"
#include "models/stats.h"
#include "report/table.h"
#include "train/memory_limit.h"

namespace attnlab::study {

namespace {

std::string percent(double part, double whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100 * part / whole) : "-";
}

}  // namespace

std::string layout_table(const ModelConfig& c, int64_t seq, int64_t batch) {
  report::Table t{
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

std::string cost_table(const std::vector<ModelConfig>& configs, int64_t seq, int64_t batch) {
  report::Table t{{"per token, T=" + std::to_string(seq) + ", B=" + std::to_string(batch)}};
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
      return fmt::format("{} ({})", report::with_commas(field(s.parameters)),
                         percent(double(field(s.parameters)), double(s.parameters.total())));
    });
  };
  row("parameters", [](const ModelStats& s, const ModelConfig&) {
    return report::with_commas(s.parameters.total());
  });
  param_row("- embeddings", [](const ParameterBreakdown& p) { return p.embeddings; });
  param_row("- attention", [](const ParameterBreakdown& p) { return p.attention; });
  param_row("- FFN", [](const ParameterBreakdown& p) { return p.ffn; });
  param_row("- norms", [](const ParameterBreakdown& p) { return p.norms; });
  param_row("- heads", [](const ParameterBreakdown& p) { return p.heads; });
  row("forward FLOPs / token",
      [](const ModelStats& s, const ModelConfig&) { return report::si_number(s.forward_flops()); });
  row("- in attention scores", [](const ModelStats& s, const ModelConfig&) {
    return percent(s.attention_flops, s.forward_flops());
  });
  row("training FLOPs / token", [](const ModelStats& s, const ModelConfig&) {
    return report::si_number(s.training_flops());
  });
  row("activations / token (training)",
      [](const ModelStats& s, const ModelConfig&) { return memory_size(s.activation_bytes); });
  row("activations / batch", [&](const ModelStats& s, const ModelConfig&) {
    return memory_size(s.activation_bytes * double(seq * batch));
  });
  row("KV cache / generated token", [](const ModelStats& s, const ModelConfig&) {
    return s.self_cache_bytes_per_token > 0 ? memory_size(s.self_cache_bytes_per_token)
                                            : std::string("- (no generation)");
  });
  row("cross K/V, once / source token", [](const ModelStats& s, const ModelConfig&) {
    return s.cross_cache_bytes_per_source_token > 0
               ? memory_size(s.cross_cache_bytes_per_source_token)
               : std::string("-");
  });
  return t.markdown();
}

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
  report::Table t{{"model", "T", "fwd FLOPs / sequence", "x prev", "in attention",
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
                                   report::si_number(flops),
                                   prev_flops > 0 ? fmt::format("{:.2f}", flops / prev_flops) : "",
                                   percent(s.attention_flops, s.forward_flops()),
                                   memory_size(bytes),
                                   prev_bytes > 0 ? fmt::format("{:.2f}", bytes / prev_bytes) : ""};
      if (measured) {
        Measured m = measure(c, batch, T, repeats);
        row.push_back(fmt::format("{:.1f} ms", m.milliseconds));
        // training FLOPs (3 x forward) of the whole batch over the measured time
        row.push_back(fmt::format("{:.1f}", 3 * flops * double(batch) / (m.milliseconds * 1e6)));
        row.push_back(memory_size(double(m.graph_bytes)));
        row.push_back(memory_size(double(m.peak_bytes)));
      }
      t.rows.push_back(row);
      prev_flops = flops;
      prev_bytes = bytes;
    }
  }
  return t.markdown();
}

}  // namespace attnlab::study
