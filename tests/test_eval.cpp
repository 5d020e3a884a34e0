// Tests of lib/eval: mean and 95% CI against hand-calculated values.
#include <doctest/doctest.h>

#include "eval/stats.hpp"

TEST_CASE("mean_ci95 matches a hand calculation") {
  // values 0.9, 1.0, 0.8, 1.0: mean 0.925; deviations .025,.075,-.125,.075;
  // squares sum = .000625+.005625+.015625+.005625 = .0275; var = .0275/3; sd = .095743...
  // ci = 1.96 * .095743 / 2 = .093828
  auto r = fsh::mean_ci95({0.9, 1.0, 0.8, 1.0});
  CHECK(r.n == 4);
  CHECK(r.mean == doctest::Approx(0.925));
  CHECK(r.sd == doctest::Approx(0.0957427).epsilon(1e-6));
  CHECK(r.ci95 == doctest::Approx(0.0938279).epsilon(1e-6));
  auto one = fsh::mean_ci95({0.5});
  CHECK(one.ci95 == 0);
}

TEST_CASE("median of odd and even counts") {
  CHECK(fsh::median({3, 1, 2}) == 2);
  CHECK(fsh::median({4, 1, 3, 2}) == doctest::Approx(2.5));
  CHECK(fsh::median({}) == 0);
}
