// The Conv-4 backbone shared by every method: `depth` (4) blocks of
// [3×3 conv (padding 1, bias) -> batch norm -> ReLU -> 2×2 max-pool], then flatten.
// (1, 28, 28) -> 64 features, (3, 84, 84) -> 1600 (hidden 64).
//
// Conv4<T> keeps no parameters of its own: they live in a flat buffer described by layout()
// (names "conv<i>.weight" (K, C, 3, 3), "conv<i>.bias" (K), "bn<i>.gamma" (K), "bn<i>.beta" (K),
// i = 0..depth-1, in that order), so training, MAML's inner loop and hypernetworks all work on the
// same buffer. Workspaces grow to the largest batch seen and are then reused: the steady-state
// forward/backward does no heap allocation. Instantiated for float (training) and double
// (gradient checks).
//
// The per-episode "primary network" that fsh-adapt emits is the same backbone with batch norm
// folded into the convolutions (conv -> ReLU -> pool) plus a linear head: PrimaryNet below.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "backend/registry.hpp"
#include "nn/params.hpp"
#include "util/rng.hpp"

namespace fsh {

struct Conv4Config {
  int in_channels = 1, height = 28, width = 28;  // input image (C, H, W)
  int hidden = 64;                                // filters per conv
  int depth = 4;                                  // number of blocks
  double bn_eps = 1e-5;
  // Spatial size after all blocks, and the feature width F = hidden·Hf·Wf.
  int out_height() const;
  int out_width() const;
  int feature_dim() const;
  // Throws usage_error (with the allowed range) when the input is too small for depth pools.
  void validate() const;
};

// Where batch-norm statistics come from.
enum class BnMode {
  batch,    // statistics of all B rows of the batch (transductive, as MAML did)
  support,  // statistics of the first S rows (the support set) applied to all rows
  fixed     // statistics supplied by the caller; no gradient flows through them
};

// Per-channel statistics of one batch-norm layer; var is the biased variance (divide by n).
template <class T>
struct BnStats {
  std::vector<T> mean, var;  // (K)
};

// The parameter layout of a Conv-4 of this configuration (the names listed above), without
// building the network.
ParamLayout conv4_layout(const Conv4Config& cfg);

// One forward pass's activations: what backward needs, owned by the caller, so any number of
// forward passes of the same network can be alive at once (MAML's inner steps, a
// hypernetwork's two passes). Buffers grow to the largest batch the tape has seen and are then
// reused: a tape used again for the same shapes allocates nothing.
template <class T>
class Conv4Tape {
 public:
  int batch() const { return batch_; }
  // Features (B, F) of the forward that filled this tape.
  const T* features() const { return features_.data(); }
  // The statistics that forward normalised with, one per block (for folding).
  const std::vector<BnStats<T>>& stats() const { return stats_; }

 private:
  template <class>
  friend class Conv4;
  int batch_ = 0;
  int support_rows_ = 0;                 // BN shape S of the forward (0: fixed statistics)
  bool inference_only_ = false;          // no argmax recorded: backward and tangents refuse it
  bool partial_ = false;                 // filled by forward_reusing: early blocks missing
  std::vector<ConvShape> conv_;          // per block
  std::vector<std::vector<T>> act_;      // per block: input (C, B, H, W) of the conv
  std::vector<std::vector<T>> conv_out_; // per block: conv output before its bias (K, B, H, W)
  std::vector<std::vector<uint8_t>> argmax_;  // per block: pool argmax (K, B, H/2, W/2)
  std::vector<BnStats<T>> stats_;
  std::vector<T> out_;                   // last pool output (K, B, Hf, Wf)
  std::vector<T> features_;              // (B, F)
};

// The tangent of one forward pass along a direction θ̇ of the parameters (the input images
// are held fixed): what a forward-over-reverse Hessian-vector product needs besides the
// forward's own tape. Owned by the caller like Conv4Tape; buffers grow and are reused.
template <class T>
class Conv4TangentTape {
 public:
  // Tangent of the features (B, F) of the forward_tangent that filled this tape.
  const T* features() const { return features_.data(); }

 private:
  template <class>
  friend class Conv4;
  std::vector<std::vector<T>> act_;       // per block i >= 1: tangent of the conv input
  std::vector<std::vector<T>> conv_out_;  // per block: tangent of the conv output before bias
  std::vector<T> out_, features_;
};

// Whether backward overwrites the gradient buffer or adds to it.
enum class GradMode { overwrite, accumulate };

template <class T>
class Conv4 {
 public:
  explicit Conv4(const Conv4Config& cfg, Backend& backend = default_backend());

  const Conv4Config& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  int feature_dim() const { return cfg_.feature_dim(); }

