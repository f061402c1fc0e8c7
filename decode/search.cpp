#include "decode/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include "common/hash.h"

namespace attnlab {

namespace {

void check_options(const GenerateOptions& o) {
  if (o.max_new < 1)
    throw std::invalid_argument(
        fmt::format("max new tokens must be at least 1, got {}", o.max_new));
  if (o.beam < 1)
    throw std::invalid_argument(fmt::format("--beam must be at least 1, got {}", o.beam));
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature))
    throw std::invalid_argument(
        fmt::format("--temperature must be 0 (greedy) or positive, got {}", o.temperature));
  if (o.top_k < 0)
    throw std::invalid_argument(fmt::format("--top-k must be >= 0, got {}", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1))
    throw std::invalid_argument(fmt::format("--top-p must be in (0, 1], got {}", o.top_p));
  if (o.beam > 1 && o.temperature > 0)
    throw std::invalid_argument(
        "beam search picks the most likely sequences; it does not sample: give --beam or "
        "--temperature, not both");
  if (!std::isfinite(o.length_penalty))
    throw std::invalid_argument("the length penalty must be a finite number");
}

// Uniform in [0, 1) from the raw 64-bit output (the same on every platform:
// std::mt19937_64 is fully specified, std::uniform_real_distribution is not).
double uniform(std::mt19937_64& rng) {
  return double(rng() >> 11) * (1.0 / 9007199254740992.0);
}

