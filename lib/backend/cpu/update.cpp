// Parameter updates over flat buffers on the CPU: Adam and SGD in PyTorch's formulation
// (torch.optim, single-tensor path), computed in the buffer's own precision like PyTorch does.
#include <cmath>

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::adam_update(std::size_t n, T* theta, const T* grad, T* m, T* v, double lr,
                                double beta1, double beta2, double eps, double weight_decay,
                                int64_t t) {
  const double bc1 = 1.0 - std::pow(beta1, double(t));
  const double bc2 = 1.0 - std::pow(beta2, double(t));
  const T step_size = T(lr / bc1);
  const T bc2_sqrt = T(std::sqrt(bc2));
  const T b1 = T(beta1), b2 = T(beta2), one_b1 = T(1.0 - beta1), one_b2 = T(1.0 - beta2);
  const T wd = T(weight_decay), e = T(eps);
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (weight_decay != 0) g += wd * theta[i];
    m[i] = m[i] * b1 + one_b1 * g;
    v[i] = v[i] * b2 + one_b2 * g * g;
    const T denom = std::sqrt(v[i]) / bc2_sqrt + e;
    theta[i] -= step_size * (m[i] / denom);
  }
}

template <class T>
void CpuKernels<T>::sgd_update(std::size_t n, T* theta, const T* grad, T* buf, double lr,
                               double momentum, double weight_decay, bool first_step) {
  const T mu = T(momentum), wd = T(weight_decay), a = T(lr);
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (weight_decay != 0) g += wd * theta[i];
    if (momentum != 0) {
      buf[i] = first_step ? g : mu * buf[i] + g;
      g = buf[i];
    }
    theta[i] -= a * g;
  }
}

#define FSH_INSTANTIATE(T)                                                                     \
  template void CpuKernels<T>::adam_update(std::size_t, T*, const T*, T*, T*, double, double,  \
                                           double, double, double, int64_t);                   \
  template void CpuKernels<T>::sgd_update(std::size_t, T*, const T*, T*, double, double,       \
                                          double, bool);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
