#include "autograd/kernels/matmul.h"

#include <algorithm>

#include "autograd/kernels/gemm.h"
#include "autograd/kernels/reduce.h"

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

template <typename T>
void linear_forward(T* y, const T* x, const T* w, const T* bias, int64_t rows, int64_t in,
                    int64_t out) {
  gemm_bias<T>(false, true, rows, out, in, x, in, w, in, bias, y, out);
}

template <typename T>
void linear_backward(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w, int64_t rows,
                     int64_t in, int64_t out) {
  if (dx) gemm<T>(false, false, rows, in, out, T(1), dy, out, w, in, T(0), dx, in);
  if (dw) gemm<T>(true, false, out, in, rows, T(1), dy, out, x, in, T(0), dw, in);
  if (dbias) sum_dim_forward<T>(dbias, dy, 1, rows, out, T(1));
}

#define ATTNLAB_INSTANTIATE(T)                                                                  \
  template void matmul_forward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, int64_t,   \
                                  bool, bool, bool);                                            \
  template void matmul_backward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t,      \
                                   int64_t, int64_t, bool, bool, bool);                         \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t); \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t,  \
                                   int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
