// Tests of lib/nn: the flat parameter layout, Conv-4 (+ the ProtoNet loss) gradients against
// central finite differences in double precision in all three batch-norm modes, batch-norm
// folding (the folded primary network equals batch norm with supplied statistics), isolation of
// query rows under support statistics, and workspace reuse across batch sizes.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "backend/registry.hpp"
#include "nn/conv4.hpp"
#include "nn/params.hpp"
#include "test_nn_gradcheck.hpp"
#include "test_nn_protonet.hpp"
#include "util/error.hpp"

using fsh::test::check_gradient;
using fsh::test::random_vector;
using V = std::vector<double>;

using fsh::test::protonet_loss;

TEST_CASE("ParamLayout: named views over one flat buffer") {
  fsh::ParamLayout l;
  CHECK(l.add("a", {2, 3}) == 0);
  CHECK(l.add("b", {4}) == 6);
  CHECK(l.size() == 10);
  CHECK(l.at("b").offset == 6);
  CHECK(l.at("a").shape == std::vector<int>{2, 3});
  CHECK_THROWS_AS(l.add("a", {1}), fsh::usage_error);
  CHECK_THROWS_AS(l.add("c", {0, 2}), fsh::usage_error);
  CHECK_THROWS_AS(l.at("zzz"), fsh::usage_error);
  fsh::ParamSet<float> p(l);
  p.value("b")[1] = 5;
  CHECK(p.values()[7] == 5);
  p.grad("a")[0] = 1;
  p.zero_grads();
  CHECK(p.grads()[0] == 0);
}

TEST_CASE("Conv-4 shapes and seeded initialisation") {
  fsh::Conv4Config omni;
  CHECK(omni.feature_dim() == 64);
  fsh::Conv4Config mini;
  mini.in_channels = 3;
  mini.height = mini.width = 84;
  CHECK(mini.feature_dim() == 1600);
  fsh::Conv4<float> net(omni);
  CHECK(net.layout().at("conv0.weight").shape == std::vector<int>{64, 1, 3, 3});
  CHECK(net.layout().at("bn3.beta").offset + 64 == net.layout().size());
  std::vector<float> p1(net.layout().size()), p2(p1.size());
  fsh::Rng r1(7), r2(7);
  net.init(p1.data(), r1);
  net.init(p2.data(), r2);
  CHECK(p1 == p2);
  const auto& w = net.layout().at("conv1.weight");
  const float bound = 1.0f / std::sqrt(64.0f * 9.0f);
  double mean = 0;
  for (std::size_t i = 0; i < w.size; ++i) {
    CHECK(std::abs(p1[w.offset + i]) <= bound);
    mean += p1[w.offset + i];
  }
  CHECK(std::abs(mean / w.size) < 0.05 * bound);
  CHECK(p1[net.layout().at("bn2.gamma").offset] == 1.0f);
  fsh::Conv4Config tiny = omni;
  tiny.height = 15;
  CHECK_THROWS_AS(tiny.validate(), fsh::usage_error);
}

TEST_CASE("Conv-4 + ProtoNet loss: parameter and input gradients match finite differences") {
  fsh::Conv4Config cfg;
  cfg.height = cfg.width = 16;
  cfg.hidden = 4;
  const int N = 2, K = 2, Qn = 2;
  const int B = N * (K + Qn);
  std::vector<int32_t> support = {0, 0, 1, 1}, query = {0, 0, 1, 1};
  fsh::Conv4<double> net(cfg);
  const int F = net.feature_dim();
  fsh::Rng rng(11);
  V params(net.layout().size());
  net.init(params.data(), rng);
  // Non-trivial batch-norm affine parameters so their gradients are exercised.
  for (int i = 0; i < cfg.depth; ++i) {
    const auto& g = net.layout().at("bn" + std::to_string(i) + ".gamma");
    const auto& b = net.layout().at("bn" + std::to_string(i) + ".beta");
    for (std::size_t j = 0; j < g.size; ++j) {
      params[g.offset + j] = 0.7 + 0.6 * rng.uniform();
      params[b.offset + j] = 0.2 * (rng.uniform() - 0.5);
    }
  }
  V x = random_vector(std::size_t(B) * 16 * 16, rng, 0, 1);

  // Statistics for the fixed mode: those of a support-mode pass, then held constant.
  net.forward(params.data(), x.data(), B, fsh::BnMode::support, N * K);
  const std::vector<fsh::BnStats<double>> fixed = net.stats();

  for (auto mode : {fsh::BnMode::batch, fsh::BnMode::support, fsh::BnMode::fixed}) {
    CAPTURE(int(mode));
    auto loss = [&] {
      const double* f = net.forward(params.data(), x.data(), B, mode, N * K, &fixed);
      return protonet_loss<double>(N, F, support, query, f, nullptr);
    };
    const double* f = net.forward(params.data(), x.data(), B, mode, N * K, &fixed);
    V dfeat(std::size_t(B) * F), grads(params.size()), dx(x.size());
    protonet_loss<double>(N, F, support, query, f, dfeat.data());
    net.backward(params.data(), dfeat.data(), grads.data(), dx.data());
    check_gradient("Conv-4 parameters", params, loss, grads, 1000);
    check_gradient("Conv-4 input", x, loss, dx, 200);
  }
}

