// CPU gemm and axpy through OpenBLAS's CBLAS interface (row-major).
#include <cblas.h>

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

namespace {
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas_gemm(bool ta, bool tb, int M, int N, int Kd, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), M, N, Kd, alpha, A, lda, B, ldb, beta, C, ldc);
}
void blas_gemm(bool ta, bool tb, int M, int N, int Kd, double alpha, const double* A, int lda,
               const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), M, N, Kd, alpha, A, lda, B, ldb, beta, C, ldc);
}
}  // namespace

template <class T>
void CpuKernels<T>::gemm(bool trans_a, bool trans_b, int M, int N, int Kd, T alpha, const T* A,
                         int lda, const T* B, int ldb, T beta, T* C, int ldc) {
  blas_gemm(trans_a, trans_b, M, N, Kd, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void CpuKernels<T>::axpy(std::size_t n, T alpha, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

#define FSH_INSTANTIATE(T)                                                                   \
  template void CpuKernels<T>::gemm(bool, bool, int, int, int, T, const T*, int, const T*, int, \
                                    T, T*, int);                                             \
  template void CpuKernels<T>::axpy(std::size_t, T, const T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
