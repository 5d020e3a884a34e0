// Row-wise ops on the CPU, forward and backward side by side: linear (y = x·Wᵀ + b), softmax
// cross-entropy (mean over rows), squared Euclidean distance matrix, per-class means.
// Distances are summed directly as Σ(a − b)², not as ‖a‖² + ‖b‖² − 2a·b, so they carry no
// cancellation error and are exactly zero for identical rows.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/cpu_kernels.hpp"
#include "util/error.hpp"

namespace fsh::detail {

template <class T>
void CpuKernels<T>::linear_forward(int B, int D, int N, const T* x, const T* w, const T* b,
                                   T* y) {
  gemm(false, true, B, N, D, T(1), x, D, w, D, T(0), y, N);
  if (b)
    for (int r = 0; r < B; ++r)
      for (int j = 0; j < N; ++j) y[std::size_t(r) * N + j] += b[j];
}

template <class T>
void CpuKernels<T>::linear_backward(int B, int D, int N, const T* x, const T* w, const T* dy,
                                    T* dx, T* dw, T* db) {
  if (dx) gemm(false, false, B, D, N, T(1), dy, N, w, D, T(0), dx, D);  // (B,N)·(N,D)
  gemm(true, false, N, D, B, T(1), dy, N, x, D, T(0), dw, D);            // (N,B)·(B,D)
  if (db)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int r = 0; r < B; ++r) acc += dy[std::size_t(r) * N + j];
      db[j] = T(acc);
    }
}

template <class T>
T CpuKernels<T>::softmax_xent_forward(int B, int N, const T* logits, const int32_t* labels,
                                      T* probs, int32_t* pred, int* correct) {
  double loss = 0;
  int right = 0;
  for (int r = 0; r < B; ++r) {
    const T* z = logits + std::size_t(r) * N;
    T* p = probs + std::size_t(r) * N;
    int best = 0;
    for (int j = 1; j < N; ++j)
      if (z[j] > z[best]) best = j;
    const double zmax = z[best];
    double sum = 0;
    for (int j = 0; j < N; ++j) sum += std::exp(double(z[j]) - zmax);
    const double log_sum = std::log(sum);
    for (int j = 0; j < N; ++j) p[j] = T(std::exp(double(z[j]) - zmax - log_sum));
    const int32_t y = labels[r];
    if (y < 0 || y >= N)
      throw shape_error("softmax cross-entropy: label " + std::to_string(y) + " of row " +
                        std::to_string(r) + " is outside [0, " + std::to_string(N) + ")");
    loss += log_sum - (double(z[y]) - zmax);
    if (pred) pred[r] = best;
    if (best == y) ++right;
  }
  if (correct) *correct = right;
  return T(loss / B);
}

template <class T>
void CpuKernels<T>::softmax_xent_backward(int B, int N, const T* probs, const int32_t* labels,
                                          T dloss, T* dlogits) {
  const T scale = dloss / T(B);
  for (int r = 0; r < B; ++r) {
    const T* p = probs + std::size_t(r) * N;
    T* g = dlogits + std::size_t(r) * N;
    for (int j = 0; j < N; ++j) g[j] = scale * (p[j] - (j == labels[r] ? T(1) : T(0)));
  }
}

template <class T>
void CpuKernels<T>::sq_dist_forward(int M, int N, int D, const T* a, const T* b, T* d) {
  for (int i = 0; i < M; ++i) {
    const T* ai = a + std::size_t(i) * D;
    for (int j = 0; j < N; ++j) {
      const T* bj = b + std::size_t(j) * D;
      T acc = 0;
      for (int k = 0; k < D; ++k) {
        T t = ai[k] - bj[k];
        acc += t * t;
      }
      d[std::size_t(i) * N + j] = acc;
    }
  }
}

