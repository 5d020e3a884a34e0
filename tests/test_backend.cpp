// Tests of lib/backend: every CPU op against an independent computation. Forward results are
// compared with naive loops written here (what goes through BLAS within the rounding-error
// bound of any summation order, so that no kernel or thread count can fail them; see
// check_bounded); every backward (inputs AND parameters) is compared with central finite
// differences in double precision (test_nn_gradcheck.hpp), using the loss L = Σ r ⊙ y for a
// fixed random r, so that the backward is fed dy = r. Also: the registry, the CPU backend's
// thread control, and that cpu/ does not depend on the registry.
#include <doctest/doctest.h>

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <limits>
#include <vector>

#include "backend/cpu/parallel.hpp"
#include "backend/registry.hpp"
#include "test_nn_gradcheck.hpp"
#include "util/error.hpp"

using fsh::test::check_gradient;
using fsh::test::dot;
using fsh::test::random_vector;
using V = std::vector<double>;

namespace {

fsh::Kernels<double>& K64() { return fsh::cpu_backend().kernels<double>(); }
fsh::Kernels<float>& K32() { return fsh::cpu_backend().kernels<float>(); }

// Direct convolution in the channel-major layout, x: (C, B, H, W) -> y: (K, B, Ho, Wo). When
// mag is given, it receives Σ|w·x| + |b| per output (for the error bound, see check_bounded).
V naive_conv(const fsh::ConvShape& s, const V& x, const V& w, const V& b, V* mag = nullptr) {
  V y(s.y_size());
  if (mag) mag->assign(s.y_size(), 0.0);
  const int Ho = s.Ho(), Wo = s.Wo();
  for (int k = 0; k < s.K; ++k)
    for (int n = 0; n < s.B; ++n)
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          double acc = b.empty() ? 0 : b[k], m = b.empty() ? 0 : std::abs(b[k]);
          for (int c = 0; c < s.C; ++c)
            for (int i = 0; i < s.kh; ++i)
              for (int j = 0; j < s.kw; ++j) {
                int ih = oh * s.stride - s.pad + i, iw = ow * s.stride - s.pad + j;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const double t = w[((k * s.C + c) * s.kh + i) * s.kw + j] *
                                 x[((std::size_t(c) * s.B + n) * s.H + ih) * s.W + iw];
                acc += t;
                m += std::abs(t);
              }
          const std::size_t o = ((std::size_t(k) * s.B + n) * Ho + oh) * Wo + ow;
          y[o] = acc;
          if (mag) (*mag)[o] = m;
        }
  return y;
}

// The rounding-error bound of a sum of n products computed in double in any order (any BLAS
// kernel, blocking or thread count, with or without FMA): |ŝ − s| ≤ γ_n·Σ|terms|,
// γ_n = n·u/(1 − n·u), u = 2^-53 (Higham, Accuracy and Stability of Numerical Algorithms,
// §3.1). The code under test and the naive reference each obey it, so they differ by at most
// twice that. A wrong result misses by O(Σ|terms|), ~1e13 times more.
double gamma_n(double n) {
  const double u = std::numeric_limits<double>::epsilon() / 2;
  return n * u / (1 - n * u);
}

// |a − b| ≤ 2·γ_n·mag elementwise; mag = Σ|terms| of each element, n = terms per element.
void check_bounded(const V& a, const V& b, const V& mag, double n, const char* what) {
  REQUIRE(a.size() == b.size());
  REQUIRE(mag.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double bound = 2 * gamma_n(n) * mag[i];
    const double err = std::abs(a[i] - b[i]);
    worst = std::max(worst, bound > 0 ? err / bound : (err > 0 ? 1e300 : 0.0));
  }
  INFO(what << ": worst error / bound = " << worst);
  CHECK(worst <= 1);
}

// Elementwise |a − b| ≤ tol·(1 + |b|), for fsh's own loops compared with each other.
void check_close(const V& a, const V& b, double tol, const char* what) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(b[i])));
  INFO(what << ": worst relative difference " << worst);
  CHECK(worst <= tol);
}

void conv_case(fsh::ConvShape s, uint64_t seed) {
  fsh::Rng rng(seed);
  V x = random_vector(s.x_size(), rng), w = random_vector(s.w_size(), rng),
    b = random_vector(s.K, rng), r = random_vector(s.y_size(), rng);
  V y(s.y_size()), work(s.workspace_size());
  K64().conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), work.data());
  V mag;
  const V ref = naive_conv(s, x, w, b, &mag);
  check_bounded(y, ref, mag, s.C * s.kh * s.kw + 1, "conv forward vs direct convolution");

  V dx(s.x_size()), dw(s.w_size()), db(s.K);
  K64().conv2d_backward(s, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(),
                        work.data());
  auto loss = [&] {
    K64().conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), work.data());
    return dot(r, y.data());
  };
  check_gradient("conv dx", x, loss, dx);
  check_gradient("conv dw", w, loss, dw);
  check_gradient("conv dbias", b, loss, db);
}

}  // namespace

