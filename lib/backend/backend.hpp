// The backend seam: a Backend has a name, a host thread count, and the ops for float (the
// training path) and double (gradient checks). Ops take raw pointers (host or device, the
// backend's business) plus explicit shapes (backend/shapes.hpp) and never allocate: callers pass
// workspaces sized by the shape structs. Forward and backward of each op sit side by side in one
// implementation file. Backward ops OVERWRITE their outputs (they do not accumulate) unless a
// comment says otherwise. Layout conventions: backend/shapes.hpp.
//
// Every backend implements every op in both precisions: Kernels<T> is pure virtual, so one that
// lacks an op does not compile. There is deliberately no per-op fallback to the CPU backend: an
// op's pointers live in its backend's memory, and a CPU op cannot read device memory, so a
// fallback would have to copy every operand in and out behind the caller's back. A CUDA backend
// mirrors the CPU one op for op and is tested against it for parity.
// Get a backend from backend/registry.hpp; the CPU backend always exists.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend/shapes.hpp"

namespace fsh {

template <class T>
class Kernels {
 public:
  virtual ~Kernels() = default;

  // ---- dense linear algebra (row-major) ----------------------------------------------------
  // C = alpha·op(A)·op(B) + beta·C; op(A): (M, Kd), op(B): (Kd, N), C: (M, N).
  virtual void gemm(bool trans_a, bool trans_b, int M, int N, int Kd, T alpha, const T* A,
                    int lda, const T* B, int ldb, T beta, T* C, int ldc) = 0;
  // y += alpha·x over n elements (θ − α∇L is axpy(n, −α, grad, θ)).
  virtual void axpy(std::size_t n, T alpha, const T* x, T* y) = 0;

