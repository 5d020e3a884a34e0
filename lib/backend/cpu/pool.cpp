// 2×2 max-pool with stride 2 (floor: an odd last row/column is dropped) on the CPU, forward and
// backward. The forward keeps, per output, which of the four inputs won (0..3 = row-major
// position in the window; the first maximum wins on ties) so the backward routes dy there.
#include <algorithm>

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::max_pool_forward(const PoolShape& s, const T* x, T* y, uint8_t* argmax) {
  const int Ho = s.Ho(), Wo = s.Wo();
  const std::size_t planes = std::size_t(s.C) * s.B;
  for (std::size_t q = 0; q < planes; ++q) {
    const T* xp = x + q * s.H * s.W;
    T* yp = y + q * Ho * Wo;
    uint8_t* ap = argmax + q * Ho * Wo;
    for (int oh = 0; oh < Ho; ++oh) {
      const T* r0 = xp + std::size_t(2 * oh) * s.W;
      const T* r1 = r0 + s.W;
      for (int ow = 0; ow < Wo; ++ow) {
        T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
        uint8_t best = 0;
        for (uint8_t t = 1; t < 4; ++t)
          if (v[t] > v[best]) best = t;
        yp[oh * Wo + ow] = v[best];
        ap[oh * Wo + ow] = best;
      }
    }
  }
}

template <class T>
void CpuKernels<T>::max_pool_backward(const PoolShape& s, const uint8_t* argmax, const T* dy,
                                      T* dx) {
  const int Ho = s.Ho(), Wo = s.Wo();
  const std::size_t planes = std::size_t(s.C) * s.B;
  for (std::size_t q = 0; q < planes; ++q) {
    T* dp = dx + q * s.H * s.W;
    const T* gp = dy + q * Ho * Wo;
    const uint8_t* ap = argmax + q * Ho * Wo;
    // Rows and columns outside the windows (odd H or W) get no gradient.
    if (s.H != 2 * Ho || s.W != 2 * Wo) std::fill(dp, dp + std::size_t(s.H) * s.W, T(0));
    for (int oh = 0; oh < Ho; ++oh) {
      T* r0 = dp + std::size_t(2 * oh) * s.W;
      T* r1 = r0 + s.W;
      for (int ow = 0; ow < Wo; ++ow) {
        const T g = gp[oh * Wo + ow];
        const uint8_t a = ap[oh * Wo + ow];
        r0[2 * ow] = a == 0 ? g : T(0);
        r0[2 * ow + 1] = a == 1 ? g : T(0);
        r1[2 * ow] = a == 2 ? g : T(0);
        r1[2 * ow + 1] = a == 3 ? g : T(0);
      }
    }
  }
}

#define FSH_INSTANTIATE(T)                                                                  \
  template void CpuKernels<T>::max_pool_forward(const PoolShape&, const T*, T*, uint8_t*); \
  template void CpuKernels<T>::max_pool_backward(const PoolShape&, const uint8_t*, const T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