TEST_CASE("gemm matches a triple loop for every transpose combination") {
  fsh::Rng rng(1);
  const int M = 5, N = 7, Kd = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      V a = random_vector(M * Kd, rng), b = random_vector(Kd * N, rng), c = random_vector(M * N, rng);
      V ref = c, mag(c.size());
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double acc = 0, m = 0;
          for (int k = 0; k < Kd; ++k) {
            const double t =
                (ta ? a[k * M + i] : a[i * Kd + k]) * (tb ? b[j * Kd + k] : b[k * N + j]);
            acc += t;
            m += std::abs(t);
          }
          mag[i * N + j] = 2.0 * m + 0.5 * std::abs(ref[i * N + j]);
          ref[i * N + j] = 2.0 * acc + 0.5 * ref[i * N + j];
        }
      K64().gemm(ta, tb, M, N, Kd, 2.0, a.data(), ta ? M : Kd, b.data(), tb ? Kd : N, 0.5,
                 c.data(), N);
      check_bounded(c, ref, mag, Kd + 2, "gemm");
    }
}

TEST_CASE("conv2d: forward equals direct convolution; gradients match finite differences") {
  SUBCASE("3x3, stride 1, padding 1") {
    fsh::ConvShape s;
    s.B = 2; s.C = 3; s.H = 5; s.W = 6; s.K = 4; s.kh = 3; s.kw = 3; s.stride = 1; s.pad = 1;
    conv_case(s, 2);
  }
  SUBCASE("2x3 kernel, stride 2, padding 1") {
    fsh::ConvShape s;
    s.B = 3; s.C = 2; s.H = 7; s.W = 6; s.K = 3; s.kh = 2; s.kw = 3; s.stride = 2; s.pad = 1;
    conv_case(s, 3);
  }
  SUBCASE("1x1 kernel, no padding") {
    fsh::ConvShape s;
    s.B = 2; s.C = 4; s.H = 3; s.W = 3; s.K = 2; s.kh = 1; s.kw = 1; s.stride = 1; s.pad = 0;
    conv_case(s, 4);
  }
}

TEST_CASE("conv2d over several im2col blocks equals the direct computation") {
  // 64·9·28·28 values per image: the 8 images are processed in more than one block.
  fsh::ConvShape s;
  s.B = 8; s.C = 64; s.H = 28; s.W = 28; s.K = 8; s.kh = 3; s.kw = 3; s.stride = 1; s.pad = 1;
  REQUIRE(s.workspace_size() < std::size_t(s.C) * 9 * s.B * s.Ho() * s.Wo());
  fsh::Rng rng(5);
  V x = random_vector(s.x_size(), rng), w = random_vector(s.w_size(), rng),
    b = random_vector(s.K, rng), dy = random_vector(s.y_size(), rng);
  V y(s.y_size()), work(s.workspace_size());
  K64().conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), work.data());
  V mag;
  const V ref = naive_conv(s, x, w, b, &mag);
  check_bounded(y, ref, mag, s.C * 9 + 1, "blocked conv forward");
  // Backward against the adjoint computed directly: dw[k,c,i,j] = Σ dy·x(shifted),
  // dx = Σ dy·w.
  V dx(s.x_size()), dw(s.w_size()), db(s.K);
  K64().conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                        work.data());
  V rdx(s.x_size(), 0.0), rdw(s.w_size(), 0.0), mdx(s.x_size(), 0.0), mdw(s.w_size(), 0.0);
  for (int k = 0; k < s.K; ++k)
    for (int n = 0; n < s.B; ++n)
      for (int oh = 0; oh < s.Ho(); ++oh)
        for (int ow = 0; ow < s.Wo(); ++ow) {
          double g = dy[((std::size_t(k) * s.B + n) * s.Ho() + oh) * s.Wo() + ow];
          for (int c = 0; c < s.C; ++c)
            for (int i = 0; i < 3; ++i)
              for (int j = 0; j < 3; ++j) {
                int ih = oh - 1 + i, iw = ow - 1 + j;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                std::size_t xi = ((std::size_t(c) * s.B + n) * s.H + ih) * s.W + iw;
                std::size_t wi = ((k * s.C + c) * 3 + i) * 3 + j;
                rdw[wi] += g * x[xi];
                rdx[xi] += g * w[wi];
                mdw[wi] += std::abs(g * x[xi]);
                mdx[xi] += std::abs(g * w[wi]);
              }
        }
  // dw sums B·Ho·Wo terms per weight (over blocks and chunks, in any order); dx sums at most
  // K·3·3 (the padding's terms are exact zeros).
  check_bounded(dw, rdw, mdw, double(s.B) * s.Ho() * s.Wo(), "blocked conv dw");
  check_bounded(dx, rdx, mdx, s.K * 9, "blocked conv dx");
}

