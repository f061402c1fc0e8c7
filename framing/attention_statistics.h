// Where each head looks, on average over a data set: per head of every
// attention, the entropy of its weights, how far it reaches, how much of its
// weight lands on special tokens, and for cross-attention how monotone its
// alignment is. trace --valid writes them to HDF5, train --trace-every logs
// them as training goes, compare's report sets them side by side.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framing/framing.h"

namespace attnlab {

// One head's sums over the queries (and, for monotonicity, the examples) seen.
struct HeadSums {
  double entropy = 0;   // -sum p ln p of each query row (nats)
  double distance = 0;  // sum p |query - key| of each query row (positions)
  double special = 0;   // the weight each query row puts on special tokens
  double queries = 0;   // query rows with any weight
  double monotone = 0;  // per example: share of query steps whose strongest key does not move back
  double examples = 0;
};

struct MapStatistics {
  std::string name, kind, query_axis, key_axis;  // as the trace names them
  std::vector<HeadSums> heads;
  // A distance means something when queries and keys are one sequence of
  // ordered positions (the Perceiver's latent slots have no order).
  bool has_distance() const { return query_axis == key_axis && query_axis != "latents"; }
  // Monotonicity, when a decoder reads its source in order.
  bool has_monotonicity() const { return kind == "cross"; }
  // Per head, the means over what was seen (NaN where the map has none).
  std::vector<double> entropy() const;
  std::vector<double> distance() const;
  std::vector<double> special_share() const;
  std::vector<double> monotonicity() const;
};

struct AttentionStatistics {
  int64_t examples = 0;
  std::vector<MapStatistics> maps;  // in the trace's order
  // Adds one trace's maps (the first trace sets which maps there are).
  void add(const Trace& trace);
};

// The special tokens a share counts: <pad>, <bos>, <eos>, <sep>, <cls>.
bool is_special_token(const std::string& token);

// The statistics of the first `max_examples` (0: all) examples, each drawn
// on its reference pair (Framing::trace_reference). A language model's
// texts are cut into pieces of block_size() characters first, and
// `max_examples` counts pieces.
AttentionStatistics attention_statistics(const Framing& framing,
                                         std::span<const data::Example> examples,
                                         size_t max_examples);

}  // namespace attnlab