  // PyTorch's default initialisation, drawn from rng: conv weight and bias ~ U(−1/√fan_in,
  // 1/√fan_in) (Kaiming-uniform with a = √5); BN gamma = 1, beta = 0.
  void init(T* params, Rng& rng) const;

  // x: (B, C, H, W) images; params: layout().size() values. mode: see BnMode; support_rows S
  // (1 ≤ S ≤ B) for BnMode::support; fixed: one BnStats per block for BnMode::fixed.
  // Records the activations in `tape` and returns its features (B, F).
  const T* forward(const T* params, const T* x, int batch, BnMode mode, int support_rows,
                   const std::vector<BnStats<T>>* fixed, Conv4Tape<T>& tape);
  // The same for inference, where no backward or tangent follows: the same features and
  // statistics for finite inputs, bit for bit, faster (the pools record no argmax). The tape
  // serves forward_reusing and the statistics; backward and the tangents refuse it.
  const T* forward_inference(const T* params, const T* x, int batch, BnMode mode,
                             int support_rows, const std::vector<BnStats<T>>* fixed,
                             Conv4Tape<T>& tape);
  // The forward of the batch that `first` recorded (with BnMode::batch or ::support), for
  // parameters that equal that forward's in every block before `from` and differ in block
  // `from` only in its batch-norm γ, β (FiLM from block `from` on): the input of block `from`
  // and its convolution output and statistics are those of `first` (they do not depend on
  // γ, β), so only its normalisation onward is computed. Bit-identical to forward() with the
  // same batch and mode (for finite inputs). `first` may come from forward or
  // forward_inference and must stay unchanged during the call. The tape it fills lacks the
  // earlier blocks and serves inference only (backward, the tangents and forward_reusing
  // refuse it).
  const T* forward_reusing(const T* params, const Conv4Tape<T>& first, int from,
                           Conv4Tape<T>& tape);
  // dfeatures: (B, F) for the forward recorded in tape -> grads: layout().size() values,
  // overwritten or accumulated into; dx: (B, C, H, W) or null (not computed; always
  // overwritten). params must be those of that forward.
  void backward(const T* params, const Conv4Tape<T>& tape, const T* dfeatures, T* grads,
                T* dx = nullptr, GradMode grad_mode = GradMode::overwrite);

  // Forward-mode derivatives (nn/conv4_tangent.cpp), for exact Hessian-vector products.
  // forward_tangent: the tangent ḟ (B, F) of the features of the forward recorded in tape,
  // along the parameter direction params_dot (layout().size() values); recorded in tt.
  // With BnMode::batch/support the tangent flows through the batch statistics.
  const T* forward_tangent(const T* params, const T* params_dot, const Conv4Tape<T>& tape,
                           Conv4TangentTape<T>& tt);
  // backward_tangent: the backward of that forward for dfeatures (B, F), differentiated along
  // params_dot (whose forward tangent is tt) and along dfeatures_dot, the tangent of
  // dfeatures -> grads_dot: the tangent of the parameter gradient (overwritten). For a loss L
  // of the features with dfeatures = ∂L/∂f and dfeatures_dot its tangent (∂²L/∂f²·ḟ + the
  // tangent of ∂L/∂f through any other parameters of L), grads_dot = ∇²_θ L · params_dot.
  void backward_tangent(const T* params, const T* params_dot, const Conv4Tape<T>& tape,
                        const Conv4TangentTape<T>& tt, const T* dfeatures,
                        const T* dfeatures_dot, T* grads_dot);

  // The same with the network's own tape (one forward alive at a time): features valid until
  // the next forward through it.
  const T* forward(const T* params, const T* x, int batch, BnMode mode, int support_rows = 0,
                   const std::vector<BnStats<T>>* fixed = nullptr) {
    return forward(params, x, batch, mode, support_rows, fixed, tape_);
  }
  const T* forward_inference(const T* params, const T* x, int batch, BnMode mode,
                             int support_rows = 0,
                             const std::vector<BnStats<T>>* fixed = nullptr) {
    return forward_inference(params, x, batch, mode, support_rows, fixed, tape_);
  }
  void backward(const T* params, const T* dfeatures, T* grads, T* dx = nullptr,
                GradMode grad_mode = GradMode::overwrite) {
    backward(params, tape_, dfeatures, grads, dx, grad_mode);
  }
  // The statistics the last forward through the network's own tape normalised with.
  const std::vector<BnStats<T>>& stats() const { return tape_.stats(); }

 private:
  void reserve(int batch, Conv4Tape<T>& tape);
  const T* forward_recording(const T* params, const T* x, int batch, BnMode mode,
                             int support_rows, const std::vector<BnStats<T>>* fixed,
                             bool inference, Conv4Tape<T>& tape);
  // Blocks from..depth-1 of a forward (the input of block `from` in tape.act_[from]).
  const T* run_blocks(const T* params, int from, BnMode mode,
                      const std::vector<BnStats<T>>* fixed, Conv4Tape<T>& tape);

