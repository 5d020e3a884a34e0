// Forward-mode derivatives of the Conv-4 forward and backward (forward over reverse): the
// tangent of the features along a parameter direction θ̇, and the tangent of the parameter
// gradient, which is the Hessian-vector product H·θ̇ of a loss of the features. Composed from
// the backend's tangent ops (backend.hpp "tangents") block by block, mirroring conv4.cpp:
//   forward:  ż_i = conv(ȧ_i, w_i) + conv(a_i, ẇ_i)  (ȧ_0 = 0: the images have no tangent)
//             ȧ_{i+1} = tangent of bn_relu_pool(z_i + b_i) along (ż_i, ḃ_i, γ̇_i, β̇_i)
//   backward: the primal gradients (recomputed from the tape) and their tangents travel
//             together, from the features down to block 0.
// Memory: one Conv4TangentTape (the size of the activations) per tangent alive; the primal
// tape is only read.
#include <algorithm>

#include "nn/conv4.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {

template <class V>
void grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

// (B, C, HW) <-> (C, B, HW)
template <class T>
void to_channels(int B, int C, int HW, const T* src, T* dst) {
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      std::copy_n(src + (std::size_t(b) * C + c) * HW, HW, dst + (std::size_t(c) * B + b) * HW);
}
template <class T>
void to_rows(int B, int C, int HW, const T* src, T* dst) {
  for (int c = 0; c < C; ++c)
    for (int b = 0; b < B; ++b)
      std::copy_n(src + (std::size_t(c) * B + b) * HW, HW, dst + (std::size_t(b) * C + c) * HW);
}

PoolShape pool_of(const ConvShape& cs) { return PoolShape{cs.B, cs.K, cs.H, cs.W}; }

}  // namespace

template <class T>
const T* Conv4<T>::forward_tangent(const T* params, const T* params_dot, const Conv4Tape<T>& t,
                                   Conv4TangentTape<T>& tt) {
  if (t.batch_ == 0) throw usage_error("Conv-4: forward_tangent called before forward");
  if (t.inference_only_)
    throw usage_error("Conv-4: forward_tangent of an inference tape (forward_inference or forward_reusing)");
  const int D = cfg_.depth, batch = t.batch_;
  tt.act_.resize(D);
  tt.conv_out_.resize(D);
  for (int i = 0; i < D; ++i) {
    if (i > 0) grow(tt.act_[i], t.conv_[i].x_size());
    grow(tt.conv_out_[i], t.conv_[i].y_size());
  }
  const std::size_t nf = std::size_t(batch) * cfg_.feature_dim();
  grow(tt.out_, nf);
  grow(tt.features_, nf);
  for (int i = 0; i < D; ++i) {
    const ConvShape& cs = t.conv_[i];
    const Offsets& o = off_[i];
    k_->conv2d_forward_tangent(cs, t.act_[i].data(), i > 0 ? tt.act_[i].data() : nullptr,
                               params + o.w, params_dot + o.w, nullptr, tt.conv_out_[i].data(),
                               work_.data());
    BatchNormShape bs{batch, cfg_.hidden, cs.H * cs.W, t.support_rows_, cfg_.bn_eps};
    const T* pooled = i + 1 < D ? t.act_[i + 1].data() : t.out_.data();
    T* next = i + 1 < D ? tt.act_[i + 1].data() : tt.out_.data();
    k_->bn_relu_pool_forward_tangent(
        bs, pool_of(cs), t.conv_out_[i].data(), params + o.b, params + o.gamma,
        t.stats_[i].mean.data(), t.stats_[i].var.data(), pooled, t.argmax_[i].data(),
        tt.conv_out_[i].data(), params_dot + o.b, params_dot + o.gamma, params_dot + o.beta, next);
  }
  to_rows(batch, cfg_.hidden, cfg_.out_height() * cfg_.out_width(), tt.out_.data(),
          tt.features_.data());
  return tt.features_.data();
}

template <class T>
void Conv4<T>::backward_tangent(const T* params, const T* params_dot, const Conv4Tape<T>& t,
                                const Conv4TangentTape<T>& tt, const T* dfeatures,
                                const T* dfeatures_dot, T* grads_dot) {
  if (t.batch_ == 0) throw usage_error("Conv-4: backward_tangent called before forward");
  if (t.inference_only_)
    throw usage_error("Conv-4: backward_tangent of an inference tape (forward_inference or forward_reusing)");
  if (int(tt.conv_out_.size()) != cfg_.depth)
    throw usage_error("Conv-4: backward_tangent needs the forward_tangent of the same forward");
  const int batch = t.batch_;
  grow(tan_a_, grad_a_.size());
  grow(tan_b_, grad_b_.size());
  const int HWf = cfg_.out_height() * cfg_.out_width();
  to_channels(batch, cfg_.hidden, HWf, dfeatures, grad_a_.data());
  to_channels(batch, cfg_.hidden, HWf, dfeatures_dot, tan_a_.data());
  for (int i = cfg_.depth - 1; i >= 0; --i) {
    const ConvShape& cs = t.conv_[i];
    const Offsets& o = off_[i];
    // grad_a_, tan_a_: d(pooled output) and its tangent -> grad_b_, tan_b_: d(conv output)
    // and its tangent; then -> grad_a_, tan_a_: d(conv input) and its tangent.
    const T* pooled = i + 1 < cfg_.depth ? t.act_[i + 1].data() : t.out_.data();
    BatchNormShape bs{batch, cfg_.hidden, cs.H * cs.W, t.support_rows_, cfg_.bn_eps};
    k_->bn_relu_pool_backward_tangent(
        bs, pool_of(cs), t.conv_out_[i].data(), params + o.b, params + o.gamma,
        t.stats_[i].mean.data(), t.stats_[i].var.data(), pooled, t.argmax_[i].data(),
        grad_a_.data(), tt.conv_out_[i].data(), params_dot + o.b, params_dot + o.gamma,
        tan_a_.data(), grad_b_.data(), tan_b_.data(), grads_dot + o.b, grads_dot + o.gamma,
        grads_dot + o.beta);
    const bool below = i > 0;  // block 0's input is the images: no gradient needed there
    k_->conv2d_backward_tangent(cs, t.act_[i].data(), below ? tt.act_[i].data() : nullptr,
                                params + o.w, params_dot + o.w, grad_b_.data(), tan_b_.data(),
                                below ? grad_a_.data() : nullptr, below ? tan_a_.data() : nullptr,
                                grads_dot + o.w, nullptr, work_.data());
  }
}

#define FSH_INSTANTIATE(T)                                                             \
  template const T* Conv4<T>::forward_tangent(const T*, const T*, const Conv4Tape<T>&, \
                                              Conv4TangentTape<T>&);                   \
  template void Conv4<T>::backward_tangent(const T*, const T*, const Conv4Tape<T>&,    \
                                           const Conv4TangentTape<T>&, const T*, const T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)
#undef FSH_INSTANTIATE

}  // namespace fsh
