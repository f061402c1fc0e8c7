#include "framing/attention_statistics.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "data/tokenizer.h"
#include "data/utf8.h"

namespace attnlab {

namespace {

const std::vector<std::string>& axis_tokens(const Trace& trace, const std::string& axis) {
  for (const auto& [name, tokens] : trace.axes)
    if (name == axis) return tokens;
  throw std::logic_error("attention statistics: the trace has no axis '" + axis + "'");
}

std::vector<double> per_head(const MapStatistics& m, bool defined,
                             double (*value)(const HeadSums&)) {
  std::vector<double> out;
  for (const HeadSums& h : m.heads) out.push_back(defined ? value(h) : NAN);
  return out;
}

double mean(double sum, double count) {
  return count > 0 ? sum / count : NAN;
}

// The first characters of `text` up to `n` of them (whole code points), from `start`.
size_t piece_end(const std::string& text, size_t start, size_t n) {
  size_t end = start;
  for (size_t k = 0; k < n && end < text.size(); ++k) end += data::code_point_length(text, end);
  return end;
}

}  // namespace

bool is_special_token(const std::string& token) {
  for (const int32_t id : {data::kPadId, data::kBosId, data::kEosId, data::kSepId, data::kClsId})
    if (token == data::kSpecialTokens[size_t(id)]) return true;
  return false;
}

std::vector<double> MapStatistics::entropy() const {
  return per_head(*this, true, [](const HeadSums& h) { return mean(h.entropy, h.queries); });
}
std::vector<double> MapStatistics::distance() const {
  return per_head(*this, has_distance(),
                  [](const HeadSums& h) { return mean(h.distance, h.queries); });
}
std::vector<double> MapStatistics::special_share() const {
  return per_head(*this, true, [](const HeadSums& h) { return mean(h.special, h.queries); });
}
std::vector<double> MapStatistics::monotonicity() const {
  return per_head(*this, has_monotonicity(),
                  [](const HeadSums& h) { return mean(h.monotone, h.examples); });
}

void AttentionStatistics::add(const Trace& trace) {
  if (examples == 0 && maps.empty())
    for (const TraceMap& m : trace.maps)
      maps.push_back({m.name, m.kind, m.query_axis, m.key_axis,
                      std::vector<HeadSums>(size_t(m.weights.size(0)))});
  if (trace.maps.size() != maps.size())
    throw std::logic_error(
        fmt::format("attention statistics: a trace of {} maps after traces of {}",
                    trace.maps.size(), maps.size()));
  for (size_t i = 0; i < maps.size(); ++i) {
    const TraceMap& m = trace.maps[i];
    MapStatistics& s = maps[i];
    const std::vector<std::string>& keys = axis_tokens(trace, m.key_axis);
    const int64_t heads = m.weights.size(0), tq = m.weights.size(1), tk = m.weights.size(2);
    if (heads != int64_t(s.heads.size()) || m.name != s.name)
      throw std::logic_error(fmt::format("attention statistics: map {} changed shape", m.name));
    const std::vector<double> w = m.weights.to_vector();  // (H,Tq,Tk)
    for (int64_t h = 0; h < heads; ++h) {
      HeadSums& sums = s.heads[size_t(h)];
      int64_t steps_forward = 0, steps = 0, previous = -1;
      for (int64_t q = 0; q < tq; ++q) {
        const double* row = w.data() + (h * tq + q) * tk;
        double total = 0, entropy = 0, distance = 0, special = 0, best_p = -1;
        int64_t best = 0;
        for (int64_t k = 0; k < tk; ++k) {
          const double p = row[k];
          total += p;
          if (p > 0) entropy -= p * std::log(p);
          distance += p * double(std::llabs(q - k));
          if (k < int64_t(keys.size()) && is_special_token(keys[size_t(k)])) special += p;
          if (p > best_p) best_p = p, best = k;
        }
        if (total <= 0) continue;  // a query that sees no key
        sums.entropy += entropy;
        sums.distance += distance;
        sums.special += special;
        sums.queries += 1;
        if (previous >= 0) steps_forward += best >= previous, ++steps;
        previous = best;
      }
      sums.monotone += steps > 0 ? double(steps_forward) / double(steps) : 1.0;
      sums.examples += 1;
    }
  }
  ++examples;
}

AttentionStatistics attention_statistics(const Framing& framing,
                                         std::span<const data::Example> examples,
                                         size_t max_examples) {
  AttentionStatistics stats;
  const auto full = [&] { return max_examples > 0 && size_t(stats.examples) >= max_examples; };
  for (const data::Example& e : examples) {
    if (full()) break;
    if (!framing.streams_blocks()) {
      stats.add(framing.trace_reference(e));
      continue;
    }
    const size_t piece = size_t(framing.block_size());
    for (size_t start = 0; start < e.source.size() && !full();) {
      const size_t end = piece_end(e.source, start, piece);
      const std::string text = e.source.substr(start, end - start);
      start = end;
      if (text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
      stats.add(framing.trace(text));
    }
  }
  return stats;
}

}  // namespace attnlab