TEST_CASE("support statistics: a query's features do not depend on the other queries") {
  fsh::Conv4Config cfg;
  cfg.hidden = 8;
  fsh::Conv4<double> net(cfg);
  fsh::Rng rng(12);
  V params(net.layout().size());
  net.init(params.data(), rng);
  const int B = 6, S = 3, P = 28 * 28, F = net.feature_dim();
  V x = random_vector(std::size_t(B) * P, rng, 0, 1);
  const double* f = net.forward(params.data(), x.data(), B, fsh::BnMode::support, S);
  V before(f, f + std::size_t(B) * F);
  for (int p = 0; p < P; ++p) x[5 * P + p] = rng.uniform();  // change the last query only
  f = net.forward(params.data(), x.data(), B, fsh::BnMode::support, S);
  for (int i = 0; i < 5 * F; ++i) CHECK(f[i] == before[i]);
  bool changed = false;
  for (int i = 5 * F; i < 6 * F; ++i) changed |= f[i] != before[i];
  CHECK(changed);
  // With batch statistics every row sees the change.
  f = net.forward(params.data(), x.data(), B, fsh::BnMode::batch);
  V batch_stats(f, f + std::size_t(B) * F);
  for (int p = 0; p < P; ++p) x[5 * P + p] = rng.uniform();
  f = net.forward(params.data(), x.data(), B, fsh::BnMode::batch);
  CHECK(f[0] != batch_stats[0]);
  CHECK_THROWS_AS(net.forward(params.data(), x.data(), B, fsh::BnMode::support, 0),
                  fsh::usage_error);
  CHECK_THROWS_AS(net.forward(params.data(), x.data(), B, fsh::BnMode::fixed), fsh::usage_error);
}

template <class T>
void fold_case(double tol) {
  fsh::Conv4Config cfg;
  cfg.hidden = 16;
  fsh::Conv4<T> net(cfg);
  fsh::Rng rng(13);
  std::vector<T> params(net.layout().size());
  net.init(params.data(), rng);
  for (int i = 0; i < cfg.depth; ++i) {
    const auto& g = net.layout().at("bn" + std::to_string(i) + ".gamma");
    const auto& b = net.layout().at("bn" + std::to_string(i) + ".beta");
    for (std::size_t j = 0; j < g.size; ++j) {
      params[g.offset + j] = T(0.5 + rng.uniform());
      params[b.offset + j] = T(rng.uniform() - 0.5);
    }
  }
  const int S = 5, B = 9, P = 28 * 28, F = net.feature_dim();
  std::vector<T> x(std::size_t(B) * P);
  for (auto& v : x) v = T(rng.uniform());
  // The reference, always in double from the same (T-representable) values: support
  // statistics from the first S rows, applied as fixed statistics ...
  fsh::Conv4<double> net_d(cfg);
  const std::vector<double> params_d(params.begin(), params.end()), x_d(x.begin(), x.end());
  net_d.forward(params_d.data(), x_d.data(), B, fsh::BnMode::support, S);
  const auto stats_d = net_d.stats();
  const double* f = net_d.forward(params_d.data(), x_d.data(), B, fsh::BnMode::fixed, 0, &stats_d);
  const std::vector<double> ref(f, f + std::size_t(B) * F);
  // ... equal the folded primary network in T (conv -> ReLU -> pool, no batch norm), folded
  // with the statistics of a support pass in T.
  net.forward(params.data(), x.data(), B, fsh::BnMode::support, S);
  const auto stats = net.stats();
  fsh::PrimaryNet<T> primary(cfg, 3);
  std::vector<T> pp(primary.layout().size(), T(0));
  primary.fold_from(params.data(), stats, pp.data());
  const T* logits = primary.forward(pp.data(), x.data(), B);
  double worst = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    worst = std::max(worst, std::abs(double(primary.features()[i]) - ref[i]) /
                                (1 + std::abs(ref[i])));
  INFO("worst relative difference " << worst);
  CHECK(worst <= tol);
  // Head: logits = features·Wᵀ + b.
  const auto& hw = primary.layout().at("head.weight");
  const auto& hb = primary.layout().at("head.bias");
  for (std::size_t j = 0; j < hw.size; ++j) pp[hw.offset + j] = T(rng.uniform() - 0.5);
  for (std::size_t j = 0; j < hb.size; ++j) pp[hb.offset + j] = T(rng.uniform() - 0.5);
  logits = primary.forward(pp.data(), x.data(), B);
  // Through the head, features within tol·(1 + |f|) move the logit by at most
  // tol·Σ|w|·(1 + |f|); the head's own F-term sum adds F·u relative, far less.
  double l = pp[hb.offset + 2], spread = 0;
  for (int j = 0; j < F; ++j) {
    l += double(pp[hw.offset + 2 * F + j]) * ref[4 * F + j];
    spread += std::abs(double(pp[hw.offset + 2 * F + j])) * (1 + std::abs(ref[4 * F + j]));
  }
  CHECK(std::abs(double(logits[4 * 3 + 2]) - l) <= tol * (1 + spread));
  std::vector<T> again = fsh::primary_forward<T>(cfg, 3, pp.data(), x.data(), B);
  CHECK(std::equal(again.begin(), again.end(), logits));
}

