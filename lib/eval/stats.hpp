// Summary statistics for few-shot evaluation: the field's convention is the mean accuracy over
// episodes with a 95% confidence interval of 1.96 * sd / sqrt(n) (sd: sample standard deviation,
// n - 1 in the denominator).
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

// Median of the values (the mean of the two middle ones for even n); 0 for none.
double median(std::vector<double> values);

}  // namespace fsh