TEST_CASE("batch norm (+ReLU): all three statistics modes, gradients through the statistics") {
  const int B = 5, C = 3, HW = 4;
  const std::size_t n = std::size_t(B) * C * HW;
  for (int S : {B, 2, 0})
    for (bool relu : {false, true}) {
      CAPTURE(S);
      CAPTURE(relu);
      fsh::Rng rng(10 + S + relu);
      fsh::BatchNormShape s{B, C, HW, S, 1e-5};
      V x = random_vector(n, rng, -2, 2), gamma = random_vector(C, rng, 0.5, 1.5),
        beta = random_vector(C, rng, -0.3, 0.3), r = random_vector(n, rng);
      V mean = random_vector(C, rng), var = random_vector(C, rng, 0.5, 2);  // used when S = 0
      V xhat(n), y(n);
      auto loss = [&] {
        K64().batch_norm_forward(s, x.data(), gamma.data(), beta.data(), mean.data(),
                                 var.data(), xhat.data(), y.data(), relu);
        return dot(r, y.data());
      };
      loss();
      // Forward against the definition, per channel over the first S rows (or fixed stats).
      for (int c = 0; c < C; ++c) {
        double mu = mean[c], v = var[c];
        if (S > 0) {
          double sum = 0, sq = 0;
          for (int p = 0; p < S * HW; ++p) sum += x[c * B * HW + p];
          mu = sum / (S * HW);
          for (int p = 0; p < S * HW; ++p) sq += std::pow(x[c * B * HW + p] - mu, 2);
          v = sq / (S * HW);
          CHECK(mean[c] == doctest::Approx(mu).epsilon(1e-12));
          CHECK(var[c] == doctest::Approx(v).epsilon(1e-12));
        }
        for (int p = 0; p < B * HW; ++p) {
          double ref = gamma[c] * (x[c * B * HW + p] - mu) / std::sqrt(v + 1e-5) + beta[c];
          if (relu) ref = std::max(ref, 0.0);
          CHECK(y[c * B * HW + p] == doctest::Approx(ref).epsilon(1e-12));
        }
      }
      V dx(n), dgamma(C), dbeta(C);
      K64().batch_norm_backward(s, xhat.data(), gamma.data(), var.data(), y.data(), r.data(),
                                dx.data(), dgamma.data(), dbeta.data(), relu);
      check_gradient("bn dx", x, loss, dx);
      check_gradient("bn dgamma", gamma, loss, dgamma);
      check_gradient("bn dbeta", beta, loss, dbeta);
    }
}

TEST_CASE("ReLU and FiLM: gradients match finite differences") {
  fsh::Rng rng(20);
  const int B = 3, C = 4, HW = 5;
  const std::size_t n = std::size_t(B) * C * HW;
  V x = random_vector(n, rng), r = random_vector(n, rng), y(n);
  auto relu_loss = [&] {
    K64().relu_forward(n, x.data(), y.data());
    return dot(r, y.data());
  };
  relu_loss();
  for (std::size_t i = 0; i < n; ++i) CHECK(y[i] == std::max(x[i], 0.0));
  V dx(n);
  K64().relu_backward(n, y.data(), r.data(), dx.data());
  check_gradient("relu dx", x, relu_loss, dx);

  V scale = random_vector(C, rng), shift = random_vector(C, rng);
  auto film_loss = [&] {
    K64().film_forward(B, C, HW, x.data(), scale.data(), shift.data(), y.data());
    return dot(r, y.data());
  };
  film_loss();
  CHECK(y[2 * B * HW + 7] == doctest::Approx(x[2 * B * HW + 7] * scale[2] + shift[2]));
  V dscale(C), dshift(C);
  K64().film_backward(B, C, HW, x.data(), scale.data(), r.data(), dx.data(), dscale.data(),
                      dshift.data());
  check_gradient("film dx", x, film_loss, dx);
  check_gradient("film dscale", scale, film_loss, dscale);
  check_gradient("film dshift", shift, film_loss, dshift);
}