TEST_CASE("batch-norm folding: primary network == Conv-4 with the supplied statistics") {
  // Compared with Conv-4 in double, so the tolerance is the rounding of one T computation,
  // derived (not tuned on one machine; BLAS kernels and thread counts change only the order of
  // the sums): each of the 4 layers sums n = C·3·3 ≤ 144 products, rounding like √n·u relative
  // to Σ|w·x|, which with random weights is ~0.7·√n times |y|: ~0.7·n·u of the features' scale
  // per layer, plus the support statistics (sums of S·H·W ≤ 3920 terms, √n·u). Four layers:
  // float (u = 6e-8) ≈ 3e-5, checked at 1e-4; double (u = 1.1e-16) ≈ 5e-14, checked at 1e-12.
  fold_case<double>(1e-12);
  fold_case<float>(1e-4);
  // The per-layer formula by hand: w' = w·γ/√(var+ε), b' = (b−μ)·γ/√(var+ε) + β.
  double w[2] = {1.0, -2.0}, b = 0.5, g = 3.0, be = 0.25, mu = 1.5, var = 4.0 - 1e-5;
  double wo[2], bo;
  fsh::fold_batch_norm<double>(1, 2, w, &b, &g, &be, &mu, &var, 1e-5, wo, &bo);
  CHECK(wo[0] == doctest::Approx(1.5));
  CHECK(wo[1] == doctest::Approx(-3.0));
  CHECK(bo == doctest::Approx(-1.25));
}

TEST_CASE("workspaces: results do not depend on earlier, larger or smaller batches") {
  fsh::Conv4Config cfg;
  cfg.hidden = 8;
  fsh::Rng rng(14);
  fsh::Conv4<float> a(cfg), b(cfg);
  std::vector<float> params(a.layout().size());
  a.init(params.data(), rng);
  std::vector<float> x(std::size_t(12) * 784);
  for (auto& v : x) v = float(rng.uniform());
  std::vector<float> df(std::size_t(5) * a.feature_dim()), ga(params.size()), gb(params.size());
  for (auto& v : df) v = float(rng.uniform() - 0.5);
  a.forward(params.data(), x.data(), 12, fsh::BnMode::batch);  // grow to 12 rows first
  const float* fa = a.forward(params.data(), x.data(), 5, fsh::BnMode::batch);
  std::vector<float> va(fa, fa + 5 * a.feature_dim());
  a.backward(params.data(), df.data(), ga.data());
  const float* fb = b.forward(params.data(), x.data(), 5, fsh::BnMode::batch);
  b.backward(params.data(), df.data(), gb.data());
  CHECK(std::equal(va.begin(), va.end(), fb));
  CHECK(ga == gb);
}

