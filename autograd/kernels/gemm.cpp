// BLIS/GotoBLAS-style GEMM. For each column panel of C (at most NC columns):
//   op(B) is packed whole into NR-column strips (K, NR), shared by all threads;
//   the panel is cut into chunks of whole MR x NR tiles, taken by threads first come first served;
//   per chunk: pc: KC slice of K (never split across threads, applied in order)
//                ic: MC rows -> op(A) block (MC x KC) packed per thread, stays in L2
//                  jr: the strip's KC x NR slice, stays in L1 while ir sweeps
//                    ir: MR rows -> micro_kernel: MR x NR register tile, KC-long FMA chains
// An element's value depends only on the KC split and on whether its tile is an edge tile, neither
// of which depends on the thread count, so results are bit-identical for any number of threads.
#include "autograd/kernels/gemm.h"

#include "autograd/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace attnlab {
namespace {

// Register budget: MR x 2 accumulators + 2 B vectors + 1 broadcast must fit the register file
// (32 zmm with AVX-512, 16 ymm/xmm otherwise).
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
constexpr int64_t kMR = 12;
#elif defined(__AVX2__)
constexpr int kVecBytes = 32;
constexpr int64_t kMR = 6;
#else
constexpr int kVecBytes = 16;
constexpr int64_t kMR = 6;
#endif

// Elements of op(B) packed at once (16 MiB of float).
constexpr int64_t kMaxPackedB = int64_t(1) << 22;

template <typename T>
struct Blocking {
  typedef T vec __attribute__((vector_size(kVecBytes)));
  static constexpr int64_t L = kVecBytes / sizeof(T);  // lanes per vector
  static constexpr int64_t MR = kMR;
  static constexpr int64_t NR = 2 * L;
  // Each kernel call loads and stores its C tile once per KC steps, so KC is long; the KC x NR
  // slice of B (64 KiB with AVX-512) then streams from L2, which at 128 bytes per 12 cycles of FMAs
  // is far below L2 bandwidth. An MC x KC block of A (~480 KiB) stays in half of the 1 MiB L2.
  static constexpr int64_t KC = 512;
  static constexpr int64_t MC = int64_t(480 * 1024 / (KC * sizeof(T))) / MR * MR;
  // Widest column panel: its op(B) is packed whole (K x NC) and re-read from L3 per row block.
  static constexpr int64_t NC = 4096 / (sizeof(T) / 4);
};

// Explicit FMA rather than hoping the compiler contracts a * b + c (it may not, e.g. under
// -ffp-contract=off or with clang defaults across statements).
template <typename T, typename V>
inline V fma_bcast(V acc, T a, V b) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>)
    return (V)_mm512_fmadd_ps(_mm512_set1_ps(a), (__m512)b, (__m512)acc);
  else
    return (V)_mm512_fmadd_pd(_mm512_set1_pd(a), (__m512d)b, (__m512d)acc);
#elif defined(__FMA__) && defined(__AVX__)
  if constexpr (std::is_same_v<T, float>)
    return (V)_mm256_fmadd_ps(_mm256_set1_ps(a), (__m256)b, (__m256)acc);
  else
    return (V)_mm256_fmadd_pd(_mm256_set1_pd(a), (__m256d)b, (__m256d)acc);
#else
  return acc + b * a;
#endif
}