TEST_CASE("2x2 max-pool (odd sizes, floor): forward and gradient") {
  fsh::Rng rng(30);
  fsh::PoolShape s{2, 3, 5, 7};  // Ho = 2, Wo = 3: last row and column dropped
  const std::size_t n = std::size_t(s.B) * s.C * s.H * s.W;
  // Distinct values (a shuffled ramp) so that no window has a tie.
  V x(n);
  std::vector<int64_t> order = rng.choose(int64_t(n), int64_t(n));
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.01 * double(order[i]);
  V r = random_vector(s.y_size(), rng), y(s.y_size());
  std::vector<uint8_t> arg(s.y_size());
  auto loss = [&] {
    K64().max_pool_forward(s, x.data(), y.data(), arg.data());
    return dot(r, y.data());
  };
  loss();
  for (int q = 0; q < s.B * s.C; ++q)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 3; ++ow) {
        const double* p = x.data() + q * 35;
        double ref = std::max({p[2 * oh * 7 + 2 * ow], p[2 * oh * 7 + 2 * ow + 1],
                               p[(2 * oh + 1) * 7 + 2 * ow], p[(2 * oh + 1) * 7 + 2 * ow + 1]});
        CHECK(y[q * 6 + oh * 3 + ow] == ref);
      }
  V dx(n, 123.0);  // every element must be written
  K64().max_pool_backward(s, arg.data(), r.data(), dx.data());
  check_gradient("max-pool dx", x, loss, dx);
}

TEST_CASE("linear: forward and gradients") {
  fsh::Rng rng(40);
  const int B = 4, D = 6, N = 3;
  V x = random_vector(B * D, rng), w = random_vector(N * D, rng), b = random_vector(N, rng),
    r = random_vector(B * N, rng), y(B * N);
  auto loss = [&] {
    K64().linear_forward(B, D, N, x.data(), w.data(), b.data(), y.data());
    return dot(r, y.data());
  };
  loss();
  double ref = b[2];
  for (int k = 0; k < D; ++k) ref += x[1 * D + k] * w[2 * D + k];
  CHECK(y[1 * N + 2] == doctest::Approx(ref).epsilon(1e-13));
  V dx(B * D), dw(N * D), db(N);
  K64().linear_backward(B, D, N, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  check_gradient("linear dx", x, loss, dx);
  check_gradient("linear dw", w, loss, dw);
  check_gradient("linear db", b, loss, db);
}

TEST_CASE("softmax cross-entropy: loss by hand, predictions, gradient") {
  // Hand calculation: logits (0, ln 3) for label 1: p = (1/4, 3/4), loss = −ln(3/4).
  V z = {0.0, std::log(3.0)}, p(2);
  int32_t label = 1, pred = -1;
  int correct = -1;
  double l = K64().softmax_xent_forward(1, 2, z.data(), &label, p.data(), &pred, &correct);
  CHECK(l == doctest::Approx(-std::log(0.75)).epsilon(1e-14));
  CHECK(p[0] == doctest::Approx(0.25).epsilon(1e-14));
  CHECK(pred == 1);
  CHECK(correct == 1);

  fsh::Rng rng(50);
  const int B = 5, N = 4;
  V logits = random_vector(B * N, rng, -3, 3), probs(B * N);
  std::vector<int32_t> labels = {0, 3, 1, 1, 2};
  auto loss = [&] {
    return K64().softmax_xent_forward(B, N, logits.data(), labels.data(), probs.data(), nullptr,
                                      nullptr);
  };
  loss();
  V dlogits(B * N);
  K64().softmax_xent_backward(B, N, probs.data(), labels.data(), 1.0, dlogits.data());
  check_gradient("xent dlogits", logits, loss, dlogits);
  labels[2] = 4;
  CHECK_THROWS_AS(loss(), fsh::shape_error);
}

TEST_CASE("squared distances and class means: forward and gradients") {
  fsh::Rng rng(60);
  const int M = 4, N = 3, D = 5;
  V a = random_vector(M * D, rng), b = random_vector(N * D, rng), r = random_vector(M * N, rng),
    d(M * N);
  auto loss = [&] {
    K64().sq_dist_forward(M, N, D, a.data(), b.data(), d.data());
    return dot(r, d.data());
  };
  loss();
  double ref = 0;
  for (int k = 0; k < D; ++k) ref += std::pow(a[3 * D + k] - b[1 * D + k], 2);
  CHECK(d[3 * N + 1] == doctest::Approx(ref).epsilon(1e-14));
  V da(M * D), db(N * D);
  K64().sq_dist_backward(M, N, D, a.data(), b.data(), r.data(), da.data(), db.data());
  check_gradient("sq_dist da", a, loss, da);
  check_gradient("sq_dist db", b, loss, db);

  const int R = 6;
  std::vector<int32_t> labels = {2, 0, 1, 0, 2, 2};
  V x = random_vector(R * D, rng), rm = random_vector(N * D, rng), means(N * D);
  auto mloss = [&] {
    K64().class_means_forward(R, D, N, x.data(), labels.data(), means.data());
    return dot(rm, means.data());
  };
  mloss();
  CHECK(means[2 * D + 1] == doctest::Approx((x[0 * D + 1] + x[4 * D + 1] + x[5 * D + 1]) / 3));
  V dx(R * D);
  K64().class_means_backward(R, D, N, labels.data(), rm.data(), dx.data());
  check_gradient("class means dx", x, mloss, dx);
  std::vector<int32_t> missing = {0, 0, 1, 1, 0, 1};  // class 2 absent
  CHECK_THROWS_AS(K64().class_means_forward(R, D, N, x.data(), missing.data(), means.data()),
                  fsh::shape_error);
}

TEST_CASE("the registry always has the CPU backend") {
  CHECK(std::string(fsh::default_backend().name()) == "cpu");
  CHECK(fsh::backend_names().front() == "cpu");
  CHECK(&fsh::backend("cpu") == &fsh::cpu_backend());
  CHECK_THROWS_AS(fsh::backend("no-such-backend"), fsh::usage_error);
}

TEST_CASE("thread control belongs to the backend; the registry forwards to every backend") {
  fsh::Backend& cpu = fsh::cpu_backend();
  const int all = static_cast<int>(std::thread::hardware_concurrency());
  // The thread ids a parallel loop of 8 items runs on: the pool must have the set size.
  auto ids = [] {
    std::mutex mu;
    std::set<std::thread::id> seen;
    fsh::detail::parallel_for(8, [&](int, int) {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
    });
    return seen.size();
  };
  fsh::set_threads(1);
  CHECK(cpu.threads() == 1);
  CHECK(fsh::threads() == 1);
  CHECK(openblas_get_num_threads() == 1);
  CHECK(ids() == 1);
  cpu.set_threads(2);
  CHECK(fsh::threads() == 2);
  CHECK(ids() == 2);
  // OpenBLAS itself always runs on one thread: fsh's pool does the sharing, in a partition
  // that does not depend on the count (so the bits do not either).
  CHECK(openblas_get_num_threads() == 1);
  // A negative count is refused, by either door, and changes nothing.
  CHECK_THROWS_AS(fsh::set_threads(-1), fsh::usage_error);
  CHECK_THROWS_AS(cpu.set_threads(-3), fsh::usage_error);
  CHECK(fsh::threads() == 2);
  fsh::set_threads(0);
  CHECK(fsh::threads() == (all > 0 ? all : 1));
}

TEST_CASE("the CPU backend does not include the registry (the dependency runs one way)") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(FSH_SOURCE_DIR) / "lib/backend/cpu")) {
    std::ifstream in(entry.path());
    REQUIRE(in);
    ++files;
    for (std::string line; std::getline(in, line);) {
      CAPTURE(entry.path().string());
      if (line.rfind("#include", 0) == 0) CHECK(line.find("registry") == std::string::npos);
    }
  }
  CHECK(files > 10);
}

