// bench-nn: speed of the neural core. Forward + backward of Conv-4 (28×28×1, hidden 64, batch
// statistics) on a 200-image batch (20-way 5-shot 5-query) and a 5-image batch: images/s and
// achieved GFLOP/s, beside OpenBLAS's sgemm rate measured in the same run. Medians over repeats.
// It also asserts that the steady-state loop does no heap allocation (a global operator new
// counts every allocation of this process) and exits 1 if it does.
//
// FLOP counting rule (printed): a conv forward costs 2·B·Cout·Hout·Wout·Cin·k·k; its backward
// twice that (data gradient + weight gradient), except the first conv, whose data gradient (the
// input images) is not computed, so it counts once. Batch norm, ReLU, pooling, im2col and the
// transposes are not counted (they are memory-bound and small).
//
// Usage: bench-nn [--threads N] [--repeats R]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "backend/registry.hpp"
#include "common/cli.hpp"
#include "nn/conv4.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// GFLOP/s of C (M,N) = A (M,K) · B (K,N), median of `repeats` calls.
double sgemm_rate(int M, int N, int K, int repeats) {
  std::vector<float> a(std::size_t(M) * K, 0.5f), b(std::size_t(K) * N, 0.25f),
      c(std::size_t(M) * N);
  auto& k = fsh::cpu_backend().kernels<float>();
  k.gemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock_type::now();
    k.gemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
    t.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  return 2.0 * M * N * K / median(t) * 1e-9;
}

// Conv FLOPs of one forward + backward of Conv-4 on `batch` images (rule in the header).
double conv4_flops(const fsh::Conv4Config& c, int batch) {
  double total = 0;
  for (int i = 0; i < c.depth; ++i) {
    int cin = i == 0 ? c.in_channels : c.hidden;
    int h = c.height >> i, w = c.width >> i;  // 3×3, padding 1: Hout = H
    double fwd = 2.0 * batch * c.hidden * h * w * cin * 9;
    total += fwd + (i == 0 ? 1.0 : 2.0) * fwd;
  }
  return total;
}

struct Result {
  double seconds, images_per_s, gflops;
  long allocations;
};

Result run_conv4(int batch, int repeats) {
  fsh::Conv4Config cfg;  // 28×28×1, hidden 64
  fsh::Conv4<float> net(cfg);
  std::vector<float> params(net.layout().size()), grads(params.size());
  fsh::Rng rng(1);
  net.init(params.data(), rng);
  std::vector<float> x(std::size_t(batch) * 28 * 28), dfeat(std::size_t(batch) * 64);
  for (auto& v : x) v = float(rng.uniform());
  for (auto& v : dfeat) v = float(rng.uniform() - 0.5);
  std::vector<double> times;
  times.reserve(repeats);
  for (int r = 0; r < 3; ++r) {  // warm-up: workspaces reach their size here
    net.forward(params.data(), x.data(), batch, fsh::BnMode::batch);
    net.backward(params.data(), dfeat.data(), grads.data());
  }
  const long before = g_allocations.load();
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock_type::now();
    net.forward(params.data(), x.data(), batch, fsh::BnMode::batch);
    net.backward(params.data(), dfeat.data(), grads.data());
    times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  const long allocations = g_allocations.load() - before;
  double t = median(times);
  return Result{t, batch / t, conv4_flops(cfg, batch) / t * 1e-9, allocations};
}

}  // namespace

int main(int argc, char** argv) {
  return fsh::cli::run_main("bench-nn", argc, argv, [](int argc, char** argv) {
    CLI::App app{"bench-nn: Conv-4 forward+backward speed vs OpenBLAS sgemm"};
    fsh::cli::CommonOptions common;
    common.threads = 1;
    int repeats = 20;
    fsh::cli::add_threads(app, common);
    app.add_option("--repeats", repeats, "timed repeats for the 200-image batch (x20 for 5)")
        ->check(CLI::Range(1, 100000));
    fsh::cli::parse(app, argc, argv);
    fsh::set_threads(common.threads);

    std::printf("bench-nn: backend %s, %d thread(s), medians over repeats\n",
                fsh::default_backend().name(), fsh::threads());
    std::printf("FLOPs counted: conv forward 2*B*Cout*Hout*Wout*Cin*k*k; backward 2x that "
                "(data + weight grads), first conv 1x (no input grad)\n");
    const double sq = sgemm_rate(1024, 1024, 1024, 10);
    const double conv_shaped = sgemm_rate(64, 200 * 196, 576, 10);
    std::printf("sgemm 1024x1024x1024:            %8.1f GFLOP/s\n", sq);
    std::printf("sgemm 64x39200x576 (conv2 shape): %8.1f GFLOP/s\n", conv_shaped);
    bool ok = true;
    for (int batch : {200, 5}) {
      const int reps = batch == 200 ? repeats : repeats * 20;
      Result r = run_conv4(batch, reps);
      std::printf("Conv-4 fwd+bwd, batch %3d: %8.3f ms  %9.0f images/s  %7.1f GFLOP/s  "
                  "(%.0f%% of sgemm 1024^3)  heap allocations in %d timed iterations: %ld\n",
                  batch, r.seconds * 1e3, r.images_per_s, r.gflops, 100 * r.gflops / sq, reps,
                  r.allocations);
      ok &= r.allocations == 0;
    }
    if (!ok) {
      std::fprintf(stderr, "bench-nn: error: the steady-state loop allocated heap memory\n");
      return 1;
    }
    return 0;
  });
}