template <typename V>
inline V load_unaligned(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V>
inline void store_unaligned(void* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// C = alpha * acc + beta * C (+ bias) on the valid m x n corner of an MR x NR register tile.
template <typename T>
inline __attribute__((always_inline)) void write_tile(
    typename Blocking<T>::vec (&acc)[Blocking<T>::MR][2], T* c, int64_t ldc, int64_t m, int64_t n,
    T alpha, T beta, const T* bias) {
  using P = Blocking<T>;
  using V = typename P::vec;
  constexpr int64_t MR = P::MR, L = P::L;
  // Fully unrolled so that the accumulators stay in registers rather than in a stack array.
  if (m == MR && n == P::NR) {
#pragma GCC unroll 16
    for (int64_t i = 0; i < MR; ++i) {
#pragma GCC unroll 2
      for (int v = 0; v < 2; ++v) {
        T* p = c + i * ldc + v * L;
        V r = alpha * acc[i][v];
        if (bias) r += load_unaligned<V>(bias + v * L);
        if (beta != T(0)) r += beta * load_unaligned<V>(p);
        store_unaligned(p, r);
      }
    }
    return;
  }
  // Edge tile: the padded lanes hold zeros; only the valid corner reaches C.
  alignas(kVecBytes) T tile[MR][P::NR];
#pragma GCC unroll 16
  for (int64_t i = 0; i < MR; ++i) {
    store_unaligned(&tile[i][0], acc[i][0]);
    store_unaligned(&tile[i][L], acc[i][1]);
  }
  for (int64_t i = 0; i < m; ++i) {
    T* crow = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      T r = alpha * tile[i][j];
      if (bias) r += bias[j];
      crow[j] = beta != T(0) ? r + beta * crow[j] : r;
    }
  }
}

// acc(MR,NR) = packed_a(kc, MR)^T-panel @ packed_b(kc, NR); then C = alpha * acc + beta * C on the
// valid m x n corner (beta == 0: C not read).
template <typename T>
void micro_kernel(int64_t kc, const T* __restrict a /* (kc, MR) */,
                  const T* __restrict b /* (kc, NR) */, T* c /* (m, n), ldc */, int64_t ldc,
                  int64_t m, int64_t n, T alpha, T beta, const T* bias /* (n) or null */) {
  using P = Blocking<T>;
  using V = typename P::vec;
  constexpr int64_t MR = P::MR, L = P::L;
  for (int64_t i = 0; i < m; ++i) {  // C is only needed after the k loop: fetch it meanwhile.
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + n - 1, 1);
  }

  V acc[MR][2];
#pragma GCC unroll 16
  for (int64_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = V{};
  for (int64_t k = 0; k < kc; ++k) {
    const V b0 = *reinterpret_cast<const V*>(b);
    const V b1 = *reinterpret_cast<const V*>(b + L);
#pragma GCC unroll 16
    for (int64_t i = 0; i < MR; ++i) {
      acc[i][0] = fma_bcast(acc[i][0], a[i], b0);
      acc[i][1] = fma_bcast(acc[i][1], a[i], b1);
    }
    a += MR;
    b += P::NR;
  }

  write_tile<T>(acc, c, ldc, m, n, alpha, beta, bias);
}

// Packs a rows x kc block whose rows are contiguous along k (src row r at src + r * ld) into
// dst(kc, R): dst[k * R + r]. Rows >= rows are zero padding.
template <int64_t R, typename T>
void pack_transposed(const T* src, int64_t ld, int64_t rows, int64_t kc, T* dst /* (kc, R) */) {
  int64_t r0 = 0;
  if constexpr (4 * sizeof(T) <= kVecBytes) {
    // 4x4 register transposes: contiguous loads and stores instead of a scalar scatter per element.
    typedef T v4 __attribute__((vector_size(4 * sizeof(T))));
    const int64_t k4 = kc & ~int64_t(3);
    for (; r0 + 4 <= rows; r0 += 4) {
      const T* s = src + r0 * ld;
      for (int64_t k = 0; k < k4; k += 4) {
        const v4 x0 = load_unaligned<v4>(s + k), x1 = load_unaligned<v4>(s + ld + k);
        const v4 x2 = load_unaligned<v4>(s + 2 * ld + k), x3 = load_unaligned<v4>(s + 3 * ld + k);
        const v4 t0 = __builtin_shufflevector(x0, x1, 0, 4, 1, 5);
        const v4 t1 = __builtin_shufflevector(x0, x1, 2, 6, 3, 7);
        const v4 t2 = __builtin_shufflevector(x2, x3, 0, 4, 1, 5);
        const v4 t3 = __builtin_shufflevector(x2, x3, 2, 6, 3, 7);
        store_unaligned(dst + k * R + r0, __builtin_shufflevector(t0, t2, 0, 1, 4, 5));
        store_unaligned(dst + (k + 1) * R + r0, __builtin_shufflevector(t0, t2, 2, 3, 6, 7));
        store_unaligned(dst + (k + 2) * R + r0, __builtin_shufflevector(t1, t3, 0, 1, 4, 5));
        store_unaligned(dst + (k + 3) * R + r0, __builtin_shufflevector(t1, t3, 2, 3, 6, 7));
      }
      for (int64_t k = k4; k < kc; ++k)
        for (int64_t r = 0; r < 4; ++r) dst[k * R + r0 + r] = s[r * ld + k];
    }
  }
  for (int64_t r = r0; r < rows; ++r)
    for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = src[r * ld + k];
  for (int64_t r = rows; r < R; ++r)
    for (int64_t k = 0; k < kc; ++k) dst[k * R + r] = T(0);
}

// Packs kc rows of `cols` contiguous values (src row k at src + k * ld) into dst(kc, R),
// zero-padded.
template <int64_t R, typename T>
void pack_direct(const T* src, int64_t ld, int64_t cols, int64_t kc, T* dst /* (kc, R) */) {
  if (cols == R) {  // Fixed-size copies compile to a few vector moves instead of memcpy calls.
    for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * R, src + k * ld, R * sizeof(T));
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    std::memcpy(dst + k * R, src + k * ld, cols * sizeof(T));
    for (int64_t j = cols; j < R; ++j) dst[k * R + j] = T(0);
  }
}

