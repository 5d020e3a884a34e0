// Fused batch norm -> ReLU -> 2×2 max-pool on the CPU, forward and backward: the tail of every
// Conv-4 block. Forward: one pass for the statistics, one pass that normalises, rectifies and
// pools (v = scale·x + shift, y = max(0, max of the window); on ties the top row, then the left
// column wins -- any winner is a valid subgradient). Only the pooled output and the
// window argmax are kept; the backward recomputes x̂ from x where it needs it. Without an
// argmax (inference) the window's extreme raw value is normalised once: the same y. Float rows
// run four outputs at a time with SSE2 where the compiler targets it (every x86-64).
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
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// The same without the argmax (inference: nothing will run backward). The window's largest
// value is taken before the normalisation, which is monotone (non-decreasing for scale ≥ 0,
// non-increasing below: then the smallest is taken), so y is pool_row_pair's bit for bit for
// finite x.
template <class T>
void pool_row_pair_max(const T* r0, int W, int Wo, T scale, T shift, T* y) {
  const T* a = r0;
  const T* b = r0 + W;
  if (scale >= T(0)) {
    for (int o = 0; o < Wo; ++o) {
      const T m = std::max(std::max(a[2 * o], a[2 * o + 1]), std::max(b[2 * o], b[2 * o + 1]));
      const T v = scale * m + shift;
      y[o] = v > T(0) ? v : T(0);
    }
  } else {
    for (int o = 0; o < Wo; ++o) {
      const T m = std::min(std::min(a[2 * o], a[2 * o + 1]), std::min(b[2 * o], b[2 * o + 1]));
      const T v = scale * m + shift;
      y[o] = v > T(0) ? v : T(0);
    }
  }
}

#if defined(__SSE2__)
// Four outputs of pool_row_pair at once (columns [0, 8) of rows a and b), with the same
// comparisons and selections, so the same values and argmax. SSE2 is the x86-64 baseline.
inline void pool4(const float* a, const float* b, __m128 scale, __m128 shift, float* y,
                  uint8_t* arg) {
  const __m128 a0 = _mm_add_ps(_mm_mul_ps(scale, _mm_loadu_ps(a)), shift);
  const __m128 a1 = _mm_add_ps(_mm_mul_ps(scale, _mm_loadu_ps(a + 4)), shift);
  const __m128 b0 = _mm_add_ps(_mm_mul_ps(scale, _mm_loadu_ps(b)), shift);
  const __m128 b1 = _mm_add_ps(_mm_mul_ps(scale, _mm_loadu_ps(b + 4)), shift);
  const __m128 low0 = _mm_cmpgt_ps(b0, a0), low1 = _mm_cmpgt_ps(b1, a1);  // t1 > t0
  const __m128 v0 = _mm_or_ps(_mm_and_ps(low0, b0), _mm_andnot_ps(low0, a0));
  const __m128 v1 = _mm_or_ps(_mm_and_ps(low1, b1), _mm_andnot_ps(low1, a1));
  const __m128 left = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m128 right = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
  const __m128 r = _mm_cmpgt_ps(right, left);
  const __m128 best = _mm_or_ps(_mm_and_ps(r, right), _mm_andnot_ps(r, left));
  _mm_storeu_ps(y, _mm_and_ps(best, _mm_cmpgt_ps(best, _mm_setzero_ps())));
  // argmax = r ? row(right) + 1 : row(left), row = lower ? 2 : 0.
  const __m128i two = _mm_set1_epi32(2), one = _mm_set1_epi32(1);
  const __m128i row_l =
      _mm_and_si128(_mm_castps_si128(_mm_shuffle_ps(low0, low1, _MM_SHUFFLE(2, 0, 2, 0))), two);
  const __m128i row_r =
      _mm_and_si128(_mm_castps_si128(_mm_shuffle_ps(low0, low1, _MM_SHUFFLE(3, 1, 3, 1))), two);
  const __m128i ri = _mm_castps_si128(r);
  const __m128i am = _mm_or_si128(_mm_and_si128(ri, _mm_or_si128(row_r, one)),
                                  _mm_andnot_si128(ri, row_l));
  const __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(am, am), _mm_setzero_si128());
  const int word = _mm_cvtsi128_si32(bytes);
  std::memcpy(arg, &word, 4);
}

