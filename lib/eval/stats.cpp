// Mean, 95% CI, paired differences, median, quantiles and latency figures (see stats.hpp), as
// array expressions over the caller's vector (xt::adapt: no copy). Reductions run left to right
// in one thread, so every figure has the same bits on every machine.
#include "eval/stats.hpp"

#include <cmath>
#include <string>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xtensor.hpp>

#include "util/error.hpp"

namespace fsh {

MeanCI mean_ci95(const std::vector<double>& values) {
  MeanCI r;
  r.n = static_cast<long>(values.size());
  if (values.empty()) return r;
  const auto v = xt::adapt(values);
  r.mean = xt::mean(v)();
  if (r.n >= 2) {
    r.sd = std::sqrt(xt::variance(v, 1)());  // ddof 1: Σ(x − mean)² / (n − 1)
    r.ci95 = 1.96 * r.sd / std::sqrt(static_cast<double>(r.n));
  }
  return r;
}

MeanCI paired_difference_ci95(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw shape_error("paired difference: " + std::to_string(a.size()) + " values against " +
                      std::to_string(b.size()) + " (both must score the same episodes)");
  const xt::xtensor<double, 1> d = xt::adapt(a) - xt::adapt(b);
  return mean_ci95(std::vector<double>(d.begin(), d.end()));
}

namespace {
// The values as an array of their own, which partitions may reorder.
xt::xtensor<double, 1> array_of(const std::vector<double>& values) { return xt::adapt(values); }
}  // namespace

double median(const std::vector<double>& values) {
  if (values.empty()) return 0;
  const std::size_t n = values.size(), m = n / 2;
  // Only the middle one or two order statistics are needed: a partition, not a sort.
  if (n % 2) return xt::partition(array_of(values), m)(m);
  const auto p = xt::partition(array_of(values), {m - 1, m});
  return (p(m - 1) + p(m)) / 2;
}

double quantile(const std::vector<double>& values, double q) {
  if (!(q >= 0 && q <= 1))
    throw usage_error("quantile must be in [0, 1], got " + std::to_string(q));
  if (values.empty()) throw usage_error("quantile of no values");
  const double h = static_cast<double>(values.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const auto x = xt::partition(array_of(values), {lo, hi});
  return x(lo) + (h - static_cast<double>(lo)) * (x(hi) - x(lo));
}

LatencyStats latency_stats(const std::vector<double>& values) {
  LatencyStats s;
  s.n = static_cast<long>(values.size());
  if (values.empty()) return s;
  const auto v = xt::adapt(values);
  s.median = median(values);
  s.p95 = quantile(values, 0.95);
  s.mean = xt::mean(v)();
  s.min = xt::amin(v)();
  s.max = xt::amax(v)();
  return s;
}

}  // namespace fsh