template <typename T>
struct Problem {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
  const T* bias = nullptr;  // (N): added to every row of C, with the first K slice
  bool bf16 = false;        // float only: multiply inputs rounded to bfloat16 (see gemm.h)
};

// op(A)[i0 : i0+mc, k0 : k0+kc] as MR-row micro-panels, each (kc, MR).
template <typename T>
void pack_a(const Problem<T>& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int64_t MR = Blocking<T>::MR;
  if (p.trans_a) {
    for (int64_t ir = 0; ir < mc; ir += MR)
      pack_direct<MR>(p.A + k0 * p.lda + i0 + ir, p.lda, std::min(MR, mc - ir), kc, dst + ir * kc);
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += MR)
    pack_transposed<MR>(p.A + (i0 + ir) * p.lda + k0, p.lda, std::min(MR, mc - ir), kc,
                        dst + ir * kc);
}

// Rows [k0, k0 + kc) of the NR-column micro-panel of op(B) starting at column j, into its place
// in the panel's (K, NR) strip.
template <typename T>
void pack_b_strip(const Problem<T>& p, int64_t j, int64_t nr, int64_t k0, int64_t kc, T* strip) {
  constexpr int64_t NR = Blocking<T>::NR;
  if (p.trans_b)
    pack_transposed<NR>(p.B + j * p.ldb + k0, p.ldb, nr, kc, strip + k0 * NR);
  else
    pack_direct<NR>(p.B + k0 * p.ldb + j, p.ldb, nr, kc, strip + k0 * NR);
}

// ---- bfloat16 products (MatmulPrecision::BFloat16) -------------------------------------------
// The same blocking and threading as float32; only the packed panels and the micro kernel differ.
// A packed panel holds bfloat16 pairs, (ceil(kc/2), R, 2): element [kp][r][h] is op(X)[2kp+h][r],
// the pair that vdpbf16ps multiplies and adds into lane r. Each lives in the buffer the float32
// panel would use (it needs half of it), so the panel offsets stay the float32 ones.

// The bits of x rounded to the nearest bfloat16, ties to even; NaN stays NaN.
inline uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// A float32 panel (kc, R) as bfloat16 pairs (ceil(kc/2), R, 2); an odd kc pairs its last row with
// 0.
template <int64_t R>
void pairs_from_panel(const float* src /* (kc, R) */, int64_t kc, uint16_t* dst) {
  for (int64_t kp = 0; kp < kc / 2; ++kp) {
    const float* lo = src + 2 * kp * R;
    const float* hi = lo + R;
    uint16_t* out = dst + kp * R * 2;
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) {
      out[2 * r] = bf16_bits(lo[r]);
      out[2 * r + 1] = bf16_bits(hi[r]);
    }
  }
  if (kc % 2) {
    const float* lo = src + (kc - 1) * R;
    uint16_t* out = dst + (kc / 2) * R * 2;
    for (int64_t r = 0; r < R; ++r) {
      out[2 * r] = bf16_bits(lo[r]);
      out[2 * r + 1] = 0;
    }
  }
}

