// MAML (Finn, Abbeel & Levine 2017) on the Conv-4 backbone with an N-way linear head.
//
// θ = the Conv-4 parameters (conv4_layout) followed by "head.weight" (N, F) and "head.bias" (N).
// Inner loop: n steps of plain SGD over ALL of θ on the support set's mean cross-entropy,
//   θ_{j+1} = θ_j − α·∇L_S(θ_j),  θ_0 = θ;
// meta-loss: the query set's mean cross-entropy L_Q(θ_n); the trainer's optimizer (Adam) steps θ
// on its gradient averaged over a meta-batch of tasks.
//
// Exact second order. The meta-gradient is
//   ∇_θ L_Q(θ_n) = (I − α·H_0)···(I − α·H_{n−1})·∇L_Q(θ_n),  H_j = ∇²L_S(θ_j),
// evaluated right to left: v ← ∇L_Q(θ_n), then v ← v − α·H_j·v for j = n−1 … 0. Each H_j·v is
// an exact Hessian-vector product by forward-mode differentiation of the backward pass at θ_j
// (Conv4::forward_tangent / backward_tangent and the backend's tangent ops: a tangent for every
// op, the fused batch-norm block and the statistics included), not a difference of gradients.
// first_order (FOMAML) drops the H_j terms: the meta-gradient is ∇L_Q(θ_n) alone.
//
// Batch norm (BnPolicy), always with the gradient through the statistics:
//   support (default): the inner steps see the support images alone (batch statistics of the
//     support set); the query loss normalises every image with the support set's statistics
//     at θ_n (the query images do not influence them), which is what the adapted classifier
//     does: the support statistics at θ_n folded into the fine-tuned convolutions.
//   transductive: every forward holds support and query images together and normalises with
//     their joint statistics (the inner loss still counts the support rows only); the adapted
//     classifier folds the joint statistics at θ_n.
//
// Memory: one Conv-4 tape per inner step plus the query's, the n + 1 parameter vectors θ_j, and
// one tangent tape reused by every Hessian-vector product: it grows with the steps by exactly
// the activations the second-order pass must keep. Workspaces are reused across episodes.
#pragma once
#include <cstdint>
#include <vector>

#include "methods/method.hpp"

namespace fsh {

// θ's layout: conv4_layout(cfg), then head.weight (ways, F) and head.bias (ways).
ParamLayout maml_layout(const Conv4Config& cfg, int ways);

// One task in precision T: S support and Q query images (rows, C, H, W), labels in [0, N).
template <class T>
struct MamlTask {
  int n_way = 0, support_rows = 0, query_rows = 0;
  const T* support = nullptr;
  const int32_t* support_labels = nullptr;
  const T* query = nullptr;
  const int32_t* query_labels = nullptr;
};

struct MamlSteps {
  int steps = 1;    // inner SGD steps
  double lr = 0.4;  // inner learning rate α
  bool first_order = false;
  BnPolicy bn = BnPolicy::support;
};

// The MAML computations in precision T (float for training, double for the fixture and
// finite-difference tests). Keeps tapes and workspaces between calls (not thread-safe).
template <class T>
class MamlLearner {
 public:
  MamlLearner(const Conv4Config& cfg, int ways, Backend& backend = default_backend());
  const ParamLayout& layout() const { return layout_; }
  int ways() const { return ways_; }

  // Meta-loss L_Q(θ_n) of one task and its gradient with respect to θ (exact second order, or
  // first order), written to grad (layout().size() values, overwritten). Returns the query
  // loss and accuracy at θ_n.
  EpisodeResult meta_gradient(const T* theta, const MamlTask<T>& task, const MamlSteps& how,
                              T* grad);
  // The meta-loss alone (forward and inner-loop passes only): what meta_gradient
  // differentiates.
  double meta_loss(const T* theta, const MamlTask<T>& task, const MamlSteps& how);
  // Adaptation: θ_n (layout().size() values) after how.steps inner steps into adapted, and the
  // batch-norm statistics that classify with it (the support set's at θ_n, or support and
  // queries together for the transductive policy) into stats. how.first_order is ignored.
  void adapt(const T* theta, const MamlTask<T>& task, const MamlSteps& how, T* adapted,
             std::vector<BnStats<T>>& stats);

 private:
  // The inner loop from θ on batch_: fills thetas_[0..n] and probs_[0..n−1], and keeps step
  // j's forward in tapes_[j] when keep_tapes (otherwise every step uses tapes_[0]).
  void inner_loop(const T* theta, const MamlTask<T>& task, const MamlSteps& how, bool keep_tapes);
  // The support or query loss on rows [r0, r0 + R) of features feat (B rows): probs (R, N);
  // when dfeat is not null, ∂loss/∂feat (B, F) (other rows 0) and the head's gradient into
  // grad's head views.
  T head_loss(const T* th, const T* feat, int B, int r0, int R, const int32_t* labels, T* probs,
              T* dfeat, T* grad, int* correct);
  // hv = H_j·v, the Hessian of the support loss at θ_j (inner step j's tape).
  void hessian_vector(int j, const MamlTask<T>& task, const T* v, T* hv);

  Conv4Config cfg_;
  int ways_, F_;
  Kernels<T>* k_;
  Conv4<T> net_;
  ParamLayout layout_;
  std::size_t hw_, hb_;  // offsets of head.weight and head.bias
  std::size_t P_;
  std::vector<Conv4Tape<T>> tapes_;  // one per inner step, then the query's
  Conv4TangentTape<T> tangent_;
  std::vector<T> thetas_;              // (n + 1, P)
  std::vector<std::vector<T>> probs_;  // per inner step: support probabilities (S, N)
  std::vector<T> batch_, logits_, dlogits_, qprobs_, dfeat_, dfeat_dot_, ldot_, dldot_, v_, hv_, g_;
  std::vector<int32_t> pred_;
};

extern template class MamlLearner<float>;
extern template class MamlLearner<double>;

// The "maml" method (registered in methods/method.cpp): settings inner_lr, inner_steps,
// adapt_steps, first_order and ways (the head's classes: the training episodes' ways, set by
// start_run); training protocol meta-batch 32, 5-way, constant learning rate.
MethodInfo maml_method_info();

}  // namespace fsh