  // ---- convolution: im2col + gemm ---------------------------------------------------------
  // x: (C, B, H, W); w: (K, C, kh, kw); bias: (K) or null; y: (K, B, Ho, Wo);
  // work: s.workspace_size() elements.
  virtual void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                              T* work) = 0;
  // dy: (K, B, Ho, Wo) -> dx: (C, B, H, W) (null: not computed), dw: (K, C, kh, kw),
  // dbias: (K) (null: not computed).
  virtual void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* dbias, T* work) = 0;

  // ---- batch norm (+ optional fused ReLU) --------------------------------------------------
  // x: (C, B, HW); gamma, beta: (C); mean, var: (C) biased statistics -- written when s.S > 0
  // (from the first S rows), read when s.S == 0; xhat: (C, B, HW) kept for backward;
  // y = gamma·xhat + beta, then max(0, ·) when relu. y may alias x.
  virtual void batch_norm_forward(const BatchNormShape& s, const T* x, const T* gamma,
                                  const T* beta, T* mean, T* var, T* xhat, T* y,
                                  bool relu) = 0;
  // y: the forward output (only read when relu, for its mask); dy: (C, B, HW) ->
  // dx: (C, B, HW) (null: not computed; may alias dy), dgamma, dbeta: (C).
  // Gradient flows through the statistics of the first S rows when s.S > 0.
  virtual void batch_norm_backward(const BatchNormShape& s, const T* xhat, const T* gamma,
                                   const T* var, const T* y, const T* dy, T* dx, T* dgamma,
                                   T* dbeta, bool relu) = 0;

  // ---- fused batch norm -> ReLU -> 2×2 max-pool (the tail of a Conv-4 block) ----------------
  // The same function as conv bias + batch_norm_forward(relu) + max_pool_forward, in two passes
  // over x instead of seven, keeping only the pooled output and argmax (backward needs no x̂).
  // x: (C, B, H, W) conv output WITHOUT its bias; xbias: (C) the conv bias, added to x first
  // (null: none); bn.HW = pool.H·pool.W; mean, var: (C) statistics of x + xbias, written or read
  // as in batch_norm_forward; y: (C, B, Ho, Wo); argmax: (C, B, Ho, Wo), or null where no
  // backward or tangent will follow (inference: the same y for finite x, computed faster).
  virtual void bn_relu_pool_forward(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                                    const T* xbias, const T* gamma, const T* beta, T* mean,
                                    T* var, T* y, uint8_t* argmax) = 0;
  // dy: (C, B, Ho, Wo) -> dx: (C, B, H, W) (every element written), dxbias: (C) the conv-bias
  // gradient (null: not computed), dgamma, dbeta: (C).
  virtual void bn_relu_pool_backward(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                                     const T* xbias, const T* gamma, const T* beta,
                                     const T* mean, const T* var, const T* y,
                                     const uint8_t* argmax, const T* dy, T* dx, T* dxbias,
                                     T* dgamma, T* dbeta) = 0;

  // The folded primary network's block tail, for inference: y = max-pool(relu(x + bias)),
  // computed as relu(the window's max + bias) (adding and rectifying are monotone, so the
  // values are the same for finite x) in one pass. x: (C, B, H, W) conv output WITHOUT its
  // bias; bias: (C); y: (C, B, Ho, Wo).
  virtual void bias_relu_pool_forward(const PoolShape& pool, const T* x, const T* bias,
                                      T* y) = 0;

  // ---- pointwise ----------------------------------------------------------------------------
  // y = max(0, x) over n elements (y may alias x).
  virtual void relu_forward(std::size_t n, const T* x, T* y) = 0;
  // dx = dy where y > 0, else 0 (dx may alias dy).
  virtual void relu_backward(std::size_t n, const T* y, const T* dy, T* dx) = 0;

  // ---- 2×2 max-pool, stride 2, floor ---------------------------------------------------------
  // x: (C, B, H, W) -> y: (C, B, Ho, Wo); argmax: (C, B, Ho, Wo) index within the 2×2 window.
  virtual void max_pool_forward(const PoolShape& s, const T* x, T* y, uint8_t* argmax) = 0;
  // dy: (C, B, Ho, Wo) -> dx: (C, B, H, W) (every element written).
  virtual void max_pool_backward(const PoolShape& s, const uint8_t* argmax, const T* dy,
                                 T* dx) = 0;

  // ---- linear: y = x·Wᵀ + b -------------------------------------------------------------------
  // x: (B, D); w: (N, D); b: (N) or null; y: (B, N).
  virtual void linear_forward(int B, int D, int N, const T* x, const T* w, const T* b,
                              T* y) = 0;
  // dy: (B, N) -> dx: (B, D) (null: skip), dw: (N, D), db: (N) (null: skip).
  virtual void linear_backward(int B, int D, int N, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* db) = 0;

  // ---- FiLM: y = x·scale_c + shift_c, per channel ---------------------------------------------
  // x: (C, B, HW); scale, shift: (C); y: (C, B, HW) (may alias x).
  virtual void film_forward(int B, int C, int HW, const T* x, const T* scale, const T* shift,
                            T* y) = 0;
  // dy -> dx (null: skip; may alias dy), dscale, dshift: (C) (null: skip).
  virtual void film_backward(int B, int C, int HW, const T* x, const T* scale, const T* dy,
                             T* dx, T* dscale, T* dshift) = 0;

  // ---- softmax cross-entropy, mean over rows ---------------------------------------------------
  // logits: (B, N); labels: (B) in [0, N); probs: (B, N) kept for backward; pred: (B) argmax
  // (null: skip). Returns the mean loss; *correct (if not null) = number of rows pred == label.
  virtual T softmax_xent_forward(int B, int N, const T* logits, const int32_t* labels, T* probs,
                                 int32_t* pred, int* correct) = 0;
  // dlogits = dloss·(probs − onehot(labels))/B.
  virtual void softmax_xent_backward(int B, int N, const T* probs, const int32_t* labels,
                                     T dloss, T* dlogits) = 0;

  // ---- squared Euclidean distances ------------------------------------------------------------
  // a: (M, D); b: (N, D) -> d: (M, N), d_ij = ‖a_i − b_j‖².
  virtual void sq_dist_forward(int M, int N, int D, const T* a, const T* b, T* d) = 0;
  // dd: (M, N) -> da: (M, D), db: (N, D) (either may be null).
  virtual void sq_dist_backward(int M, int N, int D, const T* a, const T* b, const T* dd, T* da,
                                T* db) = 0;

  // ---- per-class means (prototypes) ------------------------------------------------------------
  // x: (R, D); labels: (R) in [0, N), every class present -> means: (N, D).
  virtual void class_means_forward(int R, int D, int N, const T* x, const int32_t* labels,
                                   T* means) = 0;
  // dmeans: (N, D) -> dx: (R, D).
  virtual void class_means_backward(int R, int D, int N, const int32_t* labels,
                                     const T* dmeans, T* dx) = 0;

  // ---- tangents (forward-mode derivatives), for exact Hessian-vector products ------------------
  // A tangent op differentiates an op above in a direction: given the op's inputs and a tangent
  // of each (ẋ = dx/dε along a path x(ε), "dot" in names), it writes the tangent of its outputs.
  // Differentiating a backward op this way (forward over reverse) gives H·v exactly, which MAML's
  // second-order meta-gradient needs (methods/maml.hpp). A null tangent input means zero (e.g. the
  // input images); a null output is not computed. Outputs are OVERWRITTEN. Piecewise-linear ops
  // (ReLU, max-pool) keep their forward masks: the tangent is that of the active piece.
  //
  // conv2d_forward_tangent: ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃias (shapes as conv2d_forward;
  // xdot, wdot, bias_dot may be null; ydot: (K, B, Ho, Wo)).
  virtual void conv2d_forward_tangent(const ConvShape& s, const T* x, const T* xdot, const T* w,
                                      const T* wdot, const T* bias_dot, T* ydot, T* work) = 0;
  // The tangent of conv2d_backward, with its primal data gradient alongside: from x, ẋ, w, ẇ
  // (ẋ, ẇ null: 0), dy, ḋy (the tangent of dy) writes dx = convᵀ(dy, w) (null: skip),
  // ḋx = convᵀ(ḋy, w) + convᵀ(dy, ẇ) (null: skip), ḋw = corr(ẋ, dy) + corr(x, ḋy),
  // ḋbias = Σ ḋy (null: skip). work: s.workspace_size() elements.
  virtual void conv2d_backward_tangent(const ConvShape& s, const T* x, const T* xdot, const T* w,
                                       const T* wdot, const T* dy, const T* dydot, T* dx,
                                       T* dxdot, T* dwdot, T* dbias_dot, T* work) = 0;
  // The tangent of bn_relu_pool_forward (its forward already run: mean, var, y, argmax are its
  // outputs). xdot: (C, B, H, W) tangent of x; xbias_dot, gamma_dot, beta_dot: (C) (any may be
  // null) -> ydot: (C, B, Ho, Wo). With s.S > 0 the tangent flows through the statistics.
  virtual void bn_relu_pool_forward_tangent(const BatchNormShape& bn, const PoolShape& pool,
                                            const T* x, const T* xbias, const T* gamma,
                                            const T* mean, const T* var, const T* y,
                                            const uint8_t* argmax, const T* xdot,
                                            const T* xbias_dot, const T* gamma_dot,
                                            const T* beta_dot, T* ydot) = 0;
  // The tangent of bn_relu_pool_backward, with its primal input gradient alongside: dy and its
  // tangent dydot (C, B, Ho, Wo) plus the input tangents as above -> dx (C, B, H, W) (null:
  // skip), dxdot (C, B, H, W), dxbias_dot, dgamma_dot, dbeta_dot (C) (null: skip). beta enters
  // the backward only through the masks, so its tangent is not needed.
  virtual void bn_relu_pool_backward_tangent(const BatchNormShape& bn, const PoolShape& pool,
                                             const T* x, const T* xbias, const T* gamma,
                                             const T* mean, const T* var, const T* y,
                                             const uint8_t* argmax, const T* dy,
                                             const T* xdot, const T* xbias_dot,
                                             const T* gamma_dot, const T* dydot, T* dx, T* dxdot,
                                             T* dxbias_dot, T* dgamma_dot, T* dbeta_dot) = 0;
  // linear: ẏ = ẋ·Wᵀ + x·Ẇᵀ + ḃ (xdot, wdot, bdot may be null).
  virtual void linear_forward_tangent(int B, int D, int N, const T* x, const T* xdot,
                                      const T* w, const T* wdot, const T* bdot, T* ydot) = 0;
  // The tangent of linear_backward: ḋx = ḋy·W + dy·Ẇ, ḋW = ḋyᵀ·x + dyᵀ·ẋ, ḋb = Σ_rows ḋy
  // (xdot, wdot may be null; dxdot, dbdot: null = skip).
  virtual void linear_backward_tangent(int B, int D, int N, const T* x, const T* xdot,
                                       const T* w, const T* wdot, const T* dy, const T* dydot,
                                       T* dxdot, T* dwdot, T* dbdot) = 0;
  // The tangent of softmax_xent_backward along logits tangent ldot (B, N), probs those of the
  // forward: ḋlogits = dloss/B · p ⊙ (l̇ − Σ_j p_j·l̇_j) per row.
  virtual void softmax_xent_backward_tangent(int B, int N, const T* probs, const T* ldot,
                                             T dloss, T* dlogits_dot) = 0;

  // ---- parameter updates over flat buffers of n elements ---------------------------------------
  // PyTorch's Adam: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; with t the step after this one
  // (t ≥ 1): θ −= lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + eps). weight_decay adds wd·θ to g first.
  virtual void adam_update(std::size_t n, T* theta, const T* grad, T* m, T* v, double lr,
                           double beta1, double beta2, double eps, double weight_decay,
                           int64_t t) = 0;
  // PyTorch's SGD: g += wd·θ; with momentum μ > 0: buf = μ·buf + g (buf = g on the first step),
  // g = buf; θ −= lr·g. buf may be null when μ == 0.
  virtual void sgd_update(std::size_t n, T* theta, const T* grad, T* buf, double lr,
                          double momentum, double weight_decay, bool first_step) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Host worker threads this backend's ops use (its own loops and its BLAS); n = 0: all cores.
  // Throws usage_error for n < 0. Results never depend on the count (see each op's file).
  virtual void set_threads(int n) = 0;
  // The count in effect (>= 1; all cores until set_threads is called).
  virtual int threads() const = 0;
  template <class T>
  Kernels<T>& kernels();

 protected:
  virtual Kernels<float>& kernels_f32() = 0;
  virtual Kernels<double>& kernels_f64() = 0;
};

template <>
inline Kernels<float>& Backend::kernels<float>() { return kernels_f32(); }
template <>
inline Kernels<double>& Backend::kernels<double>() { return kernels_f64(); }

}  // namespace fsh