// pack_a's block as bfloat16 pairs: each MR-row micro-panel (ceil(kc/2), MR, 2). kc <= KC, and
// the float32 panel is on the stack: this runs inside thread teams, where nothing may allocate.
void pack_a_bf16(const Problem<float>& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
                 uint16_t* dst) {
  using P = Blocking<float>;
  constexpr int64_t MR = P::MR;
  alignas(64) float panel[P::KC * MR];
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    if (p.trans_a)
      pack_direct<MR>(p.A + k0 * p.lda + i0 + ir, p.lda, std::min(MR, mc - ir), kc, panel);
    else
      pack_transposed<MR>(p.A + (i0 + ir) * p.lda + k0, p.lda, std::min(MR, mc - ir), kc, panel);
    pairs_from_panel<MR>(panel, kc, dst + ir * pairs * 2);
  }
}

// pack_b_strip as bfloat16 pairs; `strip` is the strip's start, and row k0 + k (k0 even) goes at
// (k0 + k) * NR. Converted KC rows at a time through a float32 panel on the stack.
void pack_b_strip_bf16(const Problem<float>& p, int64_t j, int64_t nr, int64_t k0, int64_t kc,
                       uint16_t* strip) {
  using P = Blocking<float>;
  constexpr int64_t NR = P::NR;
  static_assert(P::KC % 2 == 0, "K slices must start at even rows: a pair never straddles two");
  alignas(64) float panel[P::KC * NR];
  for (int64_t c0 = 0; c0 < kc; c0 += P::KC) {
    const int64_t rows = std::min(P::KC, kc - c0), k = k0 + c0;
    if (p.trans_b)
      pack_transposed<NR>(p.B + j * p.ldb + k, p.ldb, nr, rows, panel);
    else
      pack_direct<NR>(p.B + k * p.ldb + j, p.ldb, nr, rows, panel);
    pairs_from_panel<NR>(panel, rows, strip + k * NR);
  }
}

#if defined(__AVX512F__)
constexpr bool kBf16Built = true;
// The float32 micro kernel's contract, on bfloat16 pairs: each vdpbf16ps adds two products per lane
// (a[2k] b[2k] + a[2k+1] b[2k+1]) into float32, so one instruction does the work of two FMAs.
__attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl"))) void micro_kernel_bf16(
    int64_t kc, const uint16_t* __restrict a /* (ceil(kc/2), MR, 2) */,
    const uint16_t* __restrict b /* (ceil(kc/2), NR, 2) */, float* c, int64_t ldc, int64_t m,
    int64_t n, float alpha, float beta, const float* bias) {
  using P = Blocking<float>;
  using V = P::vec;
  constexpr int64_t MR = P::MR, NR = P::NR;
  static_assert(NR == 32, "a bfloat16 strip is two vectors of 16 pairs");
  for (int64_t i = 0; i < m; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + n - 1, 1);
  }
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int64_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t kp = 0; kp < pairs; ++kp) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + NR);
#pragma GCC unroll 16
    for (int64_t i = 0; i < MR; ++i) {
      uint32_t pair;
      std::memcpy(&pair, a + 2 * i, sizeof(pair));
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(pair));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += 2 * MR;
    b += 2 * NR;
  }
  V out[MR][2];
#pragma GCC unroll 16
  for (int64_t i = 0; i < MR; ++i) {
    out[i][0] = (V)acc[i][0];
    out[i][1] = (V)acc[i][1];
  }
  write_tile<float>(out, c, ldc, m, n, alpha, beta, bias);
}
#else
constexpr bool kBf16Built = false;
void micro_kernel_bf16(int64_t, const uint16_t*, const uint16_t*, float*, int64_t, int64_t, int64_t,
                       float, float, const float*) {
  throw std::logic_error("gemm: bfloat16 kernels are not in this build");
}
#endif

