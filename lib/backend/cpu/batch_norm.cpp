// Batch norm on the CPU, forward and backward, with the ReLU that follows it fused in.
// Statistics come from the first S rows of the batch (S = B: ordinary batch statistics) or from
// the caller (S = 0). With statistics from rows < S applied to all B rows, the gradient is
//   dx_i = (1/σ)·(dx̂_i − [i < S]·(Σ_all dx̂ + x̂_i·Σ_all dx̂·x̂)/m),   dx̂ = γ·dy,  m = S·HW,
// which reduces to the textbook formula for S = B and to dx = dx̂/σ for fixed statistics.
// Sums are accumulated in double for float and double alike.
#include <cmath>

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::batch_norm_forward(const BatchNormShape& s, const T* x, const T* gamma,
                                       const T* beta, T* mean, T* var, T* xhat, T* y,
                                       bool relu) {
  const std::size_t per_channel = std::size_t(s.B) * s.HW;
  const std::size_t m = std::size_t(s.S) * s.HW;
  for (int c = 0; c < s.C; ++c) {
    const T* xc = x + c * per_channel;
    if (s.S > 0) {
      double sum = 0;
      for (std::size_t p = 0; p < m; ++p) sum += xc[p];
      const double mu = sum / double(m);
      double sq = 0;
      for (std::size_t p = 0; p < m; ++p) {
        double d = double(xc[p]) - mu;
        sq += d * d;
      }
      mean[c] = T(mu);
      var[c] = T(sq / double(m));
    }
    const T mu = mean[c];
    const T inv = T(1.0 / std::sqrt(double(var[c]) + s.eps));
    const T g = gamma[c], bt = beta[c];
    T* xh = xhat + c * per_channel;
    T* yc = y + c * per_channel;
    for (std::size_t p = 0; p < per_channel; ++p) {
      T h = (xc[p] - mu) * inv;
      T v = g * h + bt;
      xh[p] = h;
      yc[p] = relu && v < T(0) ? T(0) : v;
    }
  }
}

template <class T>
void CpuKernels<T>::batch_norm_backward(const BatchNormShape& s, const T* xhat, const T* gamma,
                                        const T* var, const T* y, const T* dy, T* dx, T* dgamma,
                                        T* dbeta, bool relu) {
  const std::size_t per_channel = std::size_t(s.B) * s.HW;
  const std::size_t m = std::size_t(s.S) * s.HW;
  for (int c = 0; c < s.C; ++c) {
    const T* xh = xhat + c * per_channel;
    const T* dyc = dy + c * per_channel;
    const T* yc = y + c * per_channel;
    double sg = 0, sb = 0;  // Σ dy'·x̂ and Σ dy', dy' = dy masked by the ReLU
    for (std::size_t p = 0; p < per_channel; ++p) {
      double d = relu && !(yc[p] > T(0)) ? 0.0 : double(dyc[p]);
      sb += d;
      sg += d * double(xh[p]);
    }
    dgamma[c] = T(sg);
    dbeta[c] = T(sb);
    if (!dx) continue;
    const T g = gamma[c];
    const T inv = T(1.0 / std::sqrt(double(var[c]) + s.eps));
    T* dxc = dx + c * per_channel;
    const T a = s.S > 0 ? T(double(g) * sb / double(m)) : T(0);  // Σ dx̂ / m
    const T b = s.S > 0 ? T(double(g) * sg / double(m)) : T(0);  // Σ dx̂·x̂ / m
    for (std::size_t p = 0; p < per_channel; ++p) {
      T d = relu && !(yc[p] > T(0)) ? T(0) : dyc[p];
      T v = g * d;
      if (p < m) v -= a + xh[p] * b;
      dxc[p] = v * inv;
    }
  }
}

#define FSH_INSTANTIATE(T)                                                                  \
  template void CpuKernels<T>::batch_norm_forward(const BatchNormShape&, const T*, const T*, \
                                                  const T*, T*, T*, T*, T*, bool);          \
  template void CpuKernels<T>::batch_norm_backward(const BatchNormShape&, const T*, const T*, \
                                                   const T*, const T*, const T*, T*, T*, T*,  \
                                                   bool);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