template <class T>
void CpuKernels<T>::sq_dist_backward(int M, int N, int D, const T* a, const T* b, const T* dd,
                                     T* da, T* db) {
  // ∂d_ij/∂a_i = 2(a_i − b_j), ∂d_ij/∂b_j = −2(a_i − b_j).
  if (da) std::fill_n(da, std::size_t(M) * D, T(0));
  if (db) std::fill_n(db, std::size_t(N) * D, T(0));
  for (int i = 0; i < M; ++i) {
    const T* ai = a + std::size_t(i) * D;
    for (int j = 0; j < N; ++j) {
      const T g = T(2) * dd[std::size_t(i) * N + j];
      const T* bj = b + std::size_t(j) * D;
      if (da) {
        T* dai = da + std::size_t(i) * D;
        for (int k = 0; k < D; ++k) dai[k] += g * (ai[k] - bj[k]);
      }
      if (db) {
        T* dbj = db + std::size_t(j) * D;
        for (int k = 0; k < D; ++k) dbj[k] -= g * (ai[k] - bj[k]);
      }
    }
  }
}

namespace {
// Checks that every label is in [0, N) and every class has rows (no allocation: the per-class
// counts are recomputed by scanning, which is cheap at episode sizes).
void check_classes(int R, int N, const int32_t* labels) {
  for (int r = 0; r < R; ++r)
    if (labels[r] < 0 || labels[r] >= N)
      throw shape_error("class means: label " + std::to_string(labels[r]) + " of row " +
                        std::to_string(r) + " is outside [0, " + std::to_string(N) + ")");
  for (int c = 0; c < N; ++c)
    if (std::find(labels, labels + R, c) == labels + R)
      throw shape_error("class means: class " + std::to_string(c) + " has no rows (" +
                        std::to_string(N) + " classes, " + std::to_string(R) + " rows)");
}
int class_count(int R, const int32_t* labels, int c) {
  return static_cast<int>(std::count(labels, labels + R, c));
}
}  // namespace

template <class T>
void CpuKernels<T>::class_means_forward(int R, int D, int N, const T* x, const int32_t* labels,
                                        T* means) {
  check_classes(R, N, labels);
  std::fill_n(means, std::size_t(N) * D, T(0));
  for (int r = 0; r < R; ++r) {
    T* m = means + std::size_t(labels[r]) * D;
    const T* xr = x + std::size_t(r) * D;
    for (int k = 0; k < D; ++k) m[k] += xr[k];
  }
  for (int c = 0; c < N; ++c) {
    const T inv = T(1) / T(class_count(R, labels, c));
    T* m = means + std::size_t(c) * D;
    for (int k = 0; k < D; ++k) m[k] *= inv;
  }
}

template <class T>
void CpuKernels<T>::class_means_backward(int R, int D, int N, const int32_t* labels,
                                         const T* dmeans, T* dx) {
  check_classes(R, N, labels);
  for (int r = 0; r < R; ++r) {
    const T inv = T(1) / T(class_count(R, labels, labels[r]));
    const T* g = dmeans + std::size_t(labels[r]) * D;
    T* d = dx + std::size_t(r) * D;
    for (int k = 0; k < D; ++k) d[k] = g[k] * inv;
  }
}

#define FSH_INSTANTIATE(T)                                                                      \
  template void CpuKernels<T>::linear_forward(int, int, int, const T*, const T*, const T*, T*); \
  template void CpuKernels<T>::linear_backward(int, int, int, const T*, const T*, const T*, T*, \
                                               T*, T*);                                         \
  template T CpuKernels<T>::softmax_xent_forward(int, int, const T*, const int32_t*, T*,        \
                                                 int32_t*, int*);                               \
  template void CpuKernels<T>::softmax_xent_backward(int, int, const T*, const int32_t*, T, T*); \
  template void CpuKernels<T>::sq_dist_forward(int, int, int, const T*, const T*, T*);          \
  template void CpuKernels<T>::sq_dist_backward(int, int, int, const T*, const T*, const T*, T*, \
                                                T*);                                            \
  template void CpuKernels<T>::class_means_forward(int, int, int, const T*, const int32_t*, T*); \
  template void CpuKernels<T>::class_means_backward(int, int, int, const int32_t*, const T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace fsh::detail