std::atomic<bool> bf16_products{false};

// Grow-only 64-byte-aligned scratch, one per thread and slot, so repeated calls do not touch the
// allocator (or fault in fresh pages) on the hot path.
template <typename T>
T* scratch(int slot, int64_t count) {
  struct Buffer {
    void* ptr = nullptr;
    size_t bytes = 0;
    ~Buffer() { std::free(ptr); }
  };
  thread_local Buffer buffers[2];
  Buffer& b = buffers[slot];
  const size_t want = (static_cast<size_t>(count) * sizeof(T) + 63) & ~size_t(63);
  if (want > b.bytes) {
    std::free(b.ptr);
    b.ptr = std::aligned_alloc(64, want);
    if (!b.ptr) throw std::bad_alloc();
    b.bytes = want;
  }
  return static_cast<T*>(b.ptr);
}

using Clock = std::chrono::steady_clock;
inline int64_t nanoseconds(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Splits [0, n) into `parts` contiguous near-equal ranges; returns range `index`.
inline void split_range(int64_t n, int64_t parts, int64_t index, int64_t& begin, int64_t& end) {
  begin = n * index / parts;
  end = n * (index + 1) / parts;
}

struct Range {
  int64_t begin, end;
};

// Rows x micro-panels (strips) of the column panel starting at j0 (width columns), over the KC
// slices in ks, with op(B) already packed as (K, NR) strips.
template <typename T>
void compute_chunk(const Problem<T>& p, int64_t j0, int64_t width, const T* packed_b, T* packed_a,
                   Range rows, Range strips, Range ks) {
  using P = Blocking<T>;
  const int64_t r0 = rows.begin, r1 = rows.end;
  for (int64_t pc = ks.begin; pc < ks.end; pc += P::KC) {
    const int64_t kc = std::min(P::KC, p.K - pc);
    // Later K slices accumulate onto the partial sums already in C.
    const T beta = pc == 0 ? p.beta : T(1);
    const T* bias_row = pc == 0 ? p.bias : nullptr;  // the bias joins once, with the first slice
    // Equal row blocks of at most MC rows: a short last block would reuse each B slice only
    // briefly.
    const int64_t tiles = (r1 - r0 + P::MR - 1) / P::MR,
                  blocks = (tiles * P::MR + P::MC - 1) / P::MC;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      int64_t t0, t1;
      split_range(tiles, blocks, blk, t0, t1);
      const int64_t ic = r0 + t0 * P::MR, mc = std::min(r1, r0 + t1 * P::MR) - ic;
      if constexpr (std::is_same_v<T, float>) {
        if (p.bf16) {
          auto* a = reinterpret_cast<uint16_t*>(packed_a);
          const int64_t pairs = (kc + 1) / 2;
          pack_a_bf16(p, ic, mc, pc, kc, a);
          for (int64_t s = strips.begin; s < strips.end; ++s) {
            const int64_t jr = s * P::NR, nr = std::min(P::NR, width - jr);
            const auto* b =
                reinterpret_cast<const uint16_t*>(packed_b + s * P::NR * p.K) + pc * P::NR;
            const T* bias = bias_row ? bias_row + j0 + jr : nullptr;
            for (int64_t ir = 0; ir < mc; ir += P::MR)
              micro_kernel_bf16(kc, a + ir * pairs * 2, b, p.C + (ic + ir) * p.ldc + j0 + jr, p.ldc,
                                std::min(P::MR, mc - ir), nr, p.alpha, beta, bias);
          }
          continue;
        }
      }
      pack_a(p, ic, mc, pc, kc, packed_a);
      for (int64_t s = strips.begin; s < strips.end; ++s) {
        const int64_t jr = s * P::NR, nr = std::min(P::NR, width - jr);
        const T* b = packed_b + s * P::NR * p.K + pc * P::NR;
        const T* bias = bias_row ? bias_row + j0 + jr : nullptr;
        for (int64_t ir = 0; ir < mc; ir += P::MR) {
          micro_kernel(kc, packed_a + ir * kc, b, p.C + (ic + ir) * p.ldc + j0 + jr, p.ldc,
                       std::min(P::MR, mc - ir), nr, p.alpha, beta, bias);
        }
      }
    }
  }
}