TEST_CASE("fused batch norm -> ReLU -> max-pool equals the separate ops; gradients") {
  // Odd H and W (7×5): the dropped last row/column still gets the statistics' gradient.
  const int B = 4, C = 3, H = 7, W = 5;
  const std::size_t n = std::size_t(B) * C * H * W;
  fsh::PoolShape ps{B, C, H, W};
  for (int S : {B, 2, 0}) {
    CAPTURE(S);
    fsh::Rng rng(70 + S);
    fsh::BatchNormShape bs{B, C, H * W, S, 1e-5};
    V x = random_vector(n, rng, -2, 2), xb = random_vector(C, rng),
      gamma = random_vector(C, rng, 0.5, 1.5), beta = random_vector(C, rng, -0.3, 0.3);
    gamma[1] = -gamma[1];  // a negative scale reverses which input wins a window
    V mean = random_vector(C, rng), var = random_vector(C, rng, 0.5, 2);
    V r = random_vector(ps.y_size(), rng), y(ps.y_size());
    std::vector<uint8_t> arg(ps.y_size());
    auto loss = [&] {
      K64().bn_relu_pool_forward(bs, ps, x.data(), xb.data(), gamma.data(), beta.data(),
                                 mean.data(), var.data(), y.data(), arg.data());
      return dot(r, y.data());
    };
    loss();
    // Reference: bias, then the separate batch-norm (+ReLU) and pool ops.
    V xin = x, mean2 = mean, var2 = var, xhat(n), act(n), yref(ps.y_size());
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < B * H * W; ++p) xin[c * B * H * W + p] += xb[c];
    std::vector<uint8_t> arg2(ps.y_size());
    K64().batch_norm_forward(bs, xin.data(), gamma.data(), beta.data(), mean2.data(), var2.data(),
                             xhat.data(), act.data(), true);
    K64().max_pool_forward(ps, act.data(), yref.data(), arg2.data());
    check_close(y, yref, 1e-12, "fused forward vs separate ops");
    check_close(mean, mean2, 1e-12, "fused statistics: mean");
    check_close(var, var2, 1e-12, "fused statistics: var");

    V dx(n), dxb(C), dgamma(C), dbeta(C);
    K64().bn_relu_pool_backward(bs, ps, x.data(), xb.data(), gamma.data(), beta.data(),
                                mean.data(), var.data(), y.data(), arg.data(), r.data(),
                                dx.data(), dxb.data(), dgamma.data(), dbeta.data());
    check_gradient("fused dx", x, loss, dx);
    check_gradient("fused dxbias", xb, loss, dxb);
    check_gradient("fused dgamma", gamma, loss, dgamma);
    check_gradient("fused dbeta", beta, loss, dbeta);
  }
}

