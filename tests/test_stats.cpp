// Tests of lib/eval/stats beyond mean_ci95 (test_eval.cpp): paired differences, quantiles and
// latency figures against values calculated by hand (numpy's np.percentile, whose default is
// the same interpolation, gives the same numbers), and that the mean and CI have exactly the
// bits of a plain left-to-right computation, so that fsh-eval's figures did not move when the
// statistics moved onto xtensor.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "eval/stats.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

TEST_CASE("quantile: linear interpolation between order statistics") {
  // 1..20 (shuffled): h = 19·0.95 = 18.05 -> x[18] + 0.05·(x[19] − x[18]) = 19 + 0.05 = 19.05.
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back((i * 7) % 20 + 1);
  CHECK(fsh::quantile(v, 0.95) == doctest::Approx(19.05));
  CHECK(fsh::quantile(v, 0.5) == doctest::Approx(10.5));  // h = 9.5: (10 + 11) / 2
  CHECK(fsh::quantile(v, 0) == 1);
  CHECK(fsh::quantile(v, 1) == 20);
  // 10, 20, 30, 40: h = 3·0.95 = 2.85 -> 30 + 0.85·10 = 38.5; h = 3·0.25 = 0.75 -> 17.5.
  CHECK(fsh::quantile({40, 10, 30, 20}, 0.95) == doctest::Approx(38.5));
  CHECK(fsh::quantile({40, 10, 30, 20}, 0.25) == doctest::Approx(17.5));
  CHECK(fsh::quantile({7}, 0.95) == 7);
  CHECK(fsh::quantile({3, 3, 3}, 0.7) == 3);
  CHECK_THROWS_AS(fsh::quantile({}, 0.5), fsh::usage_error);
  CHECK_THROWS_AS(fsh::quantile({1, 2}, 1.5), fsh::usage_error);
  CHECK_THROWS_AS(fsh::quantile({1, 2}, -0.1), fsh::usage_error);
  CHECK_THROWS_AS(fsh::quantile({1, 2}, std::numeric_limits<double>::quiet_NaN()),
                  fsh::usage_error);
}

TEST_CASE("latency_stats: median, p95, mean, min, max") {
  // Sorted: 1 2 3 4 5 100. Median (3 + 4) / 2 = 3.5; p95: h = 5·0.95 = 4.75 ->
  // 5 + 0.75·95 = 76.25; mean 115 / 6; one slow run moves the mean, not the median.
  const fsh::LatencyStats s = fsh::latency_stats({5, 1, 4, 2, 3, 100});
  CHECK(s.n == 6);
  CHECK(s.median == doctest::Approx(3.5));
  CHECK(s.p95 == doctest::Approx(76.25));
  CHECK(s.mean == doctest::Approx(115.0 / 6));
  CHECK(s.min == 1);
  CHECK(s.max == 100);
  const fsh::LatencyStats odd = fsh::latency_stats({0.3, 0.1, 0.2});
  CHECK(odd.median == doctest::Approx(0.2));
  CHECK(odd.p95 == doctest::Approx(0.29));  // h = 1.9: 0.2 + 0.9·0.1
  const fsh::LatencyStats none = fsh::latency_stats({});
  CHECK(none.n == 0);
  CHECK(none.median == 0);
  CHECK(none.p95 == 0);
}

TEST_CASE("paired difference: mean and CI of the per-episode differences") {
  // a − b = 1, 0, 0, 1: mean 0.5; deviations ±0.5, squares sum 1, var 1/3, sd 0.577350;
  // ci = 1.96·0.577350 / 2 = 0.565803.
  const fsh::MeanCI d = fsh::paired_difference_ci95({1, 1, 0.8, 0.6}, {0, 1, 0.8, -0.4});
  CHECK(d.n == 4);
  CHECK(d.mean == doctest::Approx(0.5));
  CHECK(d.sd == doctest::Approx(0.577350).epsilon(1e-6));
  CHECK(d.ci95 == doctest::Approx(0.565803).epsilon(1e-6));
  // Pairing removes what the episodes share: b = a − 0.01 with a widely spread a.
  std::vector<double> a, b;
  fsh::Rng r(5);
  for (int i = 0; i < 100; ++i) {
    a.push_back(r.uniform());
    b.push_back(a.back() - 0.01);
  }
  const fsh::MeanCI p = fsh::paired_difference_ci95(a, b);
  CHECK(p.mean == doctest::Approx(0.01));
  CHECK(p.ci95 < 1e-9);
  CHECK(fsh::mean_ci95(a).ci95 > 0.03);
  CHECK_THROWS_AS(fsh::paired_difference_ci95({1, 2}, {1}), fsh::shape_error);
}

TEST_CASE("mean_ci95 and median have the bits of a plain left-to-right computation") {
  fsh::Rng r(11);
  for (int n : {1, 2, 3, 17, 600}) {
    CAPTURE(n);
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(r.uniform() * std::pow(10.0, double(r.below(6))));
    double s = 0;
    for (double x : v) s += x;
    const double mean = s / n;
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    const fsh::MeanCI m = fsh::mean_ci95(v);
    CHECK(m.mean == mean);
    if (n >= 2) {
      const double sd = std::sqrt(ss / (n - 1));
      CHECK(m.sd == sd);
      CHECK(m.ci95 == 1.96 * sd / std::sqrt(double(n)));
    }
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const double med = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    CHECK(fsh::median(v) == med);
  }
}
