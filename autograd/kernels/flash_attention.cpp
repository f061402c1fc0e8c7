#include "autograd/kernels/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/kernels/dropout.h"
#include "autograd/kernels/gemm.h"
#include "autograd/kernels/vector_math.h"
#include "autograd/parallel.h"
#include "autograd/random.h"

namespace attnlab {
namespace {

// Row i of head h of batch entry b in layout `l`.
template <typename T>
T* head_row(T* base, const HeadLayout& l, int64_t b, int64_t h, int64_t i) {
  return base + b * l.batch + h * l.head + i * l.row;
}

// The last key row `i` of batch entry `b` sees, plus one (0: none before
// padding is taken into account).
int64_t key_end(const KeyVisibility& visible, const FlashDims& dims, int64_t b, int64_t i) {
  if (!visible.causal) return dims.tk;
  int64_t end = i + dims.tk - dims.tq + 1;
  if (visible.prefix && i < visible.prefix[b]) end = std::max(end, visible.prefix[b]);
  return std::min(end, dims.tk);
}

// A task's block of query rows [i0, i0 + rows) and the keys it may see.
struct QueryBlock {
  int64_t b, h, i0, rows, key_end;
};
QueryBlock query_block(const KeyVisibility& visible, const FlashDims& dims, int64_t b, int64_t h,
                       int64_t i0) {
  const int64_t rows = std::min(kFlashQueryTile, dims.tq - i0);
  int64_t end = 0;
  for (int64_t r = 0; r < rows; ++r) end = std::max(end, key_end(visible, dims, b, i0 + r));
  return {b, h, i0, rows, end};
}

// Grow-only per-thread scratch, so the tasks of a step do not allocate.
template <typename T>
T* scratch(int slot, size_t count) {
  thread_local std::vector<T> buffers[6];
  std::vector<T>& buffer = buffers[slot];
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// s (rows, cols) at ld kFlashKeyTile = scale * q_block k_tile^T + bias, with
// unseen keys at -inf: the scores of one tile.
template <typename T>
void tile_scores(T* s, const QueryBlock& blk, int64_t j0, int64_t cols, const T* q, const T* k,
                 const T* bias, const KeyVisibility& visible, const FlashDims& dims, T scale) {
  gemm<T>(false, true, blk.rows, cols, dims.d, scale, head_row(q, dims.q, blk.b, blk.h, blk.i0),
          dims.q.row, head_row(k, dims.k, blk.b, blk.h, j0), dims.k.row, T(0), s, kFlashKeyTile);
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const uint8_t* padded =
      visible.key_padding ? visible.key_padding + blk.b * dims.tk + j0 : nullptr;
  for (int64_t r = 0; r < blk.rows; ++r) {
    T* row = s + r * kFlashKeyTile;
    if (bias) {
      const T* bias_row =
          bias + ((dims.bias_batched ? blk.b * dims.heads : 0) + blk.h) * dims.tq * dims.tk +
          (blk.i0 + r) * dims.tk + j0;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) row[c] += bias_row[c];
    }
    const int64_t seen =
        std::clamp<int64_t>(key_end(visible, dims, blk.b, blk.i0 + r) - j0, 0, cols);
    for (int64_t c = seen; c < cols; ++c) row[c] = neg_inf;
    if (padded)
      for (int64_t c = 0; c < seen; ++c)
        if (padded[c]) row[c] = neg_inf;
  }
}

// The dropout factors of a tile (rows, cols) at ld kFlashKeyTile: 0 or
// 1/(1-p), as the dropout op draws them (kernels/dropout.h).
template <typename T>
void dropout_factors(T* factors, const QueryBlock& blk, int64_t j0, int64_t cols,
                     const WeightDropout& drop, const FlashDims& dims) {
  const uint64_t threshold = dropout_threshold(drop.p), seed = drop.seed;
  const T keep = T(1.0 / (1.0 - drop.p));
  for (int64_t r = 0; r < blk.rows; ++r) {
    const uint64_t first =
        drop.offset +
        uint64_t(((blk.b * dims.heads + blk.h) * dims.tq + blk.i0 + r) * dims.tk + j0);
    T* f = factors + r * kFlashKeyTile;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c)
      f[c] = dropout_drops(seed, first + uint64_t(c), threshold) ? T(0) : keep;
  }
}

// x (rows, cols) *= factors, both at ld kFlashKeyTile; into `out` (may be x).
template <typename T>
void scale_tile(T* out, const T* x, const T* factors, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = x + r * kFlashKeyTile;
    const T* f = factors + r * kFlashKeyTile;
    T* o = out + r * kFlashKeyTile;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) o[c] = in[c] * f[c];
  }
}