TEST_CASE("float fused batch norm -> ReLU -> max-pool: the vectorised rows, and inference") {
  // The float kernel runs its rows four outputs at a time (SSE2 on x86-64) with a scalar
  // tail, and without an argmax (inference) pools before normalising. Reference: the double
  // kernel's scalar rows (checked against the separate ops above) on the same inputs. The
  // inputs are multiples of 1/8, so windows hold exact ties (the tie rule is compared) and
  // distinct values stay far apart after float rounding (the argmax is exact). Widths cover
  // whole groups, tails and rows shorter than a group; γ is positive, negative and zero.
  const int B = 3, C = 4;
  for (const auto& hw : std::vector<std::pair<int, int>>{
           {28, 28}, {14, 14}, {7, 7}, {3, 3}, {6, 18}, {4, 9}, {2, 34}}) {
    const int H = hw.first, W = hw.second;
    for (int S : {B, 2, 0}) {
      CAPTURE(H);
      CAPTURE(W);
      CAPTURE(S);
      fsh::Rng rng(90 + H * W + S);
      const std::size_t n = std::size_t(B) * C * H * W;
      fsh::PoolShape ps{B, C, H, W};
      fsh::BatchNormShape bs{B, C, H * W, S, 1e-5};
      auto eighths = [&](std::size_t k, double lo, double hi) {
        V v = random_vector(k, rng, lo, hi);
        for (double& e : v) e = std::round(8 * e) / 8;
        return v;
      };
      const V x = eighths(n, -2, 2), xb = eighths(C, -0.5, 0.5), beta = eighths(C, -0.3, 0.3);
      const V gamma = {1.25, -0.75, 0.0, 0.5};
      V mean = {0.1, -0.2, 0.0, 0.3}, var = {1.5, 0.7, 1.0, 2.0};
      V yd(ps.y_size());
      std::vector<uint8_t> argd(ps.y_size());
      K64().bn_relu_pool_forward(bs, ps, x.data(), xb.data(), gamma.data(), beta.data(),
                                 mean.data(), var.data(), yd.data(), argd.data());
      // The double kernel without argmax: the same bits.
      V md = {0.1, -0.2, 0.0, 0.3}, vd = {1.5, 0.7, 1.0, 2.0}, yd2(ps.y_size());
      K64().bn_relu_pool_forward(bs, ps, x.data(), xb.data(), gamma.data(), beta.data(),
                                 md.data(), vd.data(), yd2.data(), nullptr);
      CHECK(yd2 == yd);

      auto f = [](const V& v) { return std::vector<float>(v.begin(), v.end()); };
      const std::vector<float> xf = f(x), xbf = f(xb), gf = f(gamma), bf = f(beta);
      std::vector<float> mf = {0.1f, -0.2f, 0.0f, 0.3f}, vf = {1.5f, 0.7f, 1.0f, 2.0f};
      std::vector<float> m2 = mf, v2 = vf, yf(ps.y_size()), yf2(ps.y_size());
      std::vector<uint8_t> argf(ps.y_size());
      K32().bn_relu_pool_forward(bs, ps, xf.data(), xbf.data(), gf.data(), bf.data(), mf.data(),
                                 vf.data(), yf.data(), argf.data());
      K32().bn_relu_pool_forward(bs, ps, xf.data(), xbf.data(), gf.data(), bf.data(), m2.data(),
                                 v2.data(), yf2.data(), nullptr);
      CHECK(yf2 == yf);  // inference: the same bits
      CHECK(m2 == mf);
      CHECK(v2 == vf);
      CHECK(argf == argd);
      int positive = 0;
      for (std::size_t q = 0; q < yd.size(); ++q) {
        CAPTURE(q);
        CHECK(std::abs(double(yf[q]) - yd[q]) <= 1e-5 * (1 + std::abs(yd[q])));
        positive += yd[q] > 0;
      }
      for (int c = 0; c < C; ++c) {
        CHECK(std::abs(double(mf[c]) - mean[c]) <= 1e-5 * (1 + std::abs(mean[c])));
        CHECK(std::abs(double(vf[c]) - var[c]) <= 1e-5 * (1 + var[c]));
      }
      CHECK(positive > 0);  // not all rectified away
    }
  }
}

