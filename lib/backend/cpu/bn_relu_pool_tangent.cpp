// Tangents of the fused batch norm -> ReLU -> 2×2 max-pool (bn_relu_pool.cpp) on the CPU:
// forward-mode derivatives of its forward and of its backward, for exact Hessian-vector
// products (MAML's second-order meta-gradient). The ReLU mask and the pool's winners are those
// of the forward (the tangent of the active linear piece).
//
// Per channel, with x_p the input plus its bias, statistics over the first m = S·HW positions,
// σ⁻¹ = 1/√(var + ε) and x̂_p = (x_p − μ)·σ⁻¹, the tangent ẋ of the input moves them by
//   μ̇ = mean_{p<m} ẋ_p,   c₂ = mean_{p<m} x̂_p·ẋ_p,   (σ⁻¹)˙ = −σ⁻²·c₂,
//   x̂̇_p = σ⁻¹·(ẋ_p − μ̇ − x̂_p·c₂)
// (μ̇ = c₂ = 0 for statistics supplied by the caller, S = 0). Forward: a winner q with y_q > 0
// and position p has ẏ_q = γ̇·x̂_p + γ·x̂̇_p + β̇, every other output 0.
// Backward (bn_relu_pool.cpp): with g_p = dy routed to the positive winners, A = Σ g,
// B = Σ g·x̂ (over all rows: dβ and dγ),
//   dx_p = σ⁻¹·(γ·g_p − [p < m]·(γ·A + x̂_p·γ·B)/m).
// Differentiating, with ġ the routed tangent of dy, Ȧ = Σ ġ and Ḃ = Σ (ġ·x̂ + g·x̂̇):
//   ḋx_p = σ⁻¹·g_p·(γ̇ − σ⁻¹·c₂·γ) + σ⁻¹·γ·ġ_p + [p < m]·(K₀ + K₁·x̂_p + K₂·ẋ_p),
//   K₀ = σ⁻¹/m·(σ⁻¹·c₂·γ·A − γ̇·A − γ·Ȧ + σ⁻¹·γ·B·μ̇),
//   K₁ = σ⁻¹/m·(2·σ⁻¹·c₂·γ·B − γ̇·B − γ·Ḃ),   K₂ = −σ⁻²·γ·B/m,
// and ḋγ = Ḃ, ḋβ = Ȧ, ḋbias = Σ_p ḋx_p. The first term is affine in (x_p, ẋ_p) over the
// first m positions, so each plane is one vectorised pass plus the winners. Per-channel sums
// are accumulated in double for float and double alike; channels are independent and shared
// out among the threads, so the bits do not depend on the thread count.
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_kernels.hpp"
#include "backend/cpu/parallel.hpp"

namespace fsh::detail {

namespace {

// One channel's view of the forward: its input plane block and what normalises it.
template <class T>
struct Channel {
  const T* x;        // (B, H, W) conv output without bias
  const T* xdot;     // its tangent, or null (0)
  double xb, xbd;    // bias and its tangent
  double mu, inv;    // statistics: mean of x + xb, 1/√(var + ε)
  double mudot, c2;  // μ̇ and c₂ (0 for fixed statistics)