// Greedy (temperature 0) or a sample from the tempered, top-k and top-p
// filtered distribution.
int32_t choose(const std::vector<double>& logp, const GenerateOptions& o, std::mt19937_64& rng) {
  if (o.temperature == 0) return int32_t(std::max_element(logp.begin(), logp.end()) - logp.begin());
  std::vector<int32_t> order(logp.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logp[size_t(a)] > logp[size_t(b)]; });
  if (o.top_k > 0 && size_t(o.top_k) < order.size()) order.resize(size_t(o.top_k));
  std::vector<double> p;
  const double top = logp[size_t(order[0])] / o.temperature;
  double total = 0;
  for (int32_t t : order) {
    p.push_back(std::exp(logp[size_t(t)] / o.temperature - top));
    total += p.back();
  }
  // Nucleus: the most likely tokens until their mass reaches top_p.
  double mass = 0;
  size_t keep = 0;
  while (keep < p.size()) {
    mass += p[keep] / total;
    ++keep;
    if (mass >= o.top_p) break;
  }
  double kept_total = 0;
  for (size_t i = 0; i < keep; ++i) kept_total += p[i];
  double u = uniform(rng) * kept_total;
  for (size_t i = 0; i < keep; ++i) {
    u -= p[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

IntTensor padded_prompts(const std::vector<std::vector<int32_t>>& prompts, int64_t* cols) {
  *cols = 0;
  for (const auto& p : prompts) *cols = std::max(*cols, int64_t(p.size()));
  IntTensor ids{{int64_t(prompts.size()), *cols},
                std::vector<int32_t>(prompts.size() * size_t(*cols), 0)};
  for (size_t r = 0; r < prompts.size(); ++r)
    std::copy(prompts[r].begin(), prompts[r].end(), ids.data.begin() + int64_t(r) * *cols);
  return ids;
}

// The cache and the prefill both generation strategies start with: returns
// the prompts' logits (B,Tp,V); row r's next-token logits are at its last
// prompt position.
Tensor prefill(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
               const Tensor* memory, const Mask* memory_padding, int64_t max_new,
               DecodeCache* cache, int64_t* cols) {
  size_t longest = 0;
  for (const auto& p : prompts) {
    if (p.empty()) throw std::invalid_argument("generate: every prompt needs at least one token");
    longest = std::max(longest, p.size());
  }
  const int64_t max_len = model.config().max_len;
  if (int64_t(longest) > max_len)
    throw std::invalid_argument(fmt::format(
        "generate: a prompt of {} tokens does not fit the model's max_len {}", longest, max_len));
  const int64_t capacity = std::min<int64_t>(max_len, int64_t(longest) + max_new);
  *cache = model.start_decoding(int64_t(prompts.size()), capacity, memory, memory_padding);
  // A prefix LM reads each prompt both ways: the prompt is the prefix.
  if (model.config().prefix_lm)
    for (const auto& p : prompts) cache->prefix.push_back(int64_t(p.size()));
  IntTensor ids = padded_prompts(prompts, cols);
  return model.decode_cached(ids, std::vector<int64_t>(prompts.size(), 0), *cache);
}

// ---- greedy and sampling -------------------------------------------------------

std::vector<Generated> sample(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                              const Tensor* memory, const Mask* memory_padding,
                              const GenerateOptions& o, const OnToken& on_token) {
  const size_t rows = prompts.size();
  const int64_t max_len = model.config().max_len;
  DecodeCache cache;
  int64_t cols = 0;
  Tensor logits = prefill(model, prompts, memory, memory_padding, o.max_new, &cache, &cols);
  const int64_t v = logits.size(-1);
  std::vector<Generated> out(rows);
  std::vector<int64_t> length(rows), slot_row(rows), offset(rows);
  std::vector<std::mt19937_64> rng;
  for (size_t r = 0; r < rows; ++r) {
    length[r] = int64_t(prompts[r].size());
    slot_row[r] = int64_t(r);
    offset[r] = (int64_t(r) * cols + length[r] - 1) * v;
    rng.emplace_back(splitmix64_mix(o.seed * kSplitmix64Step + r + 1));
  }
  for (int64_t step = 0; step < o.max_new && !slot_row.empty(); ++step) {
    std::vector<int64_t> kept, positions;
    IntTensor next{{0, 1}, {}};
    for (size_t s = 0; s < slot_row.size(); ++s) {
      const size_t r = size_t(slot_row[s]);
      const std::vector<double> logp = log_softmax_row(logits, offset[s], v, o.never);
      const int32_t token = choose(logp, o, rng[r]);
      if (token == o.eos_id) {
        out[r].token_log_probs.push_back(logp[size_t(token)]);
        out[r].ended = true;
        continue;
      }
      if (length[r] >= max_len) continue;  // no room for the token: it is not output
      out[r].tokens.push_back(token);
      out[r].token_log_probs.push_back(logp[size_t(token)]);
      if (on_token) on_token(r, token);
      positions.push_back(length[r]++);
      next.data.push_back(token);
      kept.push_back(int64_t(s));
    }
    if (kept.empty() || step + 1 == o.max_new) break;
    if (kept.size() < slot_row.size()) {  // finished rows leave the cache
      cache.keep_rows(kept);
      std::vector<int64_t> rows_left;
      for (int64_t s : kept) rows_left.push_back(slot_row[size_t(s)]);
      slot_row = std::move(rows_left);
    }
    next.shape = {int64_t(slot_row.size()), 1};
    logits = model.decode_cached(next, positions, cache);  // (A,1,V)
    for (size_t s = 0; s < slot_row.size(); ++s) offset[s] = int64_t(s) * v;
  }
  for (Generated& g : out) {
    for (double lp : g.token_log_probs) g.score += lp;
  }
  return out;
}

// ---- beam search -------------------------------------------------------------

struct Hypothesis {
  std::vector<int32_t> tokens;
  std::vector<double> log_probs;
  double sum = 0;  // log P of the tokens so far
};

Generated finish(const Hypothesis& h, bool ended, double alpha) {
  Generated g{h.tokens, h.log_probs, ended, 0};
  g.score = h.sum / length_penalty(int64_t(h.log_probs.size()), alpha);
  return g;
}

// A live beam: one cache slot.
struct Beam {
  size_t row;
  Hypothesis hyp;
  int64_t offset;  // its next-token logits in the step's logits
};

// One continuation of one beam.
struct Candidate {
  double sum;  // log P of the beam with this token
  size_t beam;
  int32_t token;
  double log_prob;
};

// The beams of the next step, with what the cache and the model need to run them.
struct NextStep {
  std::vector<Beam> live;
  std::vector<int64_t> parents, positions;
  IntTensor tokens{{0, 1}, {}};
  void pop() {
    live.pop_back();
    parents.pop_back();
    positions.pop_back();
    tokens.data.pop_back();
  }
};

// Every continuation of the beams live[begin, end) (one row's), ordered so
// that the first `wanted` are the best, ties broken by beam then token.
std::vector<Candidate> ranked_continuations(const Tensor& logits, const std::vector<Beam>& live,
                                            size_t begin, size_t end, int64_t v, size_t* wanted,
                                            const GenerateOptions& o) {
  const int64_t k = o.beam;
  std::vector<Candidate> candidates;
  for (size_t b = begin; b < end; ++b) {
    const std::vector<double> logp = log_softmax_row(logits, live[b].offset, v, o.never);
    for (int64_t t = 0; t < v; ++t)
      if (std::isfinite(logp[size_t(t)]))  // a masked token is no candidate
        candidates.push_back({live[b].hyp.sum + logp[size_t(t)], b, int32_t(t), logp[size_t(t)]});
  }
  *wanted = std::min(candidates.size(), size_t(2 * k));
  std::partial_sort(
      candidates.begin(), candidates.begin() + int64_t(*wanted), candidates.end(),
      [](const Candidate& a, const Candidate& b) {
        return a.sum > b.sum ||
               (a.sum == b.sum && (a.beam < b.beam || (a.beam == b.beam && a.token < b.token)));
      });
  return candidates;
}

// A row with no room for another token. As in greedy decoding, a beam whose
// likeliest next token is the end takes it (it needs no room); the others
// stop as they are.
void end_at_max_len(const Tensor& logits, const std::vector<Beam>& live, size_t begin, size_t end,
                    int64_t v, const GenerateOptions& o, std::vector<Generated>& finished) {
  for (size_t b = begin; b < end; ++b) {
    const std::vector<double> logp = log_softmax_row(logits, live[b].offset, v, o.never);
    const bool ends = o.eos_id >= 0 && o.eos_id < v &&
                      std::max_element(logp.begin(), logp.end()) - logp.begin() == o.eos_id;
    Hypothesis h = live[b].hyp;
    if (ends) {
      h.log_probs.push_back(logp[size_t(o.eos_id)]);
      h.sum += logp[size_t(o.eos_id)];
    }
    finished.push_back(finish(h, ends, o.length_penalty));
  }
}

// Keeps the k best endings of `row` and says whether the row is done: when
// they are all in and no live beam can still beat the worst of them. A live
// beam's log P only falls as it grows, and with alpha >= 0 its score is at
// most log P divided by the penalty of the longest length it could reach (an
// exact bound; with alpha < 0, at most log P over today's penalty). The
// row's new beams are the last ones of `next`.
bool row_is_settled(std::vector<Generated>& ended, const NextStep& next, size_t row, int64_t k,
                    int64_t longest, double alpha) {
  std::sort(ended.begin(), ended.end(),
            [](const Generated& a, const Generated& b) { return a.score > b.score; });
  if (int64_t(ended.size()) > k) ended.resize(size_t(k));
  double best_live = -std::numeric_limits<double>::infinity();
  for (size_t b = next.live.size(); b-- > 0 && next.live[b].row == row;) {
    const Hypothesis& h = next.live[b].hyp;
    const double penalty =
        length_penalty(alpha >= 0 ? longest : int64_t(h.log_probs.size()), alpha);
    best_live = std::max(best_live, h.sum / penalty);
  }
  return int64_t(ended.size()) >= k && best_live <= ended.back().score;
}

std::vector<Generated> beam_search(const Model& model,
                                   const std::vector<std::vector<int32_t>>& prompts,
                                   const Tensor* memory, const Mask* memory_padding,
                                   const GenerateOptions& o) {
  const size_t rows = prompts.size();
  const int64_t k = o.beam, max_len = model.config().max_len;
  DecodeCache cache;
  int64_t cols = 0;
  Tensor logits = prefill(model, prompts, memory, memory_padding, o.max_new, &cache, &cols);
  const int64_t v = logits.size(-1);

  // At first, one live beam per row (its prompt).
  std::vector<Beam> live;
  for (size_t r = 0; r < rows; ++r)
    live.push_back({r, {}, (int64_t(r) * cols + int64_t(prompts[r].size()) - 1) * v});
  std::vector<std::vector<Generated>> finished(rows);
  std::vector<bool> done(rows, false);

  for (int64_t step = 0; step < o.max_new && !live.empty(); ++step) {
    const bool last_step = step + 1 == o.max_new;
    NextStep next;
    for (size_t begin = 0, end = 0; begin < live.size(); begin = end) {
      const size_t row = live[begin].row;  // the beams of one row are contiguous
      for (end = begin; end < live.size() && live[end].row == row;) ++end;
      const int64_t length = int64_t(prompts[row].size()) + int64_t(live[begin].hyp.tokens.size());
      if (length >= max_len) {
        end_at_max_len(logits, live, begin, end, v, o, finished[row]);
        done[row] = true;
        continue;
      }
      size_t wanted = 0;
      const std::vector<Candidate> candidates =
          ranked_continuations(logits, live, begin, end, v, &wanted, o);
      int64_t grown = 0;
      for (size_t c = 0; c < wanted && grown < k; ++c) {
        const Candidate& cand = candidates[c];
        Hypothesis h = live[cand.beam].hyp;
        h.log_probs.push_back(cand.log_prob);
        h.sum = cand.sum;
        if (cand.token == o.eos_id) {
          // An ending counts only if it ranks among the k best continuations.
          if (int64_t(c) < k) finished[row].push_back(finish(h, true, o.length_penalty));
          continue;
        }
        h.tokens.push_back(cand.token);
        ++grown;
        if (last_step) {  // max_new reached: it ends here, unended
          finished[row].push_back(finish(h, false, o.length_penalty));
          continue;
        }
        next.parents.push_back(int64_t(cand.beam));
        next.positions.push_back(length);
        next.tokens.data.push_back(cand.token);
        next.live.push_back({row, std::move(h), 0});
      }
      const int64_t longest = std::min<int64_t>(max_len - int64_t(prompts[row].size()), o.max_new);
      if (row_is_settled(finished[row], next, row, k, longest, o.length_penalty)) {
        while (!next.live.empty() && next.live.back().row == row) next.pop();
        done[row] = true;
      }
    }
    live = std::move(next.live);
    if (live.empty()) break;
    cache.keep_rows(next.parents);  // each new beam continues its parent's cache
    next.tokens.shape = {int64_t(live.size()), 1};
    logits = model.decode_cached(next.tokens, next.positions, cache);  // (beams,1,V)
    for (size_t s = 0; s < live.size(); ++s) live[s].offset = int64_t(s) * v;
  }
  // Rows stopped by max_new with live beams: those compete unended.
  for (const Beam& b : live)
    if (!done[b.row]) finished[b.row].push_back(finish(b.hyp, false, o.length_penalty));
  std::vector<Generated> out(rows);
  for (size_t r = 0; r < rows; ++r) {
    if (finished[r].empty()) continue;
    out[r] =
        *std::max_element(finished[r].begin(), finished[r].end(),
                          [](const Generated& a, const Generated& b) { return a.score < b.score; });
  }
  return out;
}

}  // namespace

std::vector<double> log_softmax_row(const Tensor& logits, int64_t offset, int64_t v,
                                    std::span<const int32_t> never) {
  std::vector<double> out(static_cast<size_t>(v));
  dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* row = logits.data<T>() + offset;
    for (int64_t k = 0; k < v; ++k) out[size_t(k)] = double(row[k]);
  });
  const double top = *std::max_element(out.begin(), out.end());
  double total = 0;
  for (double x : out) total += std::exp(x - top);
  const double lse = top + std::log(total);
  for (double& x : out) x -= lse;
  // Masked after normalising: the other tokens keep the model's probabilities.
  for (int32_t t : never)
    if (t >= 0 && t < v) out[size_t(t)] = -std::numeric_limits<double>::infinity();
  return out;
}

double length_penalty(int64_t length, double alpha) {
  return std::pow((5.0 + double(length)) / 6.0, alpha);
}

std::vector<Generated> generate(const Model& model,
                                const std::vector<std::vector<int32_t>>& prompts,
                                const Tensor* memory, const Mask* memory_padding,
                                const GenerateOptions& options, const OnToken& on_token) {
  check_options(options);
  if (prompts.empty()) return {};
  NoGradGuard no_grad;
  if (options.beam > 1) {
    std::vector<Generated> out = beam_search(model, prompts, memory, memory_padding, options);
    if (on_token)
      for (size_t r = 0; r < out.size(); ++r)
        for (int32_t t : out[r].tokens) on_token(r, t);
    return out;
  }
  return sample(model, prompts, memory, memory_padding, options, on_token);
}

}  // namespace attnlab
