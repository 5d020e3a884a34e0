// Summary statistics for few-shot evaluation and benchmarks. Accuracy: the field's convention
// is the mean over episodes with a 95% confidence interval of 1.96·sd/√n (sd: sample standard
// deviation, n − 1 in the denominator); a paired comparison of two methods on the same episodes
// is the same statistic of the per-episode differences. Latency: median and 95th percentile,
// robust to the occasional slow run that a mean would chase.
#pragma once
#include <vector>

namespace fsh {

struct MeanCI {
  double mean = 0;  // mean over episodes
  double sd = 0;    // sample standard deviation (0 when n < 2)
  double ci95 = 0;  // 1.96 * sd / sqrt(n)
  long n = 0;
};

MeanCI mean_ci95(const std::vector<double>& values);

// One episode's accuracy from its counts -- the one formula, so that a merge of shards
// recomputes exactly the values of an unsharded run; 0 for an episode without queries.
inline double episode_accuracy(long long correct, long long queries) {
  return queries > 0 ? double(correct) / double(queries) : 0.0;
}

// mean_ci95 of the per-episode differences a[i] − b[i] (a and b scored on the same episodes, in
// the same order). Throws shape_error when the sizes differ.
MeanCI paired_difference_ci95(const std::vector<double>& a, const std::vector<double>& b);

// Median of the values (the mean of the two middle ones for even n); 0 for none.
double median(const std::vector<double>& values);

// The q-quantile, q in [0, 1], interpolating linearly between order statistics: with x sorted
// and h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]) (Hyndman & Fan's type 7, numpy's
// default). Throws usage_error for q outside [0, 1] or no values.
double quantile(const std::vector<double>& values, double q);

// Latency figures of repeated timings (any unit; the result is in the same unit).
struct LatencyStats {
  long n = 0;
  double median = 0;  // median()
  double p95 = 0;     // quantile(·, 0.95)
  double mean = 0;
  double min = 0, max = 0;
};

// All zero for no values.
LatencyStats latency_stats(const std::vector<double>& values);

}  // namespace fsh
