// Finite-difference gradient checking for the neural-core tests (test_backend.cpp,
// test_nn.cpp). Everything runs in double precision: a scalar loss L(θ) is differentiated by
// central differences (L(θ + h·e_i) − L(θ − h·e_i)) / 2h with h = 1e-6, whose error
// (~h²·L''' + 1e-16·|L|/h) is far below the tolerance used, |a − n| ≤ 1e-6·(|a| + |n|) + 1e-8.
// The reference is therefore independent of the backward code under test.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "util/rng.hpp"

namespace fsh::test {

inline std::vector<double> random_vector(std::size_t n, Rng& rng, double lo = -1, double hi = 1) {
  std::vector<double> v(n);
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  return v;
}

inline double dot(const std::vector<double>& a, const double* b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Compares analytic[i] with the central difference of loss() in x[i], for every i (or for
// `max_checks` indices spread evenly over x when it is larger). loss() must read x.
inline void check_gradient(const std::string& what, std::vector<double>& x,
                           const std::function<double()>& loss,
                           const std::vector<double>& analytic, std::size_t max_checks = 400) {
  REQUIRE(analytic.size() == x.size());
  const double h = 1e-6;
  const std::size_t n = x.size();
  const std::size_t stride = n > max_checks ? (n + max_checks - 1) / max_checks : 1;
  int failures = 0;
  double worst = 0;
  for (std::size_t i = 0; i < n; i += stride) {
    const double keep = x[i];
    x[i] = keep + h;
    const double lp = loss();
    x[i] = keep - h;
    const double lm = loss();
    x[i] = keep;
    const double num = (lp - lm) / (2 * h);
    const double err = std::abs(num - analytic[i]);
    const double tol = 1e-6 * (std::abs(num) + std::abs(analytic[i])) + 1e-8;
    worst = std::max(worst, err / tol);
    if (err > tol && failures++ < 5)
      FAIL_CHECK(what << "[" << i << "]: analytic " << analytic[i] << " vs numeric " << num);
  }
  INFO(what << ": worst error / tolerance = " << worst);
  CHECK(failures == 0);
}

}  // namespace fsh::test