// C[:, j0 : j0+width). op(B) is packed once, whole, into strips shared by all threads; then the
// panel is cut into about 4 chunks per thread, handed out first come first served, so a thread that
// the OS delays on a busy machine just takes fewer chunks. Chunks are whole MR x NR tiles of the
// global grid and K is never split, so every C element gets the same operations whichever thread
// computes it.
template <typename T>
void gemm_panel(const Problem<T>& p, int64_t j0, int64_t width, int nt) {
  using P = Blocking<T>;
  const int64_t strips = (width + P::NR - 1) / P::NR, m_tiles = (p.M + P::MR - 1) / P::MR;
  const int64_t a_size = P::MC * std::min(p.K, P::KC);
  T* packed_b = scratch<T>(1, strips * P::NR * p.K);
  // Allocated up front for every thread: an exception must not escape the parallel region.
  T* packed_a = scratch<T>(0, nt * a_size);
  const auto pack_strip = [&](int64_t s, int64_t k0, int64_t kc) {
    if constexpr (std::is_same_v<T, float>) {
      if (p.bf16)
        return pack_b_strip_bf16(p, j0 + s * P::NR, std::min(P::NR, width - s * P::NR), k0, kc,
                                 reinterpret_cast<uint16_t*>(packed_b + s * P::NR * p.K));
    }
    pack_b_strip(p, j0 + s * P::NR, std::min(P::NR, width - s * P::NR), k0, kc,
                 packed_b + s * P::NR * p.K);
  };
  if (nt <= 1) {  // Alone, pack each K slice of B just before its use, while it fits in cache.
    for (int64_t pc = 0; pc < p.K; pc += P::KC) {
      const int64_t kc = std::min(P::KC, p.K - pc);
      for (int64_t s = 0; s < strips; ++s) pack_strip(s, pc, kc);
      compute_chunk(p, j0, width, packed_b, packed_a, {0, p.M}, {0, strips}, {pc, pc + kc});
    }
    return;
  }
  // Rows first (a column split re-packs the same A rows per chunk), but at least 4 row tiles per
  // chunk, since every chunk streams all of packed B once per K slice.
  const int64_t row_chunks = std::min<int64_t>((m_tiles + 3) / 4, 4 * nt);
  const int64_t col_chunks = std::min<int64_t>(strips, (4 * nt + row_chunks - 1) / row_chunks);
  std::atomic<int64_t> next_strip{0}, packed{0}, next_chunk{0}, finished{0}, waited_ns{0};
  const auto start = Clock::now();
  // Waits are timed for the contention back-off (autograd/parallel.h).
  const auto wait_for = [&](const std::atomic<int64_t>& counter, int64_t target) {
    waited_ns.fetch_add(wait_until(counter, target), std::memory_order_relaxed);
  };
  run_team(nt, [&](int thread, int team_size) {
    T* my_a = packed_a + thread * a_size;
    for (int64_t s; (s = next_strip.fetch_add(1, std::memory_order_relaxed)) < strips;) {
      pack_strip(s, 0, p.K);
      packed.fetch_add(1, std::memory_order_release);
    }
    wait_for(packed, strips);
    for (int64_t c;
         (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < row_chunks * col_chunks;) {
      int64_t r0, r1, s0, s1;
      split_range(m_tiles, row_chunks, c / col_chunks, r0, r1);
      split_range(strips, col_chunks, c % col_chunks, s0, s1);
      compute_chunk(p, j0, width, packed_b, my_a, {r0 * P::MR, std::min(r1 * P::MR, p.M)}, {s0, s1},
                    {0, p.K});
    }
    finished.fetch_add(1, std::memory_order_acq_rel);
    wait_for(finished, team_size);
  });
  report_parallel_run(nanoseconds(Clock::now() - start), waited_ns.load());
}

void validate(const char* fn, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
              int64_t lda, int64_t ldb, int64_t ldc) {
  const auto s = [](int64_t v) { return std::to_string(v); };
  const auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(fn) + ": " + what);
  };
  if (M < 0 || N < 0 || K < 0)
    fail("negative dimension (M=" + s(M) + ",N=" + s(N) + ",K=" + s(K) + ")");
  const auto check_ld = [&](int64_t ld, const char* ld_name, int64_t need, const char* need_name,
                            const std::string& matrix) {
    if (ld < need)
      fail(std::string(ld_name) + "=" + s(ld) + " is smaller than " + need_name + "=" + s(need) +
           " for " + matrix);
  };
  const auto flag = [](bool b) { return b ? "true)" : "false)"; };
  check_ld(lda, "lda", trans_a ? M : K, trans_a ? "M" : "K",
           "A (M=" + s(M) + ",K=" + s(K) + ", trans_a=" + flag(trans_a));
  check_ld(ldb, "ldb", trans_b ? K : N, trans_b ? "K" : "N",
           "B (K=" + s(K) + ",N=" + s(N) + ", trans_b=" + flag(trans_b));
  check_ld(ldc, "ldc", N, "N", "C (M=" + s(M) + ",N=" + s(N) + ")");
}

