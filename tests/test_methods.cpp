// Tests of lib/methods: ProtoNet's adapted head is exactly the distance form, the adapted
// (folded) classifier reproduces the training-time scores, ProtoNet's gradient agrees with
// finite differences, and fsh-adapted files round-trip bit for bit.
#include <doctest/doctest.h>

#include <cmath>

#include "methods/adapted.hpp"
#include "methods/checkpoint.hpp"
#include "methods/protonet.hpp"
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

TEST_CASE("ProtoNet loss gradient agrees with a finite-difference directional derivative") {
  ProtoNet net(small_model());
  Rng rng(7);
  net.init(rng);
  const EpisodeTensors ep = random_episode(3, 2, 2, 41);
  const std::size_t P = net.params().size();
  net.loss_and_grad(ep);
  std::vector<float> g(net.params().grads(), net.params().grads() + P);
  std::vector<float> theta(net.params().values(), net.params().values() + P);
  // Several random unit directions; loss evaluated in float, so a loose
  // tolerance (2% of the larger value plus 1e-3 absolute).
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> d(P);
    double nd = 0;
    for (auto& v : d) v = rng.normal(), nd += v * v;
    nd = std::sqrt(nd);
    double gd = 0;
    for (std::size_t i = 0; i < P; ++i) d[i] /= nd, gd += g[i] * d[i];
    // Batch norm over a 6-image support set curves the loss sharply: steps of 1e-2 are off by
    // up to 5x; 1e-3 converges (seen: 1.29473 vs 1.29581, -0.01812 vs -0.01737).
    const double eps = 1e-3;
    auto loss_at = [&](double s) {
      for (std::size_t i = 0; i < P; ++i)
        net.params().values()[i] = static_cast<float>(theta[i] + s * d[i]);
      return net.loss_and_grad(ep).loss;
    };
    const double fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps);
    CHECK(fd == doctest::Approx(gd).epsilon(0.02).scale(0.05));
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