TEST_CASE("bias -> ReLU -> max-pool in one pass equals the separate ops, bit for bit") {
  // Reference: the bias added element by element, relu_forward, max_pool_forward (the primary
  // network's block tail before it was fused). Inputs in eighths: exact ties in the windows;
  // shapes with whole four-output groups, tails and short rows, odd sizes.
  const int B = 3, C = 5;
  std::ptrdiff_t positive = 0, zero = 0;  // both outcomes of the ReLU occur
  for (const auto& hw : std::vector<std::pair<int, int>>{
           {28, 28}, {14, 14}, {7, 7}, {3, 3}, {6, 18}, {5, 9}, {2, 34}}) {
    const int H = hw.first, W = hw.second;
    CAPTURE(H);
    CAPTURE(W);
    fsh::Rng rng(300 + H * W);
    fsh::PoolShape ps{B, C, H, W};
    const std::size_t n = std::size_t(B) * C * H * W, plane = std::size_t(B) * H * W;
    std::vector<float> x(n), bias(C);
    for (float& v : x) v = float(std::round(8 * (rng.uniform() * 4 - 2)) / 8);
    for (float& v : bias) v = float(rng.uniform() - 0.5);
    std::vector<float> ref = x, yref(ps.y_size()), y(ps.y_size());
    for (int c = 0; c < C; ++c)
      for (std::size_t p = 0; p < plane; ++p) ref[c * plane + p] += bias[c];
    std::vector<uint8_t> arg(ps.y_size());
    K32().relu_forward(n, ref.data(), ref.data());
    K32().max_pool_forward(ps, ref.data(), yref.data(), arg.data());
    K32().bias_relu_pool_forward(ps, x.data(), bias.data(), y.data());
    CHECK(y == yref);
    positive += std::count_if(y.begin(), y.end(), [](float v) { return v > 0; });
    zero += std::count(y.begin(), y.end(), 0.0f);
    V xd(x.begin(), x.end()), bd(bias.begin(), bias.end()), yd(ps.y_size());
    K64().bias_relu_pool_forward(ps, xd.data(), bd.data(), yd.data());
    for (std::size_t q = 0; q < yd.size(); ++q) {
      CAPTURE(q);
      CHECK(std::abs(yd[q] - double(yref[q])) <= 1e-6 * (1 + yd[q]));
    }
  }
  CHECK(positive > 0);
  CHECK(zero > 0);
}

TEST_CASE("the kernels' own parallel loops give the same bits with 1 and 2 threads") {
  // What is compared is fsh's own loops, not OpenBLAS's threading: a gemm that OpenBLAS splits
  // between threads may round differently from the single-threaded one with some kernels
  // (Nehalem's dgemm did, with 8 channels here), and fsh does not promise thread-independent
  // bits then. 64 channels make both convolutions here (forward, and the data gradient's)
  // span 2 im2col blocks of 4 + 2 images, so with 2 threads each block's gemm runs
  // single-threaded, exactly as with 1 thread, whatever the kernels.
  const int B = 6, C = 64, H = 10, W = 10;
  fsh::PoolShape ps{B, C, H, W};
  fsh::BatchNormShape bs{B, C, H * W, 4, 1e-5};
  fsh::ConvShape cs;
  cs.B = B; cs.C = C; cs.H = H; cs.W = W; cs.K = C; cs.kh = 3; cs.kw = 3; cs.stride = 1; cs.pad = 1;
  fsh::Rng rng(80);
  V x = random_vector(cs.x_size(), rng), w = random_vector(cs.w_size(), rng),
    xb = random_vector(C, rng), gamma = random_vector(C, rng, 0.5, 1.5),
    beta = random_vector(C, rng), dy = random_vector(ps.y_size(), rng);
  auto run = [&](int threads) {
    fsh::set_threads(threads);
    V y(cs.y_size()), work(cs.workspace_size()), mean(C), var(C), pooled(ps.y_size()),
      dconv(cs.y_size()), dxb(C), dg(C), db(C), dx(cs.x_size()), dw(cs.w_size());
    std::vector<uint8_t> arg(ps.y_size());
    K64().conv2d_forward(cs, x.data(), w.data(), nullptr, y.data(), work.data());
    K64().bn_relu_pool_forward(bs, ps, y.data(), xb.data(), gamma.data(), beta.data(),
                               mean.data(), var.data(), pooled.data(), arg.data());
    K64().bn_relu_pool_backward(bs, ps, y.data(), xb.data(), gamma.data(), beta.data(),
                                mean.data(), var.data(), pooled.data(), arg.data(), dy.data(),
                                dconv.data(), dxb.data(), dg.data(), db.data());
    K64().conv2d_backward(cs, x.data(), w.data(), dconv.data(), dx.data(), dw.data(), nullptr,
                          work.data());
    V all = pooled;
    for (const V* v : {&dconv, &dxb, &dg, &db, &dx}) all.insert(all.end(), v->begin(), v->end());
    return all;
  };
  V one = run(1), two = run(2);
  fsh::set_threads(0);
  CHECK(one == two);
}