// C = beta * C, with beta == 0 writing zeros without reading C.
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0))
      std::fill(row, row + N, T(0));
    else if (beta != T(1))
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// Below ~64^3 multiply-adds waking a thread team costs more than it saves.
constexpr double kParallelMinWork = 64.0 * 64.0 * 64.0;

template <typename T>
int choose_threads(int64_t M, int64_t N, int64_t K) {
  if (omp_in_parallel()) return 1;
  const double work = double(M) * double(N) * double(K);
  if (work < kParallelMinWork) return 1;
  const int max_threads = team_size();
  using P = Blocking<T>;
  const int64_t tiles = ((M + P::MR - 1) / P::MR) * ((N + P::NR - 1) / P::NR);
  return static_cast<int>(std::min<int64_t>(max_threads, tiles));
}

template <typename T>
void gemm_unchecked(const Problem<T>& given, int nt) {
  Problem<T> p = given;
  if constexpr (std::is_same_v<T, float>) p.bf16 = bf16_products.load(std::memory_order_relaxed);
  if (p.M == 0 || p.N == 0) return;
  if (p.K == 0 || p.alpha == T(0)) return scale_c(p.M, p.N, p.beta, p.C, p.ldc);
  // Column panels bound the packed copy of op(B) (all K rows of NC columns, or fewer for long K).
  using P = Blocking<T>;
  const int64_t width = std::clamp(kMaxPackedB / p.K / P::NR * P::NR, P::NR, P::NC);
  for (int64_t j0 = 0; j0 < p.N; j0 += width) gemm_panel(p, j0, std::min(width, p.N - j0), nt);
}

// Runs product(i, threads) for i < batch. Many small products (attention heads): one whole
// product per thread beats splitting each one, when their C blocks are disjoint.
template <typename T, typename Product>
void run_products(int64_t batch, int64_t M, int64_t N, int64_t K, bool disjoint,
                  const Product& product) {
  const double work = double(M) * double(N) * double(K);
  const int max_threads = team_size();
  if (disjoint && batch >= 2 * max_threads && work < 256.0 * 256.0 * 256.0 &&
      work * double(batch) >= kParallelMinWork && max_threads > 1) {
    parallel_for_dynamic(batch, [&](int64_t i) { product(i, 1); });
    return;
  }
  const int nt = choose_threads<T>(M, N, K);
  for (int64_t i = 0; i < batch; ++i) product(i, nt);
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  validate("gemm", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  const Problem<T> p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  gemm_unchecked(p, choose_threads<T>(M, N, K));
}

template <typename T>
void gemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
               const T* B, int64_t ldb, const T* bias, T* C, int64_t ldc) {
  validate("gemm_bias", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  Problem<T> p{trans_a, trans_b, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc};
  p.bias = bias;
  if (K == 0 && bias && M > 0) {  // no product: every row is the bias
    for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
    return;
  }
  gemm_unchecked(p, choose_threads<T>(M, N, K));
}

template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                  int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c) {
  validate("gemm_batched", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0)
    throw std::invalid_argument("gemm_batched: negative batch=" + std::to_string(batch) +
                                " or stride (" + std::to_string(stride_a) + "," +
                                std::to_string(stride_b) + "," + std::to_string(stride_c) + ")");
  if (batch == 0 || M == 0 || N == 0) return;
  const auto product = [&](int64_t i, int nt) {
    const Problem<T> p{
        trans_a, trans_b,          M,  N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb,
        beta,    C + i * stride_c, ldc};
    gemm_unchecked(p, nt);
  };
  // Only when the C blocks are disjoint, since overlapping ones must be applied in order.
  const bool disjoint = stride_c >= (M - 1) * ldc + N;
  run_products<T>(batch, M, N, K, disjoint, product);
}

