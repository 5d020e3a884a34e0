// Shape descriptors of the backend ops. Every op takes raw pointers plus one of these, so that a
// backend can be handed device pointers just as well as host pointers.
//
// Activation layout: channel-major, (C, B, H, W). A whole batch is then one gemm per convolution
// (the output of W·col is already (K, B, Ho, Wo)), batch-norm statistics of a channel are one
// contiguous run, and the first S rows (images) of a channel -- the support set -- are its first
// S·H·W values. Letters used in shape comments throughout lib/backend and lib/nn:
//   B rows (images) of the batch, S support rows (the first S of B), C input channels,
//   K output channels, H W input height/width, Ho Wo output height/width, kh kw kernel size,
//   N classes (ways) or output features, D or F feature width.
#pragma once
#include <cstddef>

namespace fsh {

struct ConvShape {
  int B = 0, C = 0, H = 0, W = 0;  // x: (C, B, H, W)
  int K = 0;                       // output channels; w: (K, C, kh, kw)
  int kh = 3, kw = 3, stride = 1, pad = 0;

  int Ho() const { return (H + 2 * pad - kh) / stride + 1; }
  int Wo() const { return (W + 2 * pad - kw) / stride + 1; }
  std::size_t x_size() const { return std::size_t(C) * B * H * W; }
  std::size_t y_size() const { return std::size_t(K) * B * Ho() * Wo(); }
  std::size_t w_size() const { return std::size_t(K) * C * kh * kw; }
  // Elements of scratch memory the conv ops need (their im2col column blocks); see conv.cpp.
  std::size_t workspace_size() const;
};

struct BatchNormShape {
  int B = 0, C = 0, HW = 0;  // x: (C, B, HW)
  // Rows whose statistics normalise the batch: S = B is ordinary batch statistics, 0 < S < B
  // takes them from the first S rows (the support set) and applies them to all B rows, S = 0
  // uses statistics supplied by the caller (no gradient flows through them).
  int S = 0;
  double eps = 1e-5;
};

struct PoolShape {
  int B = 0, C = 0, H = 0, W = 0;  // x: (C, B, H, W); 2×2 window, stride 2, floor
  int Ho() const { return H / 2; }
  int Wo() const { return W / 2; }
  std::size_t y_size() const { return std::size_t(C) * B * Ho() * Wo(); }
};

}  // namespace fsh
