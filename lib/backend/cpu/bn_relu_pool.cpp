// Fused batch norm -> ReLU -> 2×2 max-pool on the CPU, forward and backward: the tail of every
// Conv-4 block. Forward: one pass for the statistics, one pass that normalises, rectifies and
// pools (v = scale·x + shift, y = max(0, max of the window); on ties the top row, then the left
// column wins -- any winner is a valid subgradient). Only the pooled output and the
// window argmax are kept; the backward recomputes x̂ from x where it needs it.
//
// Backward. A gradient reaches position p only if p won its window and the window's output is
// positive (ReLU after max equals max after ReLU), so with dy' = dy routed to those positions:
//   dgamma = Σ dy'·x̂, dbeta = Σ dy' (sums over winners only),
//   dx_p = σ⁻¹·(γ·dy'_p − [p < m]·(γ·dbeta + x̂_p·γ·dgamma)/m),  m = S·HW (0: fixed statistics)
// (see batch_norm.cpp). The sums need only the pooled outputs; the second term is affine in x_p,
// so each plane of dx is written in one vectorised pass and its winners' γ·dy'/σ added while it
// is in cache. The conv-bias gradient is Σ_p dx_p, which the same quantities give in closed
// form.
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_kernels.hpp"
#include "backend/cpu/lanes.hpp"
#include "backend/cpu/parallel.hpp"

