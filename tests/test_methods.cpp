// Tests of lib/methods: ProtoNet's adapted head is exactly the distance form, the adapted
// (folded) classifier reproduces the training-time scores, ProtoNet's gradient agrees with
// finite differences (taken in double), and fsh-adapted files round-trip bit for bit.
#include <doctest/doctest.h>

#include <cmath>

#include "methods/adapted.hpp"
#include "methods/checkpoint.hpp"
#include "methods/protonet.hpp"
#include "nn/conv4.hpp"
#include "test_nn_gradcheck.hpp"
#include "test_nn_protonet.hpp"
#include "test_support.hpp"

using namespace fsh;

namespace {

// A random episode: N-way K-shot Q-query, 1×28×28 images with values in [0, 1].
EpisodeTensors random_episode(int N, int K, int Q, uint64_t seed) {
  Rng rng(seed);
  EpisodeTensors t;
  t.n_way = N, t.k_shot = K, t.n_query = Q, t.channels = 1, t.height = 28, t.width = 28;
  t.support.resize(std::size_t(N) * K * 784);
  t.query.resize(std::size_t(N) * Q * 784);
  // Class-dependent structure so the classes are distinguishable.
  std::vector<float> proto(std::size_t(N) * 784);
  for (auto& v : proto) v = static_cast<float>(rng.uniform());
  for (int c = 0; c < N; ++c) {
    for (int k = 0; k < K; ++k) {
      for (int p = 0; p < 784; ++p)
        t.support[(std::size_t(c) * K + k) * 784 + p] =
            0.7f * proto[std::size_t(c) * 784 + p] + 0.3f * static_cast<float>(rng.uniform());
      t.support_labels.push_back(c);
    }
  }
  for (int c = 0; c < N; ++c)
    for (int q = 0; q < Q; ++q) {
      for (int p = 0; p < 784; ++p)
        t.query[(std::size_t(c) * Q + q) * 784 + p] =
            0.7f * proto[std::size_t(c) * 784 + p] + 0.3f * static_cast<float>(rng.uniform());
      t.query_labels.push_back(c);
    }
  return t;
}

ModelConfig small_model(BnPolicy bn = BnPolicy::support) {
  ModelConfig m;
  m.backbone.hidden = 8;
  m.bn = bn;
  return m;
}

}  // namespace

TEST_CASE("ProtoNet head W=2p, b=-|p|^2 equals the distance form up to the per-query |f|^2") {
  ProtoNet net(small_model());
  Rng rng(3);
  net.init(rng);
  const EpisodeTensors ep = random_episode(5, 2, 3, 11);
  const AdaptedClassifier a = net.adapt(ep);
  std::vector<float> logits;
  const auto pred = classify(net.config(), a, ep, &logits);

  // Independent computation in double: features of support and queries with the support
  // statistics (the backbone in BnMode::support, as training runs it), prototypes, distances.
  const float* feat = net.embed(ep, true);
  const int F = net.backbone().feature_dim(), N = 5, S = 10, Qn = 15;
  std::vector<double> protos(std::size_t(N) * F, 0.0);
  for (int r = 0; r < S; ++r)
    for (int f = 0; f < F; ++f) protos[ep.support_labels[r] * F + f] += feat[r * F + f] / 2.0;
  for (int q = 0; q < Qn; ++q) {
    const float* fq = feat + std::size_t(S + q) * F;
    double norm = 0;
    for (int f = 0; f < F; ++f) norm += double(fq[f]) * fq[f];
    int best = 0;
    double best_score = -1e300;
    for (int c = 0; c < N; ++c) {
      double d = 0;
      for (int f = 0; f < F; ++f) d += (fq[f] - protos[c * F + f]) * (fq[f] - protos[c * F + f]);
      // head logit = 2 p·f − |p|² = |f|² − |f − p|²
      CHECK(logits[q * N + c] == doctest::Approx(norm - d).epsilon(1e-4).scale(norm));
      if (-d > best_score) best_score = -d, best = c;
    }
    CHECK(pred[q] == best);
  }
}

