// Element-wise ops on the CPU, forward and backward: ReLU, and FiLM (per-channel scale and
// shift on the channel-major layout (C, B, HW)).
#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::relu_forward(std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
void CpuKernels<T>::relu_backward(std::size_t n, const T* y, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <class T>
void CpuKernels<T>::film_forward(int B, int C, int HW, const T* x, const T* scale,
                                 const T* shift, T* y) {
  const std::size_t per_channel = std::size_t(B) * HW;
  for (int c = 0; c < C; ++c) {
    const T g = scale[c], b = shift[c];
    const T* xc = x + c * per_channel;
    T* yc = y + c * per_channel;
    for (std::size_t p = 0; p < per_channel; ++p) yc[p] = xc[p] * g + b;
  }
}

template <class T>
void CpuKernels<T>::film_backward(int B, int C, int HW, const T* x, const T* scale, const T* dy,
                                  T* dx, T* dscale, T* dshift) {
  const std::size_t per_channel = std::size_t(B) * HW;
  for (int c = 0; c < C; ++c) {
    const T* xc = x + c * per_channel;
    const T* dyc = dy + c * per_channel;
    double sg = 0, sb = 0;
    for (std::size_t p = 0; p < per_channel; ++p) {
      sg += double(dyc[p]) * double(xc[p]);
      sb += double(dyc[p]);
    }
    if (dscale) dscale[c] = T(sg);
    if (dshift) dshift[c] = T(sb);
    if (dx) {
      const T g = scale[c];
      T* dxc = dx + c * per_channel;
      for (std::size_t p = 0; p < per_channel; ++p) dxc[p] = dyc[p] * g;
    }
  }
}

#define FSH_INSTANTIATE(T)                                                                     \
  template void CpuKernels<T>::relu_forward(std::size_t, const T*, T*);                        \
  template void CpuKernels<T>::relu_backward(std::size_t, const T*, const T*, T*);             \
  template void CpuKernels<T>::film_forward(int, int, int, const T*, const T*, const T*, T*);  \
  template void CpuKernels<T>::film_backward(int, int, int, const T*, const T*, const T*, T*,  \
                                             T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