template <typename T>
void forward_block(T* out, T* lse, const T* q, const T* k, const T* v, const T* bias,
                   const KeyVisibility& visible, const WeightDropout& drop, const FlashDims& dims,
                   T scale, const QueryBlock& blk) {
  const int64_t d = dims.d;
  T* s = scratch<T>(0, size_t(kFlashQueryTile * kFlashKeyTile));  // (rows, key tile) scores
  T* acc = scratch<T>(1, size_t(kFlashQueryTile * d));            // (rows, D) unnormalised out
  T* run = scratch<T>(2, size_t(2 * kFlashQueryTile));            // running max, running sum
  T* top = run;
  T* total = run + kFlashQueryTile;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  std::fill(acc, acc + blk.rows * d, T(0));
  std::fill(top, top + blk.rows, neg_inf);
  std::fill(total, total + blk.rows, T(0));
  for (int64_t j0 = 0; j0 < blk.key_end; j0 += kFlashKeyTile) {
    const int64_t cols = std::min(kFlashKeyTile, blk.key_end - j0);
    tile_scores(s, blk, j0, cols, q, k, bias, visible, dims, scale);
    for (int64_t r = 0; r < blk.rows; ++r) {
      T* row = s + r * kFlashKeyTile;
      // NaN-sticky maxima: a NaN score makes the row NaN, as softmax would.
      T tile_top = neg_inf;
      for (int64_t c = 0; c < cols; ++c)
        tile_top = row[c] > tile_top || row[c] != row[c] ? row[c] : tile_top;
      const T new_top = tile_top > top[r] || tile_top != tile_top ? tile_top : top[r];
      if (new_top == neg_inf) {  // nothing seen yet: the row adds nothing
        std::fill(row, row + cols, T(0));
        continue;
      }
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < cols; ++c) {
        row[c] = fast_exp(row[c] - new_top);
        sum += row[c];
      }
      if (top[r] != new_top) {  // rescale what earlier tiles added to the new maximum
        const T shrink = fast_exp(top[r] - new_top);
        total[r] *= shrink;
        T* a = acc + r * d;
#pragma omp simd
        for (int64_t c = 0; c < d; ++c) a[c] *= shrink;
      }
      total[r] += sum;
      top[r] = new_top;
    }
    // The sums above are of the weights before dropout, which scales the
    // normalised weights.
    if (drop.p > 0) {
      T* factors = scratch<T>(3, size_t(kFlashQueryTile * kFlashKeyTile));
      dropout_factors(factors, blk, j0, cols, drop, dims);
      scale_tile(s, s, factors, blk.rows, cols);
    }
    // acc (rows, D) += p (rows, cols) v_tile (cols, D)
    gemm<T>(false, false, blk.rows, d, cols, T(1), s, kFlashKeyTile,
            head_row(v, dims.v, blk.b, blk.h, j0), dims.v.row, T(1), acc, d);
  }
  T* lse_rows = lse + (blk.b * dims.heads + blk.h) * dims.tq + blk.i0;
  for (int64_t r = 0; r < blk.rows; ++r) {
    T* o = head_row(out, dims.out, blk.b, blk.h, blk.i0 + r);
    const T* a = acc + r * d;
    if (total[r] != 0) {  // a NaN total stays NaN
      const T inv = T(1) / total[r];
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) o[c] = a[c] * inv;
      lse_rows[r] = top[r] + std::log(total[r]);
    } else {
      std::fill(o, o + d, T(0));
      lse_rows[r] = neg_inf;
    }
  }
}