TEST_CASE("fused batch norm -> ReLU -> max-pool backward with gamma = 0") {
  // γ = 0 makes every window a tie (v = β); the top-left input wins, and dgamma must still be
  // Σ dy·x̂ over the winners (the path that reads x̂ from x rather than from y).
  const int B = 3, C = 1, H = 4, W = 4;
  fsh::PoolShape ps{B, C, H, W};
  fsh::BatchNormShape bs{B, C, H * W, B, 1e-5};
  fsh::Rng rng(90);
  V x = random_vector(std::size_t(B) * H * W, rng), gamma = {0.0}, beta = {0.5}, mean(1), var(1),
    y(ps.y_size()), dy = random_vector(ps.y_size(), rng), dx(x.size()), dxb(1), dg(1), db(1);
  std::vector<uint8_t> arg(ps.y_size());
  K64().bn_relu_pool_forward(bs, ps, x.data(), nullptr, gamma.data(), beta.data(), mean.data(),
                             var.data(), y.data(), arg.data());
  K64().bn_relu_pool_backward(bs, ps, x.data(), nullptr, gamma.data(), beta.data(), mean.data(),
                              var.data(), y.data(), arg.data(), dy.data(), dx.data(), dxb.data(),
                              dg.data(), db.data());
  double ref_g = 0, ref_b = 0;
  for (int b = 0; b < B; ++b)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 2; ++ow) {
        const int q = (b * 2 + oh) * 2 + ow;
        CHECK(y[q] == 0.5);
        CHECK(arg[q] == 0);
        const double xv = x[(b * H + 2 * oh) * W + 2 * ow];
        ref_g += dy[q] * (xv - mean[0]) / std::sqrt(var[0] + 1e-5);
        ref_b += dy[q];
      }
  CHECK(dg[0] == doctest::Approx(ref_g).epsilon(1e-12));
  CHECK(db[0] == doctest::Approx(ref_b).epsilon(1e-12));
  for (double v : dx) CHECK(v == 0.0);  // γ = 0: nothing reaches x
}

TEST_CASE("conv2d's weight gradient over many blocks gives the same bits with 1 and 2 threads") {
  // 40 images of 16×16×24: several im2col blocks, so several weight-gradient chunks, shared
  // differently between 1 and 2 threads; the chunks' fixed summation order keeps the bits.
  fsh::ConvShape cs;
  cs.B = 40; cs.C = 24; cs.H = 16; cs.W = 16; cs.K = 16; cs.kh = 3; cs.kw = 3; cs.stride = 1;
  cs.pad = 1;
  fsh::Rng rng(81);
  V x = random_vector(cs.x_size(), rng), w = random_vector(cs.w_size(), rng),
    dy = random_vector(cs.y_size(), rng);
  auto run = [&](int threads) {
    fsh::set_threads(threads);
    V y(cs.y_size()), work(cs.workspace_size()), dx(cs.x_size()), dw(cs.w_size()), db(cs.K);
    K64().conv2d_forward(cs, x.data(), w.data(), nullptr, y.data(), work.data());
    K64().conv2d_backward(cs, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                          work.data());
    V all = y;
    for (const V* v : {&dx, &dw, &db}) all.insert(all.end(), v->begin(), v->end());
    return all;
  };
  V one = run(1), two = run(2);
  fsh::set_threads(0);
  CHECK(one == two);
}

TEST_CASE("conv2d: 5x5 kernel, padding 2 (output size = input size, narrow images)") {
  fsh::ConvShape s;
  s.B = 3; s.C = 2; s.H = 6; s.W = 3; s.K = 3; s.kh = 5; s.kw = 5; s.stride = 1; s.pad = 2;
  conv_case(s, 6);
}
