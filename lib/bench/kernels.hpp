// Kernel figures: what the machine's arithmetic allows, measured in the same run as the
// method figures so that every speed has its physical limit beside it. The sgemm rate of the
// BLAS library (the practical ceiling of fsh's convolutions, which are im2col + sgemm) and the
// Conv-4 forward and backward rates actually achieved, each with one thread and with all.
//
// FLOP counting rule (as bench/nn.cpp): a convolution's forward costs
// 2·B·Cout·Hout·Wout·Cin·3·3; its backward twice that (data gradient + weight gradient), except
// the first convolution's, whose data gradient (the images') is not computed: once. Batch norm,
// ReLU, pooling, im2col and transposes are not counted (memory-bound and small). Rates are
// FLOPs divided by the median time of repeated, warm calls.
//
// Threads: fsh runs OpenBLAS single-threaded and splits work among its own workers (results
// then do not depend on the thread count); the Conv-4 figures are fsh's, at 1 and at T workers.
// The sgemm ceiling at T threads is OpenBLAS's own threading, switched on for that measurement
// only and switched off again before anything else runs.
#pragma once
#include <string>
#include <vector>

#include "bench/measure.hpp"
#include "nn/conv4.hpp"

namespace fsh::bench {

struct ConvRate {
  Conv4Config shape;  // input (C, H, W), hidden, depth
  int batch = 0;      // images per call
  double forward_flops = 0, backward_flops = 0;  // per call, by the rule above
  double forward_gflops_1t = 0, forward_gflops_nt = 0;
  double backward_gflops_1t = 0, backward_gflops_nt = 0;
};

struct KernelFigures {
  BlasIdentity blas;
  int threads = 1;  // T
  int sgemm_size = 1024;  // square M = N = K
  double sgemm_gflops_1t = 0, sgemm_gflops_nt = 0;
  std::vector<ConvRate> conv;  // one per input shape
};

// Conv-4 FLOPs of one forward / one backward on `batch` images (rule above).
double conv4_forward_flops(const Conv4Config& c, int batch);
double conv4_backward_flops(const Conv4Config& c, int batch);

// Measures sgemm at 1 and `threads` threads, and Conv-4 (hidden 64, depth 4) forward and
// backward for each input shape in `shapes` ((C, H, W) taken from each config) on batches of
// about `pixels` image pixels (H·W) each: max(1, pixels / (H·W)) images, so every shape costs
// about the same (78,400 pixels: 100 images of 28x28, 11 of 84x84). Each figure takes about
// `seconds_each` seconds (at least 3 timed calls after 2 warm-up ones). Leaves fsh's thread
// count at `threads` and OpenBLAS single-threaded.
KernelFigures measure_kernels(const std::vector<Conv4Config>& shapes, int64_t pixels,
                              int threads, double seconds_each);

}  // namespace fsh::bench