  Conv4Config cfg_;
  Kernels<T>* k_;
  ParamLayout layout_;
  struct Offsets {
    std::size_t w, b, gamma, beta;  // of conv<i>.weight, conv<i>.bias, bn<i>.gamma, bn<i>.beta
  };
  std::vector<Offsets> off_;  // per block
  Conv4Tape<T> tape_;         // for the one-tape convenience calls
  // Scratch shared by every forward and backward (not part of any tape): the conv workspace,
  // two gradient buffers, and parameter gradients for GradMode::accumulate.
  std::vector<T> work_, grad_a_, grad_b_, grad_acc_;
  std::vector<T> tan_a_, tan_b_;  // tangents of grad_a_, grad_b_ (backward_tangent)
};

extern template class Conv4<float>;
extern template class Conv4<double>;

// Batch-norm folding, the one implementation (every method's adapted classifier and the
// fsh-adapted reader use it). A block's conv (w, b) followed by batch norm with statistics
// (mean, var) and affine (gamma, beta) is the conv (w·s, b·s + t) with, per output channel k,
//   s_k = γ_k/√(var_k + ε),  t_k = β_k − μ_k·s_k.
// fold_coefficients computes (s, t) in double and rounds them to T once; apply_fold applies
// them (w·s rounded once; b·s + t in double, rounded once), so folding from the statistics and
// folding from stored (s, t) give the same bits.
template <class T>
void fold_coefficients(int K, const T* gamma, const T* beta, const T* mean, const T* var,
                       double eps, T* scale, T* shift);
// w, w_out: (K, per_filter); b, b_out, scale, shift: (K). Outputs may alias inputs.
template <class T>
void apply_fold(int K, int per_filter, const T* w, const T* b, const T* scale, const T* shift,
                T* w_out, T* b_out);
// Both steps: w' = w·γ/√(var+ε), b' = b·s + β − μ·s.
template <class T>
void fold_batch_norm(int K, int per_filter, const T* w, const T* b, const T* gamma,
                     const T* beta, const T* mean, const T* var, double eps, T* w_out,
                     T* b_out);

// The convolutions of a Conv-4 without normalisation: "conv<i>.weight" (K, C, 3, 3) and
// "conv<i>.bias" (K), i = 0..depth-1 -- the first part of PrimaryNet's layout, and what an
// adapted classifier's per-channel fold applies to.
ParamLayout conv_layout(const Conv4Config& cfg);

// Writes the conv blocks of a primary network (the conv_layout prefix of PrimaryNet's layout)
// from convolutions `convs` (conv_layout) and per-block fold coefficients scale, shift
// ((depth, K) each): block i is apply_fold(convs_i, scale_i, shift_i).
template <class T>
void fold_convs(const Conv4Config& cfg, const T* convs, const T* scale, const T* shift,
                T* primary);

// A standalone primary network: Conv-4 with batch norm folded away
// (depth × [conv 3×3 pad 1 + bias -> ReLU -> 2×2 max-pool]) -> flatten -> linear head.
// Parameters (flat, layout(cfg, N)): "conv<i>.weight" (K, C, 3, 3), "conv<i>.bias" (K),
// "head.weight" (N, F), "head.bias" (N).
template <class T>
class PrimaryNet {
 public:
  PrimaryNet(const Conv4Config& cfg, int ways, Backend& backend = default_backend());
  static ParamLayout layout(const Conv4Config& cfg, int ways);
  const ParamLayout& layout() const { return layout_; }

  // Writes the backbone part of primary (conv<i>.weight/bias) from Conv-4 parameters
  // conv4_params (Conv4 layout) and per-block statistics; the head is left as it is.
  void fold_from(const T* conv4_params, const std::vector<BnStats<T>>& stats, T* primary) const;

  // x: (B, C, H, W) -> logits (B, N), valid until the next call. Each row is computed on its
  // own (no batch statistics), so results do not depend on what else is in the batch.
  const T* forward(const T* primary, const T* x, int batch);
  // Features (B, F) of the last forward (the head's input).
  const T* features() const { return features_.data(); }

 private:
  Conv4Config cfg_;
  int ways_;
  Kernels<T>* k_;
  ParamLayout layout_;
  std::vector<std::size_t> w_off_, b_off_;  // per block: conv<i>.weight, conv<i>.bias
  std::vector<T> a_, b_, work_, features_, logits_;
};

extern template class PrimaryNet<float>;
extern template class PrimaryNet<double>;

// Convenience for tools and tests: logits (B, N) of a primary network (allocates).
template <class T>
std::vector<T> primary_forward(const Conv4Config& cfg, int ways, const T* primary, const T* x,
                               int batch);

}  // namespace fsh