TEST_CASE("Conv-4 forward + backward (float) gives the same bits with 1 and 2 threads") {
  // Bit-equality holds for any BLAS kernels because at batch 60 every convolution here spans
  // at least 2 im2col blocks, so with 2 threads each block's gemm runs single-threaded, as with
  // 1 (lib/backend/cpu/conv.cpp). A gemm that OpenBLAS itself splits between threads may round
  // differently with some kernels (Nehalem's did), and fsh promises identical bits only for
  // the same --threads.
  fsh::Conv4Config cfg;  // 28×28×1, hidden 64: the benchmark's network
  fsh::Conv4<float> net(cfg);
  fsh::Rng rng(15);
  std::vector<float> params(net.layout().size());
  net.init(params.data(), rng);
  const int batch = 60;
  std::vector<float> x(std::size_t(batch) * 784), df(std::size_t(batch) * net.feature_dim());
  for (auto& v : x) v = float(rng.uniform());
  for (auto& v : df) v = float(rng.uniform() - 0.5);
  auto run = [&](int threads) {
    fsh::set_threads(threads);
    const float* f = net.forward(params.data(), x.data(), batch, fsh::BnMode::batch);
    std::vector<float> out(f, f + std::size_t(batch) * net.feature_dim());
    std::vector<float> g(params.size()), dx(x.size());
    net.backward(params.data(), df.data(), g.data(), dx.data());
    out.insert(out.end(), g.begin(), g.end());
    out.insert(out.end(), dx.begin(), dx.end());
    return out;
  };
  std::vector<float> one = run(1), two = run(2);
  fsh::set_threads(0);
  CHECK(one == two);
}

TEST_CASE("forward_inference: the same bits as forward, in every batch-norm mode and sign of γ") {
  // Reference: forward() itself. The inference pools take the window's largest (γ' < 0:
  // smallest) value before normalising instead of recording the argmax; the claim is that
  // features and statistics are identical, also with negative γ, from an inference tape
  // forward_reusing gives forward()'s bits, and backward and the tangents refuse the tape.
  fsh::Conv4Config cfg;
  cfg.hidden = 8;
  fsh::Rng rng(5);
  fsh::Conv4<float> net(cfg);
  std::vector<float> params(net.layout().size());
  net.init(params.data(), rng);
  for (int i = 0; i < cfg.depth; ++i) {  // every other channel's γ negative, one zero
    const fsh::ParamView& g = net.layout().at("bn" + std::to_string(i) + ".gamma");
    const fsh::ParamView& b = net.layout().at("bn" + std::to_string(i) + ".beta");
    for (std::size_t j = 0; j < g.size; ++j) {
      params[g.offset + j] = (j % 2 ? -1.0f : 1.0f) * float(0.5 + rng.uniform());
      params[b.offset + j] = float(rng.uniform() - 0.5);
    }
    params[g.offset + 2] = 0.0f;
  }
  const int batch = 6;
  std::vector<float> x(std::size_t(batch) * 784);
  for (auto& v : x) v = float(std::round(8 * rng.uniform()) / 8);  // ties in every window
  const std::size_t F = std::size_t(net.feature_dim());
  fsh::Conv4Tape<float> ref, inf, reused, direct;
  net.forward(params.data(), x.data(), batch, fsh::BnMode::batch, 0, nullptr, ref);
  std::vector<fsh::BnStats<float>> fixed = ref.stats();
  for (const int rows : {0, 2, -1}) {  // batch, support (2 rows), fixed statistics
    CAPTURE(rows);
    const fsh::BnMode mode = rows == 0 ? fsh::BnMode::batch
                             : rows > 0 ? fsh::BnMode::support
                                        : fsh::BnMode::fixed;
    const int r = rows > 0 ? rows : 0;
    const std::vector<fsh::BnStats<float>>* fx = rows < 0 ? &fixed : nullptr;
    const float* fd = net.forward(params.data(), x.data(), batch, mode, r, fx, ref);
    const float* fi = net.forward_inference(params.data(), x.data(), batch, mode, r, fx, inf);
    CHECK(std::equal(fd, fd + batch * F, fi));
    for (int i = 0; i < cfg.depth; ++i) {
      CHECK(ref.stats()[i].mean == inf.stats()[i].mean);
      CHECK(ref.stats()[i].var == inf.stats()[i].var);
    }
    std::vector<float> df(batch * F, 1.0f), g(params.size());
    CHECK_THROWS_AS(net.backward(params.data(), inf, df.data(), g.data()), fsh::usage_error);
    fsh::Conv4TangentTape<float> tt;
    CHECK_THROWS_AS(net.forward_tangent(params.data(), g.data(), inf, tt), fsh::usage_error);
    if (rows < 0) continue;
    // forward_reusing from an inference tape, FiLM-like change from block 1 on.
    std::vector<float> film = params;
    for (int i = 1; i < cfg.depth; ++i) {
      const fsh::ParamView& v = net.layout().at("bn" + std::to_string(i) + ".gamma");
      for (std::size_t j = 0; j < v.size; ++j) film[v.offset + j] *= -1.5f;
    }
    const float* fr = net.forward_reusing(film.data(), inf, 1, reused);
    const float* fdir = net.forward(film.data(), x.data(), batch, mode, r, nullptr, direct);
    CHECK(std::equal(fdir, fdir + batch * F, fr));
    CHECK_FALSE(std::equal(fd, fd + batch * F, fr));
    CHECK_THROWS_AS(net.forward_reusing(film.data(), reused, 2, direct), fsh::usage_error);
  }
}