// Four outputs of pool_row_pair_max at once.
inline void pool4_max(const float* a, const float* b, bool up, __m128 scale, __m128 shift,
                      float* y) {
  const __m128 a0 = _mm_loadu_ps(a), a1 = _mm_loadu_ps(a + 4);
  const __m128 b0 = _mm_loadu_ps(b), b1 = _mm_loadu_ps(b + 4);
  const __m128 v0 = up ? _mm_max_ps(a0, b0) : _mm_min_ps(a0, b0);
  const __m128 v1 = up ? _mm_max_ps(a1, b1) : _mm_min_ps(a1, b1);
  const __m128 left = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m128 right = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
  const __m128 m = up ? _mm_max_ps(left, right) : _mm_min_ps(left, right);
  const __m128 v = _mm_add_ps(_mm_mul_ps(scale, m), shift);
  _mm_storeu_ps(y, _mm_and_ps(v, _mm_cmpgt_ps(v, _mm_setzero_ps())));
}
#endif

// One output row: vectorised groups of four where the instruction set allows, then the
// scalar kernels for the rest of the row. argmax null: pool_row_pair_max.
template <class T>
void pool_row(const T* r0, int W, int Wo, T scale, T shift, T* y, uint8_t* arg) {
  int o = 0;
#if defined(__SSE2__)
  if constexpr (std::is_same_v<T, float>) {
    const __m128 s = _mm_set1_ps(scale), t = _mm_set1_ps(shift);
    if (arg) {
      for (; o + 4 <= Wo; o += 4) pool4(r0 + 2 * o, r0 + W + 2 * o, s, t, y + o, arg + o);
    } else {
      const bool up = scale >= 0.0f;
      for (; o + 4 <= Wo; o += 4) pool4_max(r0 + 2 * o, r0 + W + 2 * o, up, s, t, y + o);
    }
  }
#endif
  if (o == Wo) return;
  if (arg)
    pool_row_pair(r0 + 2 * o, W, Wo - o, scale, shift, y + o, arg + o);
  else
    pool_row_pair_max(r0 + 2 * o, W, Wo - o, scale, shift, y + o);
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
      uint8_t* ap = argmax ? argmax + (std::size_t(c) * pool.B + b) * oplane : nullptr;
      for (int oh = 0; oh < Ho; ++oh)
        pool_row(xp + std::size_t(2 * oh) * W, W, Wo, scale, shift, yp + oh * Wo,
                 ap ? ap + oh * Wo : nullptr);
    }
  }
  });
}

template <class T>
void CpuKernels<T>::bias_relu_pool_forward(const PoolShape& pool, const T* x, const T* bias,
                                           T* y) {
  const int H = pool.H, W = pool.W, Ho = pool.Ho(), Wo = pool.Wo();
  const std::size_t plane = std::size_t(H) * W, oplane = std::size_t(Ho) * Wo;
  parallel_for(pool.C, [&](int c0, int c1) {
    for (int c = c0; c < c1; ++c)
      for (int b = 0; b < pool.B; ++b) {
        const std::size_t i = std::size_t(c) * pool.B + b;
        for (int oh = 0; oh < Ho; ++oh)
          pool_row(x + i * plane + std::size_t(2 * oh) * W, W, Wo, T(1), bias[c],
                   y + i * oplane + oh * Wo, nullptr);
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
  template void CpuKernels<T>::bias_relu_pool_forward(const PoolShape&, const T*, const T*, T*); \
  template void CpuKernels<T>::bn_relu_pool_backward(                                         \
      const BatchNormShape&, const PoolShape&, const T*, const T*, const T*, const T*,        \
      const T*, const T*, const T*, const uint8_t*, const T*, T*, T*, T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
