// Tests of lib/nn/optim: Adam and SGD against the update rules written out here in double
// precision (PyTorch's formulation), the step-decay schedule by hand, and bit-exact resume
// through exported state. (The PyTorch fixture test, test_nn_fixture.cpp, also compares five
// Adam steps of Conv-4 with torch.optim.Adam.)
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "nn/optim.hpp"
#include "util/error.hpp"

TEST_CASE("Adam follows PyTorch's bias-corrected update") {
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<float> theta = {0.5f, -1.0f, 2.0f};
  std::vector<double> ref(theta.begin(), theta.end()), m(3, 0.0), v(3, 0.0);
  fsh::Adam adam(3);
  const float grads[3][3] = {{0.1f, -0.2f, 0.3f}, {-0.4f, 0.5f, 0.0f}, {1.0f, 2.0f, -3.0f}};
  for (int t = 1; t <= 3; ++t) {
    adam.step(theta.data(), grads[t - 1], lr);
    for (int i = 0; i < 3; ++i) {
      double g = grads[t - 1][i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
      ref[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
  for (int i = 0; i < 3; ++i) CHECK(theta[i] == doctest::Approx(ref[i]).epsilon(1e-6));
  // First step by hand: m̂ = g, v̂ = g², so θ moves by lr·g/(|g| + eps) ≈ lr·sign(g).
  std::vector<float> one = {1.0f};
  fsh::Adam a1(1);
  const float g = 0.25f;
  a1.step(one.data(), &g, 0.1);
  CHECK(one[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(adam.steps() == 3);
}

TEST_CASE("SGD with and without momentum") {
  std::vector<float> p = {1.0f, 2.0f};
  fsh::Sgd plain(2);
  const float g1[2] = {1.0f, -2.0f}, g2[2] = {0.5f, 0.5f};
  plain.step(p.data(), g1, 0.1);
  CHECK(p[0] == doctest::Approx(0.9));
  CHECK(p[1] == doctest::Approx(2.2));
  std::vector<float> q = {1.0f, 2.0f};
  fsh::Sgd mom(2, fsh::SgdConfig{0.9, 0.0});
  mom.step(q.data(), g1, 0.1);  // buf = g1
  mom.step(q.data(), g2, 0.1);  // buf = 0.9·g1 + g2 = (1.4, −1.3)
  CHECK(q[0] == doctest::Approx(1.0 - 0.1 - 0.14));
  CHECK(q[1] == doctest::Approx(2.0 + 0.2 + 0.13));
}

TEST_CASE("step decay: lr × gamma every step episodes") {
  fsh::StepDecay s{1e-3, 2000, 0.5};
  CHECK(s.lr(0) == 1e-3);
  CHECK(s.lr(1999) == 1e-3);
  CHECK(s.lr(2000) == 5e-4);
  CHECK(s.lr(4001) == 2.5e-4);
  CHECK(fsh::StepDecay{1e-3, 0, 0.5}.lr(100000) == 1e-3);
  CHECK_THROWS_AS((fsh::StepDecay{0.0, 10, 0.5}.validate()), fsh::usage_error);
  CHECK_THROWS_AS((fsh::StepDecay{1e-3, -1, 0.5}.validate()), fsh::usage_error);
  CHECK_THROWS_AS((fsh::StepDecay{1e-3, 10, 1.5}.validate()), fsh::usage_error);
}

namespace {
template <class Opt, class Cfg>
void resume_case(const Cfg& cfg) {
  const std::size_t n = 5;
  auto grad = [](int t, std::size_t i) { return float(std::sin(0.7 * t + 1.3 * double(i))); };
  std::vector<float> straight(n, 0.3f), resumed(n, 0.3f), g(n);
  Opt a(n, cfg), b(n, cfg);
  for (int t = 0; t < 6; ++t) {
    for (std::size_t i = 0; i < n; ++i) g[i] = grad(t, i);
    a.step(straight.data(), g.data(), 1e-2);
    if (t < 3) b.step(resumed.data(), g.data(), 1e-2);
    if (t == 2) {
      fsh::OptimizerState s = b.state();
      Opt c(n, cfg);
      c.set_state(s);
      b = c;
    }
    if (t >= 3) b.step(resumed.data(), g.data(), 1e-2);
  }
  CHECK(straight == resumed);  // bit for bit
  CHECK(a.steps() == 6);
  CHECK(b.steps() == 6);
}
}  // namespace

TEST_CASE("optimizer state export/import resumes bit for bit") {
  resume_case<fsh::Adam>(fsh::AdamConfig{});
  resume_case<fsh::Sgd>(fsh::SgdConfig{0.9, 1e-4});
  fsh::Adam adam(4);
  fsh::OptimizerState s = adam.state();
  CHECK(s.kind == "adam");
  CHECK(s.slots.size() == 2);
  fsh::Sgd sgd(4);
  CHECK_THROWS_AS(sgd.set_state(s), fsh::format_error);
  fsh::Adam small(3);
  CHECK_THROWS_AS(small.set_state(s), fsh::format_error);
}
