#include "optim/optim.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <stdexcept>

#include "autograd/parallel.h"

namespace attnlab {

bool decays(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("bias")) return false;  // "…/bias", "mlm_bias"
  for (const char* no_decay :
       {"norm", "embedding", "position", "shared/", "relative_bias", "latent_queries"})
    if (name.find(no_decay) != std::string::npos) return false;
  return true;
}

Optimizer::Optimizer(NamedTensors params, OptimizerConfig config)
    : params_(std::move(params)), config_(config) {
  for (auto& [name, p] : params_) {
    if (p.dtype() != DType::F32 && p.dtype() != DType::F64)
      throw std::invalid_argument(
          fmt::format("optimizer: parameter '{}' has an unsupported dtype", name));
    slot1_.push_back(Tensor::zeros(p.shape(), p.dtype()));
    slot2_.push_back(config.kind == OptimizerKind::SGD ? Tensor()
                                                       : Tensor::zeros(p.shape(), p.dtype()));
    decay_.push_back(decays(name));
  }
}

void Optimizer::zero_grad() {
  for (auto& [_, p] : params_) p.zero_grad();
}

void Optimizer::step(double lr) {
  ++steps_;
  const OptimizerConfig& c = config_;
  const double bias1 = 1 - std::pow(c.beta1, double(steps_));
  const double bias2 = 1 - std::pow(c.beta2, double(steps_));
  const bool first = steps_ == 1;
  // Elements [lo, hi) of parameter i. One loop per kind, with nothing but
  // arithmetic inside, so that each vectorises (a switch per element kept
  // the AdamW loop scalar).
  const auto update = [&](size_t i, int64_t lo, int64_t hi) {
    Tensor& p = params_[i].second;
    const Tensor& g = p.grad();
    const double wd = decay_[i] ? c.weight_decay : 0.0;
    dispatch(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* w = p.data<T>();
      const T* gr = g.defined() ? g.data<T>() : nullptr;
      T* s1 = slot1_[i].data<T>();
      T* s2 = slot2_[i].defined() ? slot2_[i].data<T>() : nullptr;
      if (c.kind == OptimizerKind::SGD) {
        for (int64_t k = lo; k < hi; ++k) {  // buf = momentum*buf + g (buf = g at first)
          const double grad = (gr ? double(gr[k]) : 0.0) + wd * w[k];
          const double buf = first ? grad : c.momentum * s1[k] + grad;
          s1[k] = T(buf);
          w[k] = T(w[k] - lr * buf);
        }
        return;
      }
      const double beta1 = c.beta1, beta2 = c.beta2, eps = c.eps, decay = 1 - lr * wd;
      if (c.kind == OptimizerKind::AdamW) {  // decay the weight itself
#pragma omp simd
        for (int64_t k = lo; k < hi; ++k) {
          const double grad = gr ? double(gr[k]) : 0.0;
          const T decayed = T(w[k] * decay);
          const double m = beta1 * s1[k] + (1 - beta1) * grad;
          const double v = beta2 * s2[k] + (1 - beta2) * grad * grad;
          s1[k] = T(m);
          s2[k] = T(v);
          w[k] = T(decayed - lr * (m / bias1) / (std::sqrt(v / bias2) + eps));
        }
      } else {  // Adam: L2 through the gradient
#pragma omp simd
        for (int64_t k = lo; k < hi; ++k) {
          const double grad = (gr ? double(gr[k]) : 0.0) + wd * w[k];
          const double m = beta1 * s1[k] + (1 - beta1) * grad;
          const double v = beta2 * s2[k] + (1 - beta2) * grad * grad;
          s1[k] = T(m);
          s2[k] = T(v);
          w[k] = T(w[k] - lr * (m / bias1) / (std::sqrt(v / bias2) + eps));
        }
      }
    });
  };
  // Every parameter's elements in chunks, all in one parallel region: a
  // region per parameter (a model has dozens, most of them small) made the
  // second thread wait at a barrier per parameter. Each element's update is
  // the same arithmetic in any chunk, so results do not depend on the
  // chunking or the thread count.
  struct Chunk {
    size_t param;
    int64_t lo, hi;
  };
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t n = params_[i].second.numel();
    for (int64_t lo = 0; lo < n; lo += kElementwiseGrain)
      chunks.push_back({i, lo, std::min(n, lo + kElementwiseGrain)});
  }
  parallel_for(int64_t(chunks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j)
      update(chunks[size_t(j)].param, chunks[size_t(j)].lo, chunks[size_t(j)].hi);
  });
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  const char* first = config_.kind == OptimizerKind::SGD ? "momentum" : "exp_avg";
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back(std::string(first) + "/" + params_[i].first, slot1_[i]);
    if (slot2_[i].defined()) out.emplace_back("exp_avg_sq/" + params_[i].first, slot2_[i]);
  }
  return out;
}

void Optimizer::load_state(const NamedTensors& state, int64_t steps) {
  NamedTensors mine = this->state();
  if (state.size() != mine.size())
    throw std::runtime_error(
        fmt::format("optimizer state has {} tensors, this {} optimizer needs {}", state.size(),
                    optimizer_name(config_.kind), mine.size()));
  for (size_t i = 0; i < mine.size(); ++i) {
    const auto& [name, t] = state[i];
    if (name != mine[i].first || t.shape() != mine[i].second.shape())
      throw std::runtime_error(fmt::format("optimizer state entry {} is '{}' {}, expected '{}' {}",
                                           i, name, shape_str(t.shape()), mine[i].first,
                                           shape_str(mine[i].second.shape())));
    Tensor converted = t.to(mine[i].second.dtype());
    std::memcpy(mine[i].second.raw_data(), converted.raw_data(),
                t.numel() * dtype_size(converted.dtype()));
  }
  steps_ = steps;
}

double schedule_lr(ScheduleKind kind, double peak, int64_t step, int64_t warmup, int64_t total,
                   double min_ratio) {
  if (warmup > 0 && step <= warmup) return peak * double(step) / double(warmup);
  switch (kind) {
    case ScheduleKind::Constant:
      return peak;
    case ScheduleKind::WarmupCosine: {
      const double span = double(std::max<int64_t>(total - warmup, 1));
      const double progress = std::min(1.0, double(step - warmup) / span);
      const double floor = min_ratio * peak;
      return floor + (peak - floor) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
    }
    case ScheduleKind::InverseSqrt:
      return peak * std::sqrt(double(std::max<int64_t>(warmup, 1)) / double(step));
  }
  return peak;
}

double clip_grad_norm(const NamedTensors& params, double max_norm) {
  double total = 0;  // in parameter order: deterministic
  for (const auto& [_, p] : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* d = g.data<T>();
      for (int64_t k = 0; k < g.numel(); ++k) total += double(d[k]) * double(d[k]);
    });
  }
  const double norm = std::sqrt(total);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& [_, p] : params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* d = g.data<T>();
        for (int64_t k = 0; k < g.numel(); ++k) d[k] = T(d[k] * scale);
      });
    }
  }
  return norm;
}

}  // namespace attnlab