  double xhat(std::size_t p) const { return (double(x[p]) + xb - mu) * inv; }
  double xdot_at(std::size_t p) const { return (xdot ? double(xdot[p]) : 0.0) + xbd; }
  double xhat_dot(std::size_t p) const { return inv * (xdot_at(p) - mudot - xhat(p) * c2); }
};

// Fills the channel's statistics tangents from its first m positions.
template <class T>
void statistics_tangent(Channel<T>& ch, std::size_t m) {
  ch.mudot = ch.c2 = 0;
  if (m == 0) return;
  double s1 = 0, s2 = 0;
  for (std::size_t p = 0; p < m; ++p) {
    const double d = ch.xdot_at(p);
    s1 += d;
    s2 += ch.xhat(p) * d;
  }
  ch.mudot = s1 / double(m);
  ch.c2 = s2 / double(m);
}

// Position within the (H, W) plane of the winner of output (oh, ow) with argmax a.
inline std::size_t winner(int W, int oh, int ow, uint8_t a) {
  return std::size_t(2 * oh + (a >> 1)) * W + 2 * ow + (a & 1);
}

}  // namespace

template <class T>
void CpuKernels<T>::bn_relu_pool_forward_tangent(const BatchNormShape& bn, const PoolShape& pool,
                                                 const T* x, const T* xbias, const T* gamma,
                                                 const T* mean, const T* var, const T* y,
                                                 const uint8_t* argmax, const T* xdot,
                                                 const T* xbias_dot, const T* gamma_dot,
                                                 const T* beta_dot, T* ydot) {
  const int W = pool.W, Ho = pool.Ho(), Wo = pool.Wo();
  const std::size_t plane = std::size_t(pool.H) * W, oplane = std::size_t(Ho) * Wo;
  const std::size_t per_channel = std::size_t(pool.B) * plane;
  const std::size_t m = std::size_t(bn.S) * plane;
  parallel_for(pool.C, [&](int c0, int c1) {
    for (int c = c0; c < c1; ++c) {
      Channel<T> ch{x + c * per_channel,
                    xdot ? xdot + c * per_channel : nullptr,
                    xbias ? double(xbias[c]) : 0.0,
                    xbias_dot ? double(xbias_dot[c]) : 0.0,
                    double(mean[c]),
                    1.0 / std::sqrt(double(var[c]) + bn.eps),
                    0.0,
                    0.0};
      statistics_tangent(ch, m);
      const double g = gamma[c], gd = gamma_dot ? double(gamma_dot[c]) : 0.0;
      const double bd = beta_dot ? double(beta_dot[c]) : 0.0;
      for (int b = 0; b < pool.B; ++b) {
        const std::size_t q0 = (std::size_t(c) * pool.B + b) * oplane;
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow) {
            const std::size_t q = q0 + oh * Wo + ow;
            if (!(y[q] > T(0))) {
              ydot[q] = T(0);
              continue;
            }
            const std::size_t p = b * plane + winner(W, oh, ow, argmax[q]);
            ydot[q] = T(gd * ch.xhat(p) + g * ch.xhat_dot(p) + bd);
          }
      }
    }
  });
}