TEST_CASE("forward_reusing: blocks before FiLM reused; the same bits as forward") {
  // The reference is forward() itself on the changed parameters: the claim is bit-identity
  // (blocks before `from` and block `from`'s convolution and statistics do not depend on the
  // γ, β of block `from` onward), in both batch modes and from every block.
  fsh::Conv4Config cfg;
  cfg.hidden = 8;
  fsh::Rng rng(21);
  fsh::Conv4<float> net(cfg);
  std::vector<float> params(net.layout().size());
  net.init(params.data(), rng);
  const int batch = 7;
  std::vector<float> x(std::size_t(batch) * 784);
  for (auto& v : x) v = float(rng.uniform());
  const std::size_t F = std::size_t(net.feature_dim());
  for (int from = 0; from < cfg.depth; ++from) {
    std::vector<float> film = params;  // γ, β of blocks from.. changed, all else kept
    for (int i = from; i < cfg.depth; ++i)
      for (const char* what : {".gamma", ".beta"}) {
        const fsh::ParamView& v = net.layout().at("bn" + std::to_string(i) + what);
        for (std::size_t j = 0; j < v.size; ++j) film[v.offset + j] += float(rng.uniform() - 0.5);
      }
    for (const auto& mode_rows : {std::pair{fsh::BnMode::batch, 0},
                                  std::pair{fsh::BnMode::support, 3}}) {
      // Plain locals, not a structured binding: C++17 lets no lambda (CAPTURE) capture one.
      const fsh::BnMode mode = mode_rows.first;
      const int rows = mode_rows.second;
      CAPTURE(from);
      CAPTURE(rows);
      fsh::Conv4Tape<float> first, direct, reused;
      net.forward(params.data(), x.data(), batch, mode, rows, nullptr, first);
      const float* fd = net.forward(film.data(), x.data(), batch, mode, rows, nullptr, direct);
      const float* fr = net.forward_reusing(film.data(), first, from, reused);
      CHECK(std::equal(fd, fd + batch * F, fr));
      // ... and γ, β really changed the features, so the check can fail.
      CHECK_FALSE(std::equal(first.features(), first.features() + batch * F, fr));
      for (int i = 0; i < cfg.depth; ++i) {
        CHECK(direct.stats()[i].mean == reused.stats()[i].mean);
        CHECK(direct.stats()[i].var == reused.stats()[i].var);
      }
      std::vector<float> df(batch * F, 1.0f), g(params.size());
      CHECK_THROWS_AS(net.backward(film.data(), reused, df.data(), g.data()), fsh::usage_error);
    }
  }
  fsh::Conv4Tape<float> fixed_tape, out;
  net.forward(params.data(), x.data(), batch, fsh::BnMode::batch, 0, nullptr, fixed_tape);
  std::vector<fsh::BnStats<float>> stats = fixed_tape.stats();
  net.forward(params.data(), x.data(), batch, fsh::BnMode::fixed, 0, &stats, fixed_tape);
  CHECK_THROWS_AS(net.forward_reusing(params.data(), fixed_tape, 0, out), fsh::usage_error);
  net.forward(params.data(), x.data(), batch, fsh::BnMode::batch, 0, nullptr, fixed_tape);
  CHECK_THROWS_AS(net.forward_reusing(params.data(), fixed_tape, cfg.depth, out),
                  fsh::usage_error);
}