template <typename T>
void gemm_batched_2d(bool trans_a, bool trans_b, int64_t outer, int64_t inner, int64_t M, int64_t N,
                     int64_t K, T alpha, const T* A, int64_t lda, BatchStrides stride_a, const T* B,
                     int64_t ldb, BatchStrides stride_b, T beta, T* C, int64_t ldc,
                     BatchStrides stride_c) {
  validate("gemm_batched_2d", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (outer < 0 || inner < 0)
    throw std::invalid_argument("gemm_batched_2d: negative batch " + std::to_string(outer) + "x" +
                                std::to_string(inner));
  if (outer == 0 || inner == 0 || M == 0 || N == 0) return;
  const auto product = [&](int64_t i, int nt) {
    const int64_t o = i / inner, j = i % inner;
    Problem<T> p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    p.A = A + o * stride_a.outer + j * stride_a.inner;
    p.B = B + o * stride_b.outer + j * stride_b.inner;
    p.C = C + o * stride_c.outer + j * stride_c.inner;
    gemm_unchecked(p, nt);
  };
  run_products<T>(outer * inner, M, N, K, true, product);
}

bool bf16_supported() {
  return kBf16Built && __builtin_cpu_supports("avx512bf16");
}

void set_matmul_precision(MatmulPrecision precision) {
  if (precision == MatmulPrecision::BFloat16 && !bf16_supported())
    throw std::runtime_error(
        kBf16Built ? "bfloat16 products need a CPU with AVX-512 BF16 (vdpbf16ps); this one has "
                     "none (lscpu lists avx512_bf16 where it is present)"
                   : "bfloat16 products need AVX-512, which this build was compiled without "
                     "(ATTNLAB_NATIVE=ON on a CPU with AVX-512 BF16)");
  bf16_products.store(precision == MatmulPrecision::BFloat16, std::memory_order_relaxed);
}

MatmulPrecision matmul_precision() {
  return bf16_products.load(std::memory_order_relaxed) ? MatmulPrecision::BFloat16
                                                       : MatmulPrecision::Float32;
}

float round_to_bf16(float x) {
  const uint32_t u = uint32_t(bf16_bits(x)) << 16;
  float r;
  std::memcpy(&r, &u, sizeof(r));
  return r;
}

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  validate("gemm_reference", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += (trans_a ? A[k * lda + i] : A[i * lda + k]) *
               (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * sum : alpha * sum + beta * c;
    }
  }
}

#define ATTNLAB_GEMM_INSTANTIATE(T)                                                              \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,   \
                        int64_t, T, T*, int64_t);                                                \
  template void gemm_bias<T>(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, \
                             int64_t, const T*, T*, int64_t);                                    \
  template void gemm_batched<T>(bool, bool, int64_t, int64_t, int64_t, int64_t, T, const T*,     \
                                int64_t, int64_t, const T*, int64_t, int64_t, T, T*, int64_t,    \
                                int64_t);                                                        \
  template void gemm_batched_2d<T>(bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, T,   \
                                   const T*, int64_t, BatchStrides, const T*, int64_t,           \
                                   BatchStrides, T, T*, int64_t, BatchStrides);                  \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,   \
                                  const T*, int64_t, T, T*, int64_t);
ATTNLAB_GEMM_INSTANTIATE(float)
ATTNLAB_GEMM_INSTANTIATE(double)
#undef ATTNLAB_GEMM_INSTANTIATE

}  // namespace attnlab