template <class T>
void CpuKernels<T>::bn_relu_pool_backward_tangent(const BatchNormShape& bn, const PoolShape& pool,
                                                  const T* x, const T* xbias, const T* gamma,
                                                  const T* mean, const T* var, const T* y,
                                                  const uint8_t* argmax, const T* dy, const T* xdot,
                                                  const T* xbias_dot, const T* gamma_dot,
                                                  const T* dydot, T* dx, T* dxdot, T* dxbias_dot,
                                                  T* dgamma_dot, T* dbeta_dot) {
  const int W = pool.W, Ho = pool.Ho(), Wo = pool.Wo();
  const std::size_t plane = std::size_t(pool.H) * W, oplane = std::size_t(Ho) * Wo;
  const std::size_t per_channel = std::size_t(pool.B) * plane;
  const std::size_t m = std::size_t(bn.S) * plane;
  parallel_for(pool.C, [&](int c0, int c1) {
    for (int c = c0; c < c1; ++c) {
      Channel<T> ch{x + c * per_channel,
                    xdot ? xdot + c * per_channel : nullptr,
                    xbias ? double(xbias[c]) : 0.0,
                    xbias_dot ? double(xbias_dot[c]) : 0.0,
                    double(mean[c]),
                    1.0 / std::sqrt(double(var[c]) + bn.eps),
                    0.0,
                    0.0};
      statistics_tangent(ch, m);
      const double g = gamma[c], gd = gamma_dot ? double(gamma_dot[c]) : 0.0;
      const double inv = ch.inv;
      const std::size_t q0 = std::size_t(c) * pool.B * oplane;
      // Sums over the positive winners: A, B and their tangents.
      double A = 0, Bs = 0, Ad = 0, Bd = 0;
      for (int b = 0; b < pool.B; ++b)
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow) {
            const std::size_t q = q0 + std::size_t(b) * oplane + oh * Wo + ow;
            if (!(y[q] > T(0))) continue;
            const std::size_t p = b * plane + winner(W, oh, ow, argmax[q]);
            const double xh = ch.xhat(p), gq = dy[q], gqd = dydot[q];
            A += gq;
            Bs += gq * xh;
            Ad += gqd;
            Bd += gqd * xh + gq * ch.xhat_dot(p);
          }
      if (dgamma_dot) dgamma_dot[c] = T(Bd);
      if (dbeta_dot) dbeta_dot[c] = T(Ad);
      // The statistics' terms as affine functions of x_p (without bias) and ẋ_p.
      double k0 = 0, k1 = 0, k2 = 0, p0 = 0, p1 = 0;
      if (m > 0) {
        const double im = 1.0 / double(m);
        k0 = inv * im * (inv * ch.c2 * g * A - gd * A - g * Ad + inv * g * Bs * ch.mudot);
        k1 = inv * im * (2 * inv * ch.c2 * g * Bs - gd * Bs - g * Bd);
        k2 = -inv * inv * g * Bs * im;
        p0 = -inv * g * A * im;   // primal: constant
        p1 = -inv * g * Bs * im;  // primal: coefficient of x̂_p
      }
      // x̂_p = inv·x_p + (xb − μ)·inv; ẋ_p (with bias tangent) = xdot_p + xbd.
      const double hoff = (ch.xb - ch.mu) * inv;
      const T t_slope_x = T(k1 * inv), t_slope_xd = T(k2);
      const T t_offset = T(k0 + k1 * hoff + k2 * ch.xbd);
      const T p_slope = T(p1 * inv), p_offset = T(p0 + p1 * hoff);
      const double win_g = inv * (gd - inv * ch.c2 * g), win_gd = inv * g, win_p = inv * g;
      const T* xc = ch.x;
      const T* xdc = ch.xdot;
      T* dxc = dx ? dx + c * per_channel : nullptr;
      T* dxdc = dxdot + c * per_channel;
      double bias_sum = 0;
      for (int b = 0; b < pool.B; ++b) {
        const std::size_t off = std::size_t(b) * plane;
        T* td = dxdc + off;
        T* pd = dxc ? dxc + off : nullptr;
        if (std::size_t(b) < std::size_t(bn.S)) {
          const T* xp = xc + off;
          const T* xdp = xdc ? xdc + off : nullptr;
          for (std::size_t p = 0; p < plane; ++p)
            td[p] = t_offset + t_slope_x * xp[p] + (xdp ? t_slope_xd * xdp[p] : T(0));
          if (pd)
            for (std::size_t p = 0; p < plane; ++p) pd[p] = p_offset + p_slope * xp[p];
        } else {
          std::memset(td, 0, sizeof(T) * plane);
          if (pd) std::memset(pd, 0, sizeof(T) * plane);
        }
        const std::size_t qb = q0 + std::size_t(b) * oplane;
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow) {
            const std::size_t q = qb + oh * Wo + ow;
            if (!(y[q] > T(0))) continue;
            const std::size_t p = winner(W, oh, ow, argmax[q]);
            td[p] += T(win_g * double(dy[q]) + win_gd * double(dydot[q]));
            if (pd) pd[p] += T(win_p * double(dy[q]));
          }
        if (dxbias_dot)
          for (std::size_t p = 0; p < plane; ++p) bias_sum += double(td[p]);
      }
      if (dxbias_dot) dxbias_dot[c] = T(bias_sum);
    }
  });
}

#define FSH_INSTANTIATE(T)                                                                        \
  template void CpuKernels<T>::bn_relu_pool_forward_tangent(                                      \
      const BatchNormShape&, const PoolShape&, const T*, const T*, const T*, const T*, const T*,  \
      const T*, const uint8_t*, const T*, const T*, const T*, const T*, T*);                      \
  template void CpuKernels<T>::bn_relu_pool_backward_tangent(                                     \
      const BatchNormShape&, const PoolShape&, const T*, const T*, const T*, const T*, const T*,  \
      const T*, const uint8_t*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*, \
      T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