namespace fsh::detail {

namespace {
// One output row of the pool: rows r0 = x[0, W) and r1 = x[W, 2W) are normalised
// (v = scale·x + shift), reduced vertically, then horizontally, then rectified. Written as
// fixed-width, branch-free groups so that it vectorises. On ties the top row, then the left
// column wins (argmax = 2·row + column).
template <class T>
void pool_row_pair(const T* r0, int W, int Wo, T scale, T shift, T* y, uint8_t* arg) {
  constexpr int kChunk = 256;  // columns per step (even), bounds the stack buffers
  T vmax[kChunk];
  uint8_t vrow[kChunk];
  for (int w0 = 0; w0 < 2 * Wo; w0 += kChunk) {
    const int n = std::min(kChunk, 2 * Wo - w0);
    const T* a = r0 + w0;
    const T* b = a + W;
    for (int w = 0; w < n; ++w) {
      const T t0 = scale * a[w] + shift, t1 = scale * b[w] + shift;
      const bool lower = t1 > t0;
      vmax[w] = lower ? t1 : t0;
      vrow[w] = lower ? 2 : 0;
    }
    T* yo = y + w0 / 2;
    uint8_t* ao = arg + w0 / 2;
    for (int o = 0; o < n / 2; ++o) {
      const T left = vmax[2 * o], right = vmax[2 * o + 1];
      const bool r = right > left;
      const T best = r ? right : left;
      yo[o] = best > T(0) ? best : T(0);
      ao[o] = r ? uint8_t(vrow[2 * o + 1] + 1) : vrow[2 * o];
    }
  }
}
}  // namespace

template <class T>
void CpuKernels<T>::bn_relu_pool_forward(const BatchNormShape& bn, const PoolShape& pool,
                                         const T* x, const T* xbias, const T* gamma,
                                         const T* beta, T* mean, T* var, T* y,
                                         uint8_t* argmax) {
  const int H = pool.H, W = pool.W, Ho = pool.Ho(), Wo = pool.Wo();
  const std::size_t plane = std::size_t(H) * W, oplane = std::size_t(Ho) * Wo;
  const std::size_t per_channel = std::size_t(pool.B) * plane;
  const std::size_t m = std::size_t(bn.S) * plane;
  parallel_for(pool.C, [&](int c0, int c1) {
  for (int c = c0; c < c1; ++c) {
    const T* xc = x + c * per_channel;
    const T xb = xbias ? xbias[c] : T(0);
    if (bn.S > 0) {
      double sum, sum_sq;
      shifted_moments(xc, m, xc[0], sum, sum_sq);
      const double mu = sum / double(m);
      mean[c] = T(double(xc[0]) + mu + double(xb));
      var[c] = T(std::max(0.0, sum_sq / double(m) - mu * mu));
    }
    const double inv = 1.0 / std::sqrt(double(var[c]) + bn.eps);
    const T scale = T(double(gamma[c]) * inv);
    const T shift = T(double(beta[c]) + (double(xb) - double(mean[c])) * double(gamma[c]) * inv);
    for (int b = 0; b < pool.B; ++b) {
      const T* xp = xc + b * plane;
      T* yp = y + (std::size_t(c) * pool.B + b) * oplane;
      uint8_t* ap = argmax + (std::size_t(c) * pool.B + b) * oplane;
      for (int oh = 0; oh < Ho; ++oh)
        pool_row_pair(xp + std::size_t(2 * oh) * W, W, Wo, scale, shift, yp + oh * Wo,
                      ap + oh * Wo);
    }
  }
  });
}

template <class T>
void CpuKernels<T>::bn_relu_pool_backward(const BatchNormShape& bn, const PoolShape& pool,
                                          const T* x, const T* xbias, const T* gamma,
                                          const T* beta, const T* mean, const T* var,
                                          const T* y, const uint8_t* argmax, const T* dy, T* dx,
                                          T* dxbias, T* dgamma, T* dbeta) {
  const int H = pool.H, W = pool.W, Ho = pool.Ho(), Wo = pool.Wo();
  const std::size_t plane = std::size_t(H) * W, oplane = std::size_t(Ho) * Wo;
  const std::size_t per_channel = std::size_t(pool.B) * plane;
  const std::size_t m = std::size_t(bn.S) * plane;
  parallel_for(pool.C, [&](int c0, int c1) {
  for (int c = c0; c < c1; ++c) {
    const T* xc = x + c * per_channel;
    T* dxc = dx + c * per_channel;
    const std::size_t q0 = std::size_t(c) * pool.B * oplane;
    const double xb = xbias ? double(xbias[c]) : 0.0;
    const double mu = mean[c], g = gamma[c];
    const double inv = 1.0 / std::sqrt(double(var[c]) + bn.eps);
    // Pass 1, over the pooled outputs: Σ dy' and Σ dy'·x̂. A winner with y > 0 has pre-ReLU
    // value y = γ·x̂ + β, so x̂ = (y − β)/γ without looking into x (which needs γ ≠ 0).
    double sb = 0, sg = 0;
    const std::size_t nq = std::size_t(pool.B) * oplane;
    const T* yc = y + q0;
    const T* dyc = dy + q0;
    const uint8_t* ac = argmax + q0;
    if (g != 0) {
      T a[kLanes] = {}, b[kLanes] = {};
      const T bt = beta[c];
      std::size_t q = 0;
      for (; q + kLanes <= nq; q += kLanes)
        for (std::size_t j = 0; j < kLanes; ++j) {
          const T d = yc[q + j] > T(0) ? dyc[q + j] : T(0);
          a[j] += d;
          b[j] += d * (yc[q + j] - bt);
        }
      for (; q < nq; ++q) {
        const T d = yc[q] > T(0) ? dyc[q] : T(0);
        a[0] += d;
        b[0] += d * (yc[q] - bt);
      }
      for (std::size_t j = 0; j < kLanes; ++j) {
        sb += a[j];
        sg += b[j];
      }
      sg /= g;
    } else {
      for (int bi = 0; bi < pool.B; ++bi)
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow) {
            const std::size_t q = std::size_t(bi) * oplane + oh * Wo + ow;
            if (!(yc[q] > T(0))) continue;
            const uint8_t w = ac[q];
            const T xv = xc[bi * plane + std::size_t(2 * oh + (w >> 1)) * W + 2 * ow + (w & 1)];
            sb += double(dyc[q]);
            sg += double(dyc[q]) * ((double(xv) + xb - mu) * inv);
          }
    }
    dgamma[c] = T(sg);
    dbeta[c] = T(sb);
    // Pass 2, plane by plane while it is in cache: the statistics' term (affine in x over the
    // first m positions, zero after them), then the winners' direct term γ·dy'/σ.
    const double ta = m > 0 ? g * sb / double(m) : 0.0, tb = m > 0 ? g * sg / double(m) : 0.0;
    const double slope = -inv * inv * tb;  // coefficient of x_p
    const double offset = -inv * ta - inv * inv * tb * (xb - mu);
    const T direct = T(g * inv);
    for (int bi = 0; bi < pool.B; ++bi) {
      T* dp = dxc + bi * plane;
      if (std::size_t(bi) < std::size_t(bn.S))
        affine(xc + bi * plane, plane, T(slope), T(offset), dp);
      else
        std::memset(dp, 0, sizeof(T) * plane);
      const T* yq = yc + bi * oplane;
      const T* dq = dyc + bi * oplane;
      const uint8_t* aq = ac + bi * oplane;
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          const int q = oh * Wo + ow;
          if (!(yq[q] > T(0))) continue;
          const uint8_t w = aq[q];
          dp[std::size_t(2 * oh + (w >> 1)) * W + 2 * ow + (w & 1)] += direct * dq[q];
        }
    }
    // The conv-bias gradient Σ_p dx_p: Σ_{p<m} x_p = m·(μ − xb) when the statistics are those
    // of these rows; analytically it is 0 then, and γ·Σdy'/σ for fixed statistics.
    if (dxbias)
      dxbias[c] = T(g * inv * sb + double(m) * offset + slope * double(m) * (mu - xb));
  }
  });
}

#define FSH_INSTANTIATE(T)                                                                    \
  template void CpuKernels<T>::bn_relu_pool_forward(const BatchNormShape&, const PoolShape&,  \
                                                    const T*, const T*, const T*, const T*,   \
                                                    T*, T*, T*, uint8_t*);                    \
  template void CpuKernels<T>::bn_relu_pool_backward(                                         \
      const BatchNormShape&, const PoolShape&, const T*, const T*, const T*, const T*,        \
      const T*, const T*, const T*, const uint8_t*, const T*, T*, T*, T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
