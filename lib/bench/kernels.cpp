// Kernel figures (see kernels.hpp).
#include "bench/kernels.hpp"

#include <cblas.h>

#include <algorithm>
#include <functional>

#include "backend/registry.hpp"
#include "eval/stats.hpp"
#include "util/rng.hpp"

namespace fsh::bench {

namespace {

// Per block: (Cin, H, W) of the convolution's input; 3×3 with padding 1 keeps H and W, and the
// 2×2 max-pool after it halves them (rounding down).
double conv_flops(const Conv4Config& c, int batch, bool backward) {
  double total = 0;
  int h = c.height, w = c.width;
  for (int i = 0; i < c.depth; ++i) {
    const int cin = i == 0 ? c.in_channels : c.hidden;
    const double fwd = 2.0 * batch * c.hidden * h * w * cin * 9;
    total += backward ? (i == 0 ? 1.0 : 2.0) * fwd : fwd;
    h /= 2;
    w /= 2;
  }
  return total;
}

// Median seconds of fn() over repeated calls: 2 warm-up calls, then at least 3 timed ones and
// as many more as fit in `seconds`.
double median_seconds(const std::function<void()>& fn, double seconds) {
  fn();
  fn();
  std::vector<double> t;
  Stopwatch total;
  while (t.size() < 3 || (total.seconds() < seconds && t.size() < 1000)) {
    Stopwatch s;
    fn();
    t.push_back(s.seconds());
  }
  return median(t);
}

double sgemm_gflops(int n, int blas_threads, double seconds) {
  std::vector<float> a(std::size_t(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size());
  openblas_set_num_threads(blas_threads);
  const double s = median_seconds(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n,
                    b.data(), n, 0.0f, c.data(), n);
      },
      seconds);
  openblas_set_num_threads(1);  // fsh's setting (backend/cpu/cpu_backend.cpp)
  return 2.0 * n * n * n / s * 1e-9;
}

}  // namespace

double conv4_forward_flops(const Conv4Config& c, int batch) { return conv_flops(c, batch, false); }
double conv4_backward_flops(const Conv4Config& c, int batch) { return conv_flops(c, batch, true); }

KernelFigures measure_kernels(const std::vector<Conv4Config>& shapes, int64_t pixels,
                              int threads, double seconds_each) {
  KernelFigures k;
  k.blas = blas_identity();
  set_threads(threads);
  k.threads = fsh::threads();
  k.sgemm_gflops_1t = sgemm_gflops(k.sgemm_size, 1, seconds_each);
  k.sgemm_gflops_nt = k.threads == 1 ? k.sgemm_gflops_1t
                                      : sgemm_gflops(k.sgemm_size, k.threads, seconds_each);
  for (const Conv4Config& shape : shapes) {
    ConvRate r;
    r.shape = Conv4Config{};
    r.shape.in_channels = shape.in_channels;
    r.shape.height = shape.height;
    r.shape.width = shape.width;
    const int batch = static_cast<int>(
        std::max<int64_t>(1, pixels / (int64_t(shape.height) * shape.width)));
    r.batch = batch;
    r.forward_flops = conv4_forward_flops(r.shape, batch);
    r.backward_flops = conv4_backward_flops(r.shape, batch);
    Conv4<float> net(r.shape);
    std::vector<float> params(net.layout().size()), grads(params.size());
    Rng rng(1);
    net.init(params.data(), rng);
    std::vector<float> x(std::size_t(batch) * r.shape.in_channels * r.shape.height *
                         r.shape.width);
    for (float& v : x) v = static_cast<float>(rng.uniform());
    std::vector<float> dfeat(std::size_t(batch) * net.feature_dim());
    for (float& v : dfeat) v = static_cast<float>(rng.uniform() - 0.5);
    auto forward = [&] { net.forward(params.data(), x.data(), batch, BnMode::batch); };
    // backward reads the tape of the last forward, which every call leaves in place.
    auto backward = [&] { net.backward(params.data(), dfeat.data(), grads.data()); };
    for (int t : {1, k.threads}) {
      if (t == k.threads && t == 1) {  // one thread is all there is: measured once
        r.forward_gflops_nt = r.forward_gflops_1t;
        r.backward_gflops_nt = r.backward_gflops_1t;
        break;
      }
      set_threads(t);
      const double f = median_seconds(forward, seconds_each);
      forward();
      const double b = median_seconds(backward, seconds_each);
      (t == 1 ? r.forward_gflops_1t : r.forward_gflops_nt) = r.forward_flops / f * 1e-9;
      (t == 1 ? r.backward_gflops_1t : r.backward_gflops_nt) = r.backward_flops / b * 1e-9;
    }
    set_threads(k.threads);
    k.conv.push_back(r);
  }
  return k;
}

}  // namespace fsh::bench
