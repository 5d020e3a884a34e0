// Mean, 95% CI and median (see stats.hpp).
#include "eval/stats.hpp"

#include <algorithm>
#include <cmath>

namespace fsh {

MeanCI mean_ci95(const std::vector<double>& v) {
  MeanCI r;
  r.n = static_cast<long>(v.size());
  if (v.empty()) return r;
  double s = 0;
  for (double x : v) s += x;
  r.mean = s / r.n;
  if (r.n >= 2) {
    double ss = 0;
    for (double x : v) ss += (x - r.mean) * (x - r.mean);
    r.sd = std::sqrt(ss / (r.n - 1));
    r.ci95 = 1.96 * r.sd / std::sqrt(static_cast<double>(r.n));
  }
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  if (v.size() % 2) return v[m];
  const double hi = v[m];
  return (*std::max_element(v.begin(), v.begin() + m) + hi) / 2;
}

}  // namespace fsh