TEST_CASE("a query's adapted score does not depend on the other queries (support statistics)") {
  ProtoNet net(small_model());
  Rng rng(5);
  net.init(rng);
  EpisodeTensors ep = random_episode(3, 1, 4, 21);
  const AdaptedClassifier a = net.adapt(ep);
  std::vector<float> all, one;
  classify(net.config(), a, ep, &all);
  EpisodeTensors single = ep;
  single.query.assign(ep.query.begin(), ep.query.begin() + 784);
  single.query_labels = {0};
  classify(net.config(), a, single, &one);
  for (int c = 0; c < 3; ++c) CHECK(one[c] == doctest::Approx(all[c]).epsilon(1e-5));
}

TEST_CASE("transductive adaptation folds the statistics of support and queries together") {
  ProtoNet sup(small_model(BnPolicy::support)), tra(small_model(BnPolicy::transductive));
  Rng r1(9), r2(9);
  sup.init(r1);
  tra.init(r2);
  const EpisodeTensors ep = random_episode(3, 2, 5, 31);
  std::vector<float> ls, lt;
  classify(sup.config(), sup.adapt(ep), ep, &ls);
  classify(tra.config(), tra.adapt(ep), ep, &lt);
  double diff = 0;
  for (std::size_t i = 0; i < ls.size(); ++i) diff += std::abs(ls[i] - lt[i]);
  CHECK(diff > 1e-3);  // the two policies really differ
  // Transductive: logits = |f|² − |f − p|² with every feature from one batch-statistics pass.
  const float* feat = tra.embed(ep, true);
  const int F = tra.backbone().feature_dim();
  std::vector<double> p(std::size_t(3) * F, 0.0);
  for (int r = 0; r < 6; ++r)
    for (int f = 0; f < F; ++f) p[ep.support_labels[r] * F + f] += feat[r * F + f] / 2.0;
  for (int q = 0; q < 15; ++q)
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int f = 0; f < F; ++f) {
        const double x = feat[(6 + q) * F + f];
        s += 2 * x * p[c * F + f] - p[c * F + f] * p[c * F + f];
      }
      CHECK(lt[q * 3 + c] == doctest::Approx(s).epsilon(1e-4).scale(1.0));
    }
}

