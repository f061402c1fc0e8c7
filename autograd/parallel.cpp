#include "autograd/parallel.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace attnlab {

void flush_denormals_to_zero() {
#if defined(__SSE__) || defined(__x86_64__)
  auto set = [] { _mm_setcsr(_mm_getcsr() | 0x8040); };  // FTZ (bit 15) | DAZ (bit 6)
  set();
#pragma omp parallel
  set();
#endif
}

}  // namespace attnlab
