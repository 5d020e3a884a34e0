// Helpers for the CPU kernels' hot loops (internal). The release build uses -O2, where GCC only
// vectorises loops written as fixed-width groups, so hot loops run over kLanes independent
// elements at a time plus a scalar tail. Reductions keep kLanes partial sums in T over blocks of
// kBlock elements and add the block sums in double: vectorised, with the rounding error of a
// float sum over at most kBlock/kLanes terms.
#pragma once
#include <algorithm>
#include <cstddef>

namespace fsh::detail {

constexpr std::size_t kLanes = 8;
constexpr std::size_t kBlock = 4096;

// Σ_p x_p and Σ_p x_p² over n elements after subtracting shift (which keeps Σ x² − (Σ x)²/n
// free of cancellation when the mean is large compared with the spread).
template <class T>
void shifted_moments(const T* x, std::size_t n, T shift, double& sum, double& sum_sq) {
  sum = 0;
  sum_sq = 0;
  for (std::size_t p = 0; p < n;) {
    const std::size_t end = std::min(n, p + kBlock);
    T a[kLanes] = {}, b[kLanes] = {};
    for (; p + kLanes <= end; p += kLanes)
      for (std::size_t j = 0; j < kLanes; ++j) {
        const T d = x[p + j] - shift;
        a[j] += d;
        b[j] += d * d;
      }
    for (; p < end; ++p) {
      const T d = x[p] - shift;
      a[0] += d;
      b[0] += d * d;
    }
    for (std::size_t j = 0; j < kLanes; ++j) {
      sum += a[j];
      sum_sq += b[j];
    }
  }
}

// Σ_p x_p over n elements.
template <class T>
double lane_sum(const T* x, std::size_t n) {
  double sum = 0;
  for (std::size_t p = 0; p < n;) {
    const std::size_t end = std::min(n, p + kBlock);
    T a[kLanes] = {};
    for (; p + kLanes <= end; p += kLanes)
      for (std::size_t j = 0; j < kLanes; ++j) a[j] += x[p + j];
    for (; p < end; ++p) a[0] += x[p];
    for (std::size_t j = 0; j < kLanes; ++j) sum += a[j];
  }
  return sum;
}

// y_p = a·x_p + b over n elements (y may alias x).
template <class T>
void affine(const T* x, std::size_t n, T a, T b, T* y) {
  std::size_t p = 0;
  for (; p + kLanes <= n; p += kLanes)
    for (std::size_t j = 0; j < kLanes; ++j) y[p + j] = a * x[p + j] + b;
  for (; p < n; ++p) y[p] = a * x[p] + b;
}

// y_p += x_p over n elements.
template <class T>
void add_into(const T* x, std::size_t n, T* y) {
  std::size_t p = 0;
  for (; p + kLanes <= n; p += kLanes)
    for (std::size_t j = 0; j < kLanes; ++j) y[p + j] += x[p + j];
  for (; p < n; ++p) y[p] += x[p];
}

}  // namespace fsh::detail