// Finite differences run in double only. In float, the loss carries rounding noise of order
// u·|L|·(BN conditioning), u = 2^-24, which (L(θ+εd) − L(θ−εd))/2ε multiplies by 1/ε and which
// depends on the BLAS kernels' summation order: the float central difference once gave
// -0.0158548 against the gradient's -0.0173696 under OpenBLAS's Prescott kernels. So:
//  1. the reference is the same loss composed in double, test-locally, from Conv4<double> and
//     the double kernels (test_nn_protonet.hpp), as ProtoNet::loss_and_grad computes it: support
//     rows first, batch norm with the support set's statistics, prototypes = support means,
//     logits = −squared distances, mean cross-entropy over the queries;
//  2. its gradient is checked against central differences in double (test_nn_gradcheck.hpp:
//     h = 1e-6, relative tolerance 1e-6), per coordinate and along random directions;
//  3. ProtoNet's float loss and gradient are compared with the double ones, with tolerances
//     from float arithmetic (below), never by differencing float losses.
// Float vs double, the error model: each stage rounds in float (u = 6e-8) with sums of up to
// n = B·H·W = 10·784 = 7840 terms (batch-norm statistics, the weight and γ/β gradients), whose
// rounding error grows like √n·u = 5e-6 relative to the sum of magnitudes (the probabilistic
// bound, Higham §2.8, for any summation order, i.e. any BLAS kernel or thread count). Four blocks
// forward and backward are 8 such stages (4e-5); the batch-norm backward subtracts the
// projections of dy on 1 and x̂ over only 6 support rows, which cancels up to ~10× of the
// magnitude. Hence |L_f − L_d| ≤ 4e-4·|L_d| and ‖g_f − g_d‖₂ ≤ 4e-4·‖g_d‖₂, used with a
// factor 2.5 of headroom: 1e-3. (A wrong gradient misses by O(1) of ‖g‖.) A directional
// derivative g·d of a random unit d is only ~‖g‖/√P, so its float error is bounded through
// |(g_f − g_d)·d| ≤ ‖g_f − g_d‖₂ (Cauchy–Schwarz), not relative to g·d itself.
TEST_CASE("ProtoNet loss gradient agrees with a finite-difference directional derivative") {
  ProtoNet net(small_model());
  Rng rng(7);
  net.init(rng);
  const EpisodeTensors ep = random_episode(3, 2, 2, 41);
  const std::size_t P = net.params().size();
  const double loss_f = net.loss_and_grad(ep).loss;
  const std::vector<double> g_f(net.params().grads(), net.params().grads() + P);

  // 1. The double reference.
  Conv4<double> backbone(net.config().backbone);
  REQUIRE(backbone.layout().size() == P);
  const int N = ep.n_way, S = ep.support_rows(), B = S + ep.query_rows();
  const int F = backbone.feature_dim();
  std::vector<double> x(ep.support.begin(), ep.support.end());
  x.insert(x.end(), ep.query.begin(), ep.query.end());
  std::vector<double> theta(net.params().values(), net.params().values() + P);
  auto loss_d = [&](std::vector<double>* grad) {
    const double* f = backbone.forward(theta.data(), x.data(), B, BnMode::support, S);
    std::vector<double> dfeat(grad ? std::size_t(B) * F : 0);
    const double l = fsh::test::protonet_loss<double>(N, F, ep.support_labels, ep.query_labels,
                                                      f, grad ? dfeat.data() : nullptr);
    if (grad) backbone.backward(theta.data(), dfeat.data(), grad->data());
    return l;
  };
  std::vector<double> g_d(P);
  const double L_d = loss_d(&g_d);

  // 2. Its gradient against central differences in double.
  fsh::test::check_gradient("ProtoNet loss (double) parameters", theta,
                            [&] { return loss_d(nullptr); }, g_d, 400);
  double norm_d = 0;
  for (double v : g_d) norm_d += v * v;
  norm_d = std::sqrt(norm_d);
  REQUIRE(norm_d > 0);

  // 3. ProtoNet in float against the double reference.
  const double tol = 1e-3;  // derived above
  double diff = 0;
  for (std::size_t i = 0; i < P; ++i) diff += (g_f[i] - g_d[i]) * (g_f[i] - g_d[i]);
  diff = std::sqrt(diff);
  INFO("float vs double: |dL| / |L| = " << std::abs(loss_f - L_d) / std::abs(L_d)
                                        << ", |dg| / |g| = " << diff / norm_d);
  CHECK(std::abs(loss_f - L_d) <= tol * std::abs(L_d));
  CHECK(diff <= tol * norm_d);
  const std::vector<double> theta0 = theta;
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> d(P);
    double nd = 0;
    for (auto& v : d) v = rng.normal(), nd += v * v;
    nd = std::sqrt(nd);
    double gd_f = 0, gd_d = 0;
    for (std::size_t i = 0; i < P; ++i) d[i] /= nd, gd_f += g_f[i] * d[i], gd_d += g_d[i] * d[i];
    // Central difference of the double loss along d: truncation (h²/6 times the third
    // derivative) and rounding (1e-16·|L|/h) both far below 1e-6 of the slope, as in
    // test_nn_gradcheck.hpp.
    const double h = 1e-6;
    auto at = [&](double s) {
      for (std::size_t i = 0; i < P; ++i) theta[i] = theta0[i] + s * d[i];
      return loss_d(nullptr);
    };
    const double fd = (at(h) - at(-h)) / (2 * h);
    theta = theta0;
    CAPTURE(trial);
    CAPTURE(fd);
    CHECK(std::abs(gd_d - fd) <= 1e-6 * (std::abs(fd) + norm_d));
    CHECK(std::abs(gd_f - fd) <= tol * norm_d + 1e-6 * (std::abs(fd) + norm_d));
  }
}

TEST_CASE("fsh-adapted files round-trip every episode bit for bit") {
  ProtoNet net(small_model());
  Rng rng(1);
  net.init(rng);
  AdaptedSet s;
  s.model = net.config();
  s.n_way = 3;
  s.k_shot = 1;
  s.n_query = 2;
  s.dataset_fingerprint = "0123456789abcdef";
  s.base = net.base_convolutions();
  std::vector<AdaptedClassifier> direct;
  for (int e = 0; e < 3; ++e) {
    direct.push_back(net.adapt(random_episode(3, 1, 2, 100 + e)));
    s.add(direct.back());
  }
  fsh::test::TempDir dir;
  write_adapted(s, dir.file("a.h5"), {"test", "0", "", 0, {}});
  const AdaptedSet r = read_adapted(dir.file("a.h5"));
  REQUIRE(r.count() == 3);
  CHECK(r.dataset_fingerprint == s.dataset_fingerprint);
  for (int e = 0; e < 3; ++e) CHECK(r.episode(e).primary == direct[e].primary);
}
