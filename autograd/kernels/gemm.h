// General matrix multiply for the autograd kernels: a cache-blocked, register-tiled,
// OpenMP-parallel implementation (no BLAS) whose results are bit-identical for every thread count.
#pragma once

#include <cstdint>

namespace attnlab {

// C(M,N) = alpha * op(A)(M,K) @ op(B)(K,N) + beta * C, row-major.
// op(A) = A (M,K) with leading dim lda, or A^T where A is stored (K,M) when trans_a.
// op(B) = B (K,N) with leading dim ldb, or B^T where B is stored (N,K) when trans_b.
// beta == 0 means C is overwritten (never read, so NaN garbage in C is ignored).
// Throws std::invalid_argument on a negative dimension or a too-small leading dimension.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// C(M,N) = op(A) @ op(B) + bias, the bias (N) added to every row inside the kernel that writes
// C (the epilogue), so that a Linear layer makes one pass over its output instead of two.
template <typename T>
void gemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
               const T* B, int64_t ldb, const T* bias, T* C, int64_t ldc);

// Same contract; batch independent products at strides stride_a/b/c (elements). stride 0 = shared
// operand. Products whose C blocks overlap (e.g. stride_c 0) are applied one after another in batch
// order, so stride_c 0 with beta 1 sums the products into one C.
template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                  int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c);

// Products indexed by pairs (o, i), o < outer, i < inner: operand X of product (o, i) starts at
// X + o * x_strides.outer + i * x_strides.inner. For per-head products on operands whose heads are
// interleaved in the channel dim, e.g. (B,T,H*D) read as (B,H,T,D) with ld = H*D. The products' C
// blocks must not overlap.
struct BatchStrides {
  int64_t outer, inner;
};
template <typename T>
void gemm_batched_2d(bool trans_a, bool trans_b, int64_t outer, int64_t inner, int64_t M, int64_t N,
                     int64_t K, T alpha, const T* A, int64_t lda, BatchStrides stride_a, const T* B,
                     int64_t ldb, BatchStrides stride_b, T beta, T* C, int64_t ldc,
                     BatchStrides stride_c);

// ---- precision of float32 products -----------------------------------------------
// Float32: products and sums in float32. BFloat16: every float32 product above (gemm, gemm_bias,
// the batched forms, and so every matmul, linear and attention) rounds its inputs to bfloat16
// (round to nearest even, as they are packed) and accumulates in float32, with the AVX-512 BF16
// dot-product instruction (vdpbf16ps: twice the multiply-adds of a float32 FMA). Tensors stay
// float32; float64 products are never rounded. The setting is process-wide.
enum class MatmulPrecision { Float32, BFloat16 };
// Whether this CPU (checked at run time) and this build have the bfloat16 kernels.
bool bf16_supported();
// Throws std::runtime_error saying what is missing when BFloat16 is asked for without support.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();
// Sets the precision inside a scope (tests); the previous one comes back at its end.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(MatmulPrecision p) : previous_(matmul_precision()) {
    set_matmul_precision(p);
  }
  ~MatmulPrecisionScope() { set_matmul_precision(previous_); }
  MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  MatmulPrecision previous_;
};
// x rounded to the nearest bfloat16 (ties to even), returned as float: what a BFloat16 product
// multiplies.
float round_to_bf16(float x);

// The naive triple loop, kept beside the fast one as the reference tests compare against.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace attnlab
