/* LD_PRELOAD shim for tests/cli/blas_notice.sh: makes this machine look like one whose
 * OpenBLAS fell back to its old Prescott kernels, so that the kernel notice and the
 * FSH_BLAS_CORETYPE=auto restart can be tested anywhere.
 *   openblas_get_corename(): "Prescott" while OPENBLAS_CORETYPE is unset (what OpenBLAS's own
 *     choice reports on such a machine), the real name once it is set (the kernels asked for).
 *   cblas_sgemm(): with FSH_TEST_BAD_SGEMM set, computes wrongly (C[0] += 1) while
 *     OPENBLAS_CORETYPE is set: kernels that fail fsh's check. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

static int coretype_set(void) {
  const char* e = getenv("OPENBLAS_CORETYPE");
  return e && *e;
}

char* openblas_get_corename(void) {
  static char prescott[] = "Prescott";
  char* (*real)(void) = (char* (*)(void))dlsym(RTLD_NEXT, "openblas_get_corename");
  return coretype_set() ? real() : prescott;
}

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*,
                         int, float, float*, int);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  sgemm_fn real = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
  real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (getenv("FSH_TEST_BAD_SGEMM") && coretype_set() && m > 0 && n > 0) c[0] += 1.0f;
}
