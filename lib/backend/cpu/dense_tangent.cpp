// Tangents of the row-wise ops (dense.cpp) on the CPU: linear (bilinear in x and W, so its
// tangents are sums of the same gemms) and the softmax cross-entropy backward
// (dlogits = dloss·(p − onehot)/B, whose tangent along l̇ is dloss/B·(ṗ), ṗ = p ⊙ (l̇ − p·l̇)).
#include <algorithm>

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::linear_forward_tangent(int B, int D, int N, const T* x, const T* xdot,
                                           const T* w, const T* wdot, const T* bdot, T* ydot) {
  T beta = T(0);
  if (wdot) {
    gemm(false, true, B, N, D, T(1), x, D, wdot, D, beta, ydot, N);  // x·Ẇᵀ
    beta = T(1);
  }
  if (xdot) {
    gemm(false, true, B, N, D, T(1), xdot, D, w, D, beta, ydot, N);  // ẋ·Wᵀ
    beta = T(1);
  }
  if (beta == T(0)) std::fill_n(ydot, std::size_t(B) * N, T(0));
  if (bdot)
    for (int r = 0; r < B; ++r)
      for (int j = 0; j < N; ++j) ydot[std::size_t(r) * N + j] += bdot[j];
}

template <class T>
void CpuKernels<T>::linear_backward_tangent(int B, int D, int N, const T* x, const T* xdot,
                                            const T* w, const T* wdot, const T* dy, const T* dydot,
                                            T* dxdot, T* dwdot, T* dbdot) {
  if (dxdot) {
    gemm(false, false, B, D, N, T(1), dydot, N, w, D, T(0), dxdot, D);            // ḋy·W
    if (wdot) gemm(false, false, B, D, N, T(1), dy, N, wdot, D, T(1), dxdot, D);  // + dy·Ẇ
  }
  gemm(true, false, N, D, B, T(1), dydot, N, x, D, T(0), dwdot, D);            // ḋyᵀ·x
  if (xdot) gemm(true, false, N, D, B, T(1), dy, N, xdot, D, T(1), dwdot, D);  // + dyᵀ·ẋ
  if (dbdot)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int r = 0; r < B; ++r) acc += dydot[std::size_t(r) * N + j];
      dbdot[j] = T(acc);
    }
}

template <class T>
void CpuKernels<T>::softmax_xent_backward_tangent(int B, int N, const T* probs, const T* ldot,
                                                  T dloss, T* dlogits_dot) {
  const double scale = double(dloss) / B;
  for (int r = 0; r < B; ++r) {
    const T* p = probs + std::size_t(r) * N;
    const T* l = ldot + std::size_t(r) * N;
    T* o = dlogits_dot + std::size_t(r) * N;
    double mean = 0;  // Σ_j p_j·l̇_j
    for (int j = 0; j < N; ++j) mean += double(p[j]) * double(l[j]);
    for (int j = 0; j < N; ++j) o[j] = T(scale * double(p[j]) * (double(l[j]) - mean));
  }
}

#define FSH_INSTANTIATE(T)                                                                         \
  template void CpuKernels<T>::linear_forward_tangent(int, int, int, const T*, const T*, const T*, \
                                                      const T*, const T*, T*);                     \
  template void CpuKernels<T>::linear_backward_tangent(                                            \
      int, int, int, const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*);      \
  template void CpuKernels<T>::softmax_xent_backward_tangent(int, int, const T*, const T*, T, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
