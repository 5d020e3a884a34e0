// bench-maml: speed and memory of MAML (methods/maml.hpp) at Omniglot size: Conv-4 on
// 28×28×1 images, hidden 64, 5-way head.
//   meta-training: one task's meta-gradient (Method::loss_and_grad), 5-way 1-shot 5-query,
//     1 inner step, second and first order, at --threads;
//   adaptation: one 5-way 1-shot 15-query episode's adapted classifier (Method::adapt: 3 inner
//     steps, the final support forward and the folding), on 1 thread and at --threads;
//   memory: peak resident memory after meta-training with 1, 3 and 5 inner steps (second order;
//     ru_maxrss of this process, so each figure also bounds the ones before it).
// Achieved GFLOP/s count the convolutions only (rule below). Medians over repeats, each timed
// iteration interleaved with one OpenBLAS sgemm (1024³, threaded over --threads) so both see the
// same machine load. Heap allocations of the steady-state meta-gradient loop are counted (a global
// operator new) and printed.
//
// Usage: bench-maml [--threads N] [--repeats R]   (default: all cores, 30 repeats)
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "backend/registry.hpp"
#include "common/cli.hpp"
#include "methods/method.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

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

struct Sgemm {
  int n = 1024;
  std::vector<float> a, b, c;
  Sgemm() : a(std::size_t(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size()) {}
  double seconds() {
    openblas_set_num_threads(fsh::threads());
    auto t0 = clock_type::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    openblas_set_num_threads(1);
    return s;
  }
  double gflops(double s) const { return 2.0 * n * n * n / s * 1e-9; }
};

fsh::EpisodeTensors episode(int way, int shot, int query, fsh::Rng& rng) {
  fsh::EpisodeTensors e;
  e.n_way = way;
  e.k_shot = shot;
  e.n_query = query;
  e.channels = 1;
  e.height = e.width = 28;
  e.support.resize(std::size_t(way) * shot * 784);
  e.query.resize(std::size_t(way) * query * 784);
  for (auto& v : e.support) v = float(rng.uniform());
  for (auto& v : e.query) v = float(rng.uniform());
  for (int n = 0; n < way; ++n) {
    for (int k = 0; k < shot; ++k) e.support_labels.push_back(n);
    for (int q = 0; q < query; ++q) e.query_labels.push_back(n);
  }
  return e;
}

std::unique_ptr<fsh::Method> maml(int inner_steps, bool first_order) {
  fsh::ModelConfig m;
  m.method = "maml";
  m.settings = {
      {"ways", int64_t(5)}, {"inner_steps", int64_t(inner_steps)}, {"first_order", first_order}};
  auto method = fsh::make_method(m);
  fsh::Rng rng(1);
  method->init(rng);
  return method;
}

// Conv FLOPs (the rule of bench-nn: 2·B·Cout·Hout·Wout·Cin·k·k per convolution; batch norm,
// pooling, im2col and the head are not counted) of `first` convolutions of block 0 and `rest`
// of each other block, on B images.
double conv_flops(int B, double first, double rest) {
  const fsh::Conv4Config c;
  double total = 0;
  for (int i = 0; i < c.depth; ++i) {
    const int cin = i == 0 ? c.in_channels : c.hidden, h = c.height >> i, w = c.width >> i;
    total += (i == 0 ? first : rest) * 2.0 * B * c.hidden * h * w * cin * 9;
  }
  return total;
}
// Convolutions per block: forward 1; backward 2 (data + weight gradient; block 0 needs no data
// gradient: 1); Hessian-vector product 7 (forward tangent 2, backward tangent: weight 2, data 3
// (the primal data gradient again and two tangent terms); block 0: 1 + 1).
double fwd_bwd(int B) { return conv_flops(B, 2, 3); }
double hvp(int B) { return conv_flops(B, 2, 7); }

struct Timing {
  double ms, sgemm_gflops;
  long allocations;
};

template <class F>
Timing time_it(int repeats, Sgemm& sgemm, F&& f) {
  for (int r = 0; r < 3; ++r) f();  // warm-up: workspaces reach their size
  std::vector<double> t, g;
  const long before = g_allocations.load();
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock_type::now();
    f();
    t.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    g.push_back(sgemm.gflops(sgemm.seconds()));
  }
  return {median(t) * 1e3, median(g), (g_allocations.load() - before) / repeats};
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  return fsh::cli::run_main("bench-maml", argc, argv, [](int argc, char** argv) {
    CLI::App app{"bench-maml: MAML meta-training and adaptation speed, memory"};
    fsh::cli::CommonOptions common;
    int repeats = 30;
    fsh::cli::add_threads(app, common);
    app.add_option("--repeats", repeats, "timed repeats of each measurement")
        ->check(CLI::Range(1, 100000));
    fsh::cli::parse(app, argc, argv);
    fsh::set_threads(common.threads);
    const int threads = fsh::threads();
    std::printf(
        "bench-maml: backend %s, %d thread(s); Conv-4 28x28x1 hidden 64, 5-way head; "
        "medians over %d repeats; sgemm 1024^3 on %d thread(s) timed between them\n",
        fsh::default_backend().name(), threads, repeats, threads);
    Sgemm sgemm;
    fsh::Rng rng(7);
    const fsh::EpisodeTensors train = episode(5, 1, 5, rng), test = episode(5, 1, 15, rng);
    std::vector<float> grad;
    for (bool first_order : {false, true}) {
      auto m = maml(1, first_order);
      grad.resize(m->params().size());
      const Timing t = time_it(repeats, sgemm, [&] { m->loss_and_grad(train, grad.data()); });
      const double flops = fwd_bwd(5) + fwd_bwd(30) + (first_order ? 0 : hvp(5));
      std::printf(
          "meta-training, %s order, 5-way 1-shot 5-query, 1 inner step: %7.2f ms/task "
          "(%6.1f tasks/s), %d thread(s), %5.1f GFLOP/s | sgemm %6.1f GFLOP/s | heap "
          "allocations per task %ld\n",
          first_order ? "first " : "second", t.ms, 1e3 / t.ms, threads, flops / t.ms * 1e-6,
          t.sgemm_gflops, t.allocations);
    }
    auto m = maml(1, false);
    for (int n : {1, threads}) {
      fsh::set_threads(n);
      const Timing t = time_it(repeats, sgemm, [&] { m->adapt(test); });
      const double flops = 3 * fwd_bwd(5) + conv_flops(5, 1, 1);
      std::printf(
          "adaptation, 3 inner steps + fold, 5-way 1-shot (15 queries): %7.2f ms/episode, "
          "%d thread(s), %5.1f GFLOP/s | sgemm %6.1f GFLOP/s\n",
          t.ms, n, flops / t.ms * 1e-6, t.sgemm_gflops);
      if (threads == 1) break;
    }
    fsh::set_threads(threads);
    for (int steps : {1, 3, 5}) {
      auto ms = maml(steps, false);
      grad.resize(ms->params().size());
      const Timing t =
          time_it(std::max(3, repeats / 5), sgemm, [&] { ms->loss_and_grad(train, grad.data()); });
      std::printf(
          "meta-training, second order, %d inner step(s): %7.2f ms/task; peak resident "
          "memory of the process so far %.1f MB\n",
          steps, t.ms, peak_rss_mb());
    }
    return 0;
  });
}