// Sets rows [0, t) of one head of `x` (layout l) to zero.
template <typename T>
void zero_head(T* x, const HeadLayout& l, int64_t b, int64_t h, int64_t t, int64_t d) {
  for (int64_t i = 0; i < t; ++i) {
    T* row = head_row(x, l, b, h, i);
    std::fill(row, row + d, T(0));
  }
}

// One head of one batch entry: every query block against its keys, adding
// into dk, dv (zeroed here) and dbias (zeroed by the caller when shared).
template <typename T>
void backward_head(T* dq, T* dk, T* dv, T* dbias, const T* dout, const T* out, const T* lse,
                   const T* q, const T* k, const T* v, const T* bias, const KeyVisibility& visible,
                   const WeightDropout& drop, const FlashDims& dims, T scale, int64_t b,
                   int64_t h) {
  const int64_t d = dims.d, tile = kFlashQueryTile * kFlashKeyTile;
  if (dk) zero_head(dk, dims.k, b, h, dims.tk, d);
  if (dv) zero_head(dv, dims.v, b, h, dims.tk, d);
  T* p = scratch<T>(0, size_t(tile));                      // (rows, key tile) weights
  T* ds = scratch<T>(1, size_t(tile));                     // (rows, key tile) score gradients
  T* dq_acc = scratch<T>(2, size_t(kFlashQueryTile * d));  // (rows, D)
  T* delta = scratch<T>(3, size_t(kFlashQueryTile));       // <dout_i, out_i> per row
  T* z = drop.p > 0 ? scratch<T>(4, size_t(tile)) : p;     // the weights after dropout
  T* factors = drop.p > 0 ? scratch<T>(5, size_t(tile)) : nullptr;  // 0 or 1/(1-p)
  const T* lse_head = lse + (b * dims.heads + h) * dims.tq;
  for (int64_t i0 = 0; i0 < dims.tq; i0 += kFlashQueryTile) {
    const QueryBlock blk = query_block(visible, dims, b, h, i0);
    const T* dout_block = head_row(dout, dims.out, b, h, i0);
    for (int64_t r = 0; r < blk.rows; ++r) {
      const T* o = head_row(out, dims.out, b, h, i0 + r);
      const T* g = head_row(dout, dims.out, b, h, i0 + r);
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < d; ++c) dot += o[c] * g[c];
      delta[r] = dot;
    }
    if (dq) std::fill(dq_acc, dq_acc + blk.rows * d, T(0));
    for (int64_t j0 = 0; j0 < blk.key_end; j0 += kFlashKeyTile) {
      const int64_t cols = std::min(kFlashKeyTile, blk.key_end - j0);
      tile_scores(p, blk, j0, cols, q, k, bias, visible, dims, scale);
      for (int64_t r = 0; r < blk.rows; ++r) {
        T* row = p + r * kFlashKeyTile;
        const T row_lse = lse_head[i0 + r];
        if (row_lse == -std::numeric_limits<T>::infinity()) {
          std::fill(row, row + cols, T(0));
          continue;
        }
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) row[c] = fast_exp(row[c] - row_lse);
      }
      if (drop.p > 0) {
        dropout_factors(factors, blk, j0, cols, drop, dims);
        scale_tile(z, p, factors, blk.rows, cols);
      }
      if (dv)  // dv_tile (cols, D) += z^T (cols, rows) dout_block (rows, D)
        gemm<T>(true, false, cols, d, blk.rows, T(1), z, kFlashKeyTile, dout_block, dims.out.row,
                T(1), head_row(dv, dims.v, b, h, j0), dims.v.row);
      if (!dq && !dk && !dbias) continue;
      // ds (rows, cols) = dropout(dout_block v_tile^T), then p * (ds - delta)
      gemm<T>(false, true, blk.rows, cols, d, T(1), dout_block, dims.out.row,
              head_row(v, dims.v, b, h, j0), dims.v.row, T(0), ds, kFlashKeyTile);
      if (drop.p > 0) scale_tile(ds, ds, factors, blk.rows, cols);
      for (int64_t r = 0; r < blk.rows; ++r) {
        T* g = ds + r * kFlashKeyTile;
        const T* w = p + r * kFlashKeyTile;
        const T dr = delta[r];
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) g[c] = w[c] * (g[c] - dr);
      }
      if (dbias) {
        T* db = dbias + ((dims.bias_batched ? b * dims.heads : 0) + h) * dims.tq * dims.tk +
                i0 * dims.tk + j0;
        for (int64_t r = 0; r < blk.rows; ++r) {
          T* db_row = db + r * dims.tk;
          const T* g = ds + r * kFlashKeyTile;
#pragma omp simd
          for (int64_t c = 0; c < cols; ++c) db_row[c] += g[c];
        }
      }
      if (dq)  // dq_block (rows, D) += scale * ds (rows, cols) k_tile (cols, D)
        gemm<T>(false, false, blk.rows, d, cols, scale, ds, kFlashKeyTile,
                head_row(k, dims.k, b, h, j0), dims.k.row, T(1), dq_acc, d);
      if (dk)  // dk_tile (cols, D) += scale * ds^T (cols, rows) q_block (rows, D)
        gemm<T>(true, false, cols, d, blk.rows, scale, ds, kFlashKeyTile,
                head_row(q, dims.q, b, h, i0), dims.q.row, T(1), head_row(dk, dims.k, b, h, j0),
                dims.k.row);
    }
    if (dq)
      for (int64_t r = 0; r < blk.rows; ++r)
        std::copy(dq_acc + r * d, dq_acc + (r + 1) * d, head_row(dq, dims.q, b, h, i0 + r));
  }
}

}  // namespace

