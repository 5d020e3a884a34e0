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
// Usage: bench-nn [--threads N] [--repeats R] [-q|-v]
// The output names the BLAS kernels and the build target; the usual BLAS kernel warning
// (tools/common/cli.hpp, check_blas) goes to stderr.
#include <cblas.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "backend/cpu/blas_info.hpp"
#include "backend/registry.hpp"
#include "common/cli.hpp"
#include "nn/conv4.hpp"
#include "util/version.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

// Every allocation of the process goes through here (malloc/free underneath; GCC's
// -Wmismatched-new-delete cannot see that these replacements pair up).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
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

// C (M,N) = A (M,K) · B (K,N) with OpenBLAS's sgemm, timed one call at a time.
struct Sgemm {
  int M, N, K;
  std::vector<float> a, b, c;
  Sgemm(int m, int n, int k)
      : M(m), N(n), K(k), a(std::size_t(m) * k, 0.5f), b(std::size_t(k) * n, 0.25f),
        c(std::size_t(m) * n) {}
  // The reference is OpenBLAS at its best: threaded over --threads (fsh itself runs OpenBLAS
  // single-threaded and shares work out among its own workers, for thread-independent bits).
  double seconds() {
    openblas_set_num_threads(fsh::threads());
    auto t0 = clock_type::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data(), K, b.data(),
                N, 0.0f, c.data(), N);
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    openblas_set_num_threads(1);
    return s;
  }
  double flops() const { return 2.0 * M * N * K; }
};

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
  double seconds, images_per_s, gflops, sgemm_gflops, shaped_gflops;
  long allocations;
};

// Conv-4 forward + backward on `batch` images, each timed iteration interleaved with one
// sgemm of each reference size, so that both see the same machine load (other processes).
Result run_conv4(int batch, int repeats, Sgemm& square, Sgemm& shaped) {
  fsh::Conv4Config cfg;  // 28×28×1, hidden 64
  fsh::Conv4<float> net(cfg);
  std::vector<float> params(net.layout().size()), grads(params.size());
  fsh::Rng rng(1);
  net.init(params.data(), rng);
  std::vector<float> x(std::size_t(batch) * 28 * 28), dfeat(std::size_t(batch) * 64);
  for (auto& v : x) v = float(rng.uniform());
  for (auto& v : dfeat) v = float(rng.uniform() - 0.5);
  std::vector<double> times, t_square, t_shaped;
  times.reserve(repeats);
  t_square.reserve(repeats);
  t_shaped.reserve(repeats);
  for (int r = 0; r < 3; ++r) {  // warm-up: workspaces reach their size here
    net.forward(params.data(), x.data(), batch, fsh::BnMode::batch);
    net.backward(params.data(), dfeat.data(), grads.data());
    square.seconds();
    shaped.seconds();
  }
  const long before = g_allocations.load();
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock_type::now();
    net.forward(params.data(), x.data(), batch, fsh::BnMode::batch);
    net.backward(params.data(), dfeat.data(), grads.data());
    times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    t_square.push_back(square.seconds());
    t_shaped.push_back(shaped.seconds());
  }
  const long allocations = g_allocations.load() - before;
  double t = median(times);
  return Result{t,
                batch / t,
                conv4_flops(cfg, batch) / t * 1e-9,
                square.flops() / median(t_square) * 1e-9,
                shaped.flops() / median(t_shaped) * 1e-9,
                allocations};
}

}  // namespace

int main(int argc, char** argv) {
  return fsh::cli::run_main("bench-nn", argc, argv, [](int argc, char** argv) {
    CLI::App app{"bench-nn: Conv-4 forward+backward speed vs OpenBLAS sgemm"};
    fsh::cli::CommonOptions common;
    common.threads = 1;
    int repeats = 20;
    fsh::cli::add_threads(app, common);
    fsh::cli::add_verbosity(app, common);
    app.add_option("--repeats", repeats, "timed repeats for the 200-image batch (x20 for 5)")
        ->check(CLI::Range(1, 100000));
    fsh::cli::parse(app, argc, argv);
    fsh::cli::check_blas("bench-nn", common.verbosity, argv);
    fsh::set_threads(common.threads);

    std::printf("bench-nn: backend %s, %d thread(s), medians over repeats\n",
                fsh::default_backend().name(), fsh::threads());
    // The figures depend on both: name them with the results.
    std::printf("BLAS: %s\nbuild: %s\n", fsh::blas_summary().c_str(),
                fsh::build_target().c_str());
    std::printf("FLOPs counted: conv forward 2*B*Cout*Hout*Wout*Cin*k*k; backward 2x that "
                "(data + weight grads), first conv 1x (no input grad)\n");
    Sgemm square(1024, 1024, 1024), shaped(64, 200 * 196, 576);
    std::printf("sgemm references (timed between the Conv-4 iterations): 1024x1024x1024, and "
                "64x39200x576 = conv2's forward gemm on 200 images\n");
    bool ok = true;
    for (int batch : {200, 5}) {
      const int reps = batch == 200 ? repeats : repeats * 5;
      Result r = run_conv4(batch, reps, square, shaped);
      std::printf("Conv-4 fwd+bwd, batch %3d: %8.2f ms %7.0f images/s %6.1f GFLOP/s | sgemm "
                  "1024^3 %6.1f GFLOP/s (ratio %3.0f%%), conv-shaped %6.1f (ratio %3.0f%%) | heap "
                  "allocations in %d iterations: %ld\n",
                  batch, r.seconds * 1e3, r.images_per_s, r.gflops, r.sgemm_gflops,
                  100 * r.gflops / r.sgemm_gflops, r.shaped_gflops,
                  100 * r.gflops / r.shaped_gflops, reps, r.allocations);
      ok &= r.allocations == 0;
    }
    if (!ok) {
      std::fprintf(stderr, "bench-nn: error: the steady-state loop allocated heap memory\n");
      return 1;
    }
    return 0;
  });
}
