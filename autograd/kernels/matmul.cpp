#include "autograd/kernels/matmul.h"

#include <algorithm>

#include "autograd/kernels/gemm.h"

namespace attnlab {

template <typename T>
void matmul_forward(T* c, const T* a, const T* b, int64_t batch, int64_t m, int64_t n, int64_t k,
                    bool trans_a, bool trans_b, bool b_shared) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  if (b_shared && !trans_a) {
    // The batch folds into M: one large GEMM instead of many small ones.
    gemm<T>(false, trans_b, batch * m, n, k, T(1), a, lda, b, ldb, T(0), c, n);
    return;
  }
  gemm_batched<T>(trans_a, trans_b, batch, m, n, k, T(1), a, lda, m * k, b, ldb,
                  b_shared ? 0 : k * n, T(0), c, n, m * n);
}

template <typename T>
void matmul_backward(T* da, T* db, const T* dc, const T* a, const T* b, int64_t batch, int64_t m,
                     int64_t n, int64_t k, bool trans_a, bool trans_b, bool b_shared) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n, ldc = n;
  const int64_t sa = m * k, sb = b_shared ? 0 : k * n, sc = m * n;
  if (da) {
    if (!trans_a)  // da (M,K) = dc (M,N) op(b)^T
      gemm_batched<T>(false, !trans_b, batch, m, k, n, T(1), dc, ldc, sc, b, ldb, sb, T(0), da, lda,
                      sa);
    else  // a stored (K,M): da = op(b) (K,N) dc^T (N,M)
      gemm_batched<T>(trans_b, true, batch, k, m, n, T(1), b, ldb, sb, dc, ldc, sc, T(0), da, lda,
                      sa);
  }
  if (!db) return;
  if (!b_shared) {
    if (!trans_b)  // db (K,N) = op(a)^T (K,M) dc (M,N)
      gemm_batched<T>(!trans_a, false, batch, k, n, m, T(1), a, lda, sa, dc, ldc, sc, T(0), db, ldb,
                      sb);
    else  // b stored (N,K): db = dc^T (N,M) op(a) (M,K)
      gemm_batched<T>(true, trans_a, batch, n, k, m, T(1), dc, ldc, sc, a, lda, sa, T(0), db, ldb,
                      sb);
    return;
  }
  if (!trans_a) {  // the folded case: one GEMM sums over all batch * M rows
    if (!trans_b)
      gemm<T>(true, false, k, n, batch * m, T(1), a, lda, dc, ldc, T(0), db, ldb);
    else
      gemm<T>(true, false, n, k, batch * m, T(1), dc, ldc, a, lda, T(0), db, ldb);
    return;
  }
  // Shared b with transposed a: the first entry overwrites db and the others
  // add onto it in batch order (a fixed order, so the sum does not depend on
  // the thread count).
  if (batch == 0) std::fill(db, db + k * n, T(0));
  for (int64_t i = 0; i < batch; ++i) {
    const T beta = i == 0 ? T(0) : T(1);
    if (!trans_b)  // db (K,N) += op(a)^T dc, and op(a)^T is a as stored (K,M)
      gemm<T>(false, false, k, n, m, T(1), a + i * sa, lda, dc + i * sc, ldc, beta, db, ldb);
    else  // b stored (N,K): db += dc^T (N,M) op(a) (M,K)
      gemm<T>(true, true, n, k, m, T(1), dc + i * sc, ldc, a + i * sa, lda, beta, db, ldb);
  }
}

#define ATTNLAB_INSTANTIATE(T)                                                                \
  template void matmul_forward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, int64_t, \
                                  bool, bool, bool);                                          \
  template void matmul_backward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t,    \
                                   int64_t, int64_t, bool, bool, bool);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