template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const T* bias,
                             const KeyVisibility& visible, const WeightDropout& drop,
                             const FlashDims& dims, T scale) {
  const int64_t blocks = (dims.tq + kFlashQueryTile - 1) / kFlashQueryTile;
  // Tasks are (b, h, query block): each writes only its own rows, so the
  // result does not depend on which thread runs which task.
  parallel_for_dynamic(dims.batch * dims.heads * blocks, [&](int64_t task) {
    const int64_t bh = task / blocks, i0 = (task % blocks) * kFlashQueryTile;
    forward_block(out, lse, q, k, v, bias, visible, drop, dims, scale,
                  query_block(visible, dims, bh / dims.heads, bh % dims.heads, i0));
  });
}

template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, T* dbias, const T* dout, const T* out,
                              const T* lse, const T* q, const T* k, const T* v, const T* bias,
                              const KeyVisibility& visible, const WeightDropout& drop,
                              const FlashDims& dims, T scale) {
  if (dbias && !dims.bias_batched) {
    // The shared bias gathers every batch entry's gradient: one task per
    // head, adding the batch entries in order.
    std::fill(dbias, dbias + dims.heads * dims.tq * dims.tk, T(0));
    parallel_for_dynamic(dims.heads, [&](int64_t h) {
      for (int64_t b = 0; b < dims.batch; ++b)
        backward_head(dq, dk, dv, dbias, dout, out, lse, q, k, v, bias, visible, drop, dims, scale,
                      b, h);
    });
    return;
  }
  if (dbias) std::fill(dbias, dbias + dims.batch * dims.heads * dims.tq * dims.tk, T(0));
  // One task per (b, h): dk and dv gather every query block of their head.
  parallel_for_dynamic(dims.batch * dims.heads, [&](int64_t bh) {
    backward_head(dq, dk, dv, dbias, dout, out, lse, q, k, v, bias, visible, drop, dims, scale,
                  bh / dims.heads, bh % dims.heads);
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                              \
  template void flash_attention_forward<T>(T*, T*, const T*, const T*, const T*, const T*,  \
                                           const KeyVisibility&, const WeightDropout&,      \
                                           const FlashDims&, T);                            \
  template void flash_attention_backward<T>(                                                \
      T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*, const T*, \
      const KeyVisibility&, const WeightDropout&, const FlashDims&, T);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
