// Conv-4 backbone and the folded primary network, composed from the backend ops. Activations
// use the backend's channel-major layout (C, B, H, W); only the input images (B, C, H, W) and
// the features (B, F) are transposed at the edges, so features follow PyTorch's flatten order
// (per row: channel, then row, then column).
#include "nn/conv4.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.hpp"

namespace fsh {

// ---- configuration --------------------------------------------------------------------------

int Conv4Config::out_height() const { return height >> depth; }
int Conv4Config::out_width() const { return width >> depth; }
int Conv4Config::feature_dim() const { return hidden * out_height() * out_width(); }

void Conv4Config::validate() const {
  auto bad = [](const std::string& what) { throw usage_error("Conv-4: " + what); };
  if (in_channels < 1 || in_channels > 64)
    bad("input channels must be in [1, 64], got " + std::to_string(in_channels));
  if (hidden < 1 || hidden > 4096)
    bad("hidden width must be in [1, 4096], got " + std::to_string(hidden));
  if (depth < 1 || depth > 8) bad("depth must be in [1, 8], got " + std::to_string(depth));
  if (height < (1 << depth) || width < (1 << depth) || height > 4096 || width > 4096)
    bad("input " + std::to_string(height) + "x" + std::to_string(width) +
        " is outside [" + std::to_string(1 << depth) + ", 4096] per side for depth " +
        std::to_string(depth) + " (each block halves it)");
  if (!(bn_eps > 0)) bad("batch-norm eps must be > 0");
}

namespace {

int block_channels(const Conv4Config& c, int i) { return i == 0 ? c.in_channels : c.hidden; }
int block_height(const Conv4Config& c, int i) { return c.height >> i; }
int block_width(const Conv4Config& c, int i) { return c.width >> i; }

ConvShape block_conv(const Conv4Config& c, int i, int batch) {
  ConvShape s;
  s.B = batch;
  s.C = block_channels(c, i);
  s.H = block_height(c, i);
  s.W = block_width(c, i);
  s.K = c.hidden;
  s.kh = s.kw = 3;
  s.stride = 1;
  s.pad = 1;
  return s;
}

PoolShape block_pool(const Conv4Config& c, int i, int batch) {
  return PoolShape{batch, c.hidden, block_height(c, i), block_width(c, i)};
}

std::string idx(const char* prefix, int i, const char* suffix) {
  return prefix + std::to_string(i) + suffix;
}


// Grows v to at least n elements; never shrinks, so steady-state calls do not allocate.
template <class V>
void grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

// (B, C, HW) <-> (C, B, HW)
template <class T>
void rows_to_channels(int B, int C, int HW, const T* src, T* dst) {
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      std::copy_n(src + (std::size_t(b) * C + c) * HW, HW, dst + (std::size_t(c) * B + b) * HW);
}
template <class T>
void channels_to_rows(int B, int C, int HW, const T* src, T* dst) {
  for (int c = 0; c < C; ++c)
    for (int b = 0; b < B; ++b)
      std::copy_n(src + (std::size_t(c) * B + b) * HW, HW, dst + (std::size_t(b) * C + c) * HW);
}

void check_batch(int batch) {
  if (batch < 1) throw usage_error("Conv-4: batch must have >= 1 rows, got " + std::to_string(batch));
}

}  // namespace

ParamLayout conv4_layout(const Conv4Config& c) {
  ParamLayout l;
  for (int i = 0; i < c.depth; ++i) {
    l.add(idx("conv", i, ".weight"), {c.hidden, block_channels(c, i), 3, 3});
    l.add(idx("conv", i, ".bias"), {c.hidden});
    l.add(idx("bn", i, ".gamma"), {c.hidden});
    l.add(idx("bn", i, ".beta"), {c.hidden});
  }
  return l;
}

// ---- Conv-4 with batch norm -----------------------------------------------------------------

template <class T>
Conv4<T>::Conv4(const Conv4Config& cfg, Backend& backend)
    : cfg_(cfg), k_(&backend.kernels<T>()), layout_((cfg.validate(), conv4_layout(cfg))) {
  for (int i = 0; i < cfg_.depth; ++i)
    off_.push_back(Offsets{layout_.at(idx("conv", i, ".weight")).offset,
                           layout_.at(idx("conv", i, ".bias")).offset,
                           layout_.at(idx("bn", i, ".gamma")).offset,
                           layout_.at(idx("bn", i, ".beta")).offset});
}

template <class T>
void Conv4<T>::init(T* params, Rng& rng) const {
  for (int i = 0; i < cfg_.depth; ++i) {
    const double bound = 1.0 / std::sqrt(double(block_channels(cfg_, i) * 9));
    for (const char* name : {".weight", ".bias"}) {
      const ParamView& v = layout_.at(idx("conv", i, name));
      for (std::size_t j = 0; j < v.size; ++j)
        params[v.offset + j] = T(-bound + 2 * bound * rng.uniform());
    }
    const ParamView& g = layout_.at(idx("bn", i, ".gamma"));
    std::fill_n(params + g.offset, g.size, T(1));
    const ParamView& b = layout_.at(idx("bn", i, ".beta"));
    std::fill_n(params + b.offset, b.size, T(0));
  }
}

template <class T>
void Conv4<T>::reserve(int batch, Conv4Tape<T>& t) {
  t.batch_ = batch;
  const int D = cfg_.depth;
  if (int(t.conv_.size()) != D) {
    t.conv_.resize(D);
    t.act_.resize(D);
    t.conv_out_.resize(D);
    t.argmax_.resize(D);
    t.stats_.resize(D);
    for (auto& s : t.stats_) {
      s.mean.assign(cfg_.hidden, T(0));
      s.var.assign(cfg_.hidden, T(1));
    }
  }
  std::size_t largest = std::size_t(cfg_.in_channels) * batch * cfg_.height * cfg_.width;
  std::size_t work = 0;
  for (int i = 0; i < D; ++i) {
    t.conv_[i] = block_conv(cfg_, i, batch);
    grow(t.act_[i], t.conv_[i].x_size());
    grow(t.conv_out_[i], t.conv_[i].y_size());
    grow(t.argmax_[i], block_pool(cfg_, i, batch).y_size());
    largest = std::max(largest, t.conv_[i].y_size());
    work = std::max(work, t.conv_[i].workspace_size());
  }
  grow(t.out_, std::size_t(batch) * cfg_.feature_dim());
  grow(t.features_, std::size_t(batch) * cfg_.feature_dim());
  grow(work_, work);
  grow(grad_a_, largest);
  grow(grad_b_, largest);
}

template <class T>
const T* Conv4<T>::forward(const T* params, const T* x, int batch, BnMode mode, int support_rows,
                           const std::vector<BnStats<T>>* fixed, Conv4Tape<T>& t) {
  return forward_recording(params, x, batch, mode, support_rows, fixed, false, t);
}

template <class T>
const T* Conv4<T>::forward_inference(const T* params, const T* x, int batch, BnMode mode,
                                     int support_rows, const std::vector<BnStats<T>>* fixed,
                                     Conv4Tape<T>& t) {
  return forward_recording(params, x, batch, mode, support_rows, fixed, true, t);
}

template <class T>
const T* Conv4<T>::forward_recording(const T* params, const T* x, int batch, BnMode mode,
                                     int support_rows, const std::vector<BnStats<T>>* fixed,
                                     bool inference, Conv4Tape<T>& t) {
  check_batch(batch);
  if (mode == BnMode::support && (support_rows < 1 || support_rows > batch))
    throw usage_error("Conv-4: support rows must be in [1, " + std::to_string(batch) +
                      "] (the batch), got " + std::to_string(support_rows));
  if (mode == BnMode::fixed) {
    if (!fixed || int(fixed->size()) != cfg_.depth)
      throw usage_error("Conv-4: fixed batch-norm mode needs " + std::to_string(cfg_.depth) +
                        " sets of statistics");
    for (const auto& s : *fixed)
      if (int(s.mean.size()) != cfg_.hidden || int(s.var.size()) != cfg_.hidden)
        throw shape_error("Conv-4: fixed batch-norm statistics must have " +
                          std::to_string(cfg_.hidden) + " channels");
  }
  reserve(batch, t);
  t.support_rows_ = mode == BnMode::batch ? batch : mode == BnMode::support ? support_rows : 0;
  t.inference_only_ = inference;
  t.partial_ = false;
  rows_to_channels(batch, cfg_.in_channels, cfg_.height * cfg_.width, x, t.act_[0].data());
  return run_blocks(params, 0, mode, fixed, t);
}

template <class T>
const T* Conv4<T>::forward_reusing(const T* params, const Conv4Tape<T>& first, int from,
                                   Conv4Tape<T>& t) {
  if (first.batch_ == 0 || first.partial_)
    throw usage_error("Conv-4: forward_reusing needs a complete forward to reuse");
  if (first.support_rows_ == 0)
    throw usage_error("Conv-4: forward_reusing reuses batch statistics, not fixed ones");
  if (&first == &t) throw usage_error("Conv-4: forward_reusing needs a second tape");
  if (from < 0 || from >= cfg_.depth)
    throw usage_error("Conv-4: forward_reusing: block " + std::to_string(from) +
                      " is not in [0, " + std::to_string(cfg_.depth) + ")");
  const int batch = first.batch_;
  reserve(batch, t);
  t.support_rows_ = first.support_rows_;
  t.inference_only_ = true;
  t.partial_ = true;
  // The earlier blocks' statistics (what folding needs), then block `from` normalised with
  // first's statistics: the kernel's fixed-statistics path computes the same scale and shift
  // from them as its batch path did, then applies these params' γ, β.
  for (int i = 0; i <= from; ++i) t.stats_[i] = first.stats_[i];
  const ConvShape& cs = t.conv_[from];
  BatchNormShape bs{batch, cfg_.hidden, cs.H * cs.W, 0, cfg_.bn_eps};
  T* next = from + 1 < cfg_.depth ? t.act_[from + 1].data() : t.out_.data();
  k_->bn_relu_pool_forward(bs, block_pool(cfg_, from, batch), first.conv_out_[from].data(),
                           params + off_[from].b, params + off_[from].gamma,
                           params + off_[from].beta, t.stats_[from].mean.data(),
                           t.stats_[from].var.data(), next, nullptr);
  const BnMode mode = t.support_rows_ == batch ? BnMode::batch : BnMode::support;
  return run_blocks(params, from + 1, mode, nullptr, t);
}

template <class T>
const T* Conv4<T>::run_blocks(const T* params, int from, BnMode mode,
                              const std::vector<BnStats<T>>* fixed, Conv4Tape<T>& t) {
  const int batch = t.batch_;
  for (int i = from; i < cfg_.depth; ++i) {
    const ConvShape& cs = t.conv_[i];
    const T* w = params + off_[i].w;
    const T* b = params + off_[i].b;
    const T* gamma = params + off_[i].gamma;
    const T* beta = params + off_[i].beta;
    // The conv bias is added inside the fused batch-norm op (it only shifts the statistics).
    k_->conv2d_forward(cs, t.act_[i].data(), w, nullptr, t.conv_out_[i].data(), work_.data());
    if (mode == BnMode::fixed) {
      std::copy((*fixed)[i].mean.begin(), (*fixed)[i].mean.end(), t.stats_[i].mean.begin());
      std::copy((*fixed)[i].var.begin(), (*fixed)[i].var.end(), t.stats_[i].var.begin());
    }
    BatchNormShape bs{batch, cfg_.hidden, cs.H * cs.W, t.support_rows_, cfg_.bn_eps};
    T* next = i + 1 < cfg_.depth ? t.act_[i + 1].data() : t.out_.data();
    k_->bn_relu_pool_forward(bs, block_pool(cfg_, i, batch), t.conv_out_[i].data(), b, gamma,
                             beta, t.stats_[i].mean.data(), t.stats_[i].var.data(), next,
                             t.inference_only_ ? nullptr : t.argmax_[i].data());
  }
  channels_to_rows(batch, cfg_.hidden, cfg_.out_height() * cfg_.out_width(), t.out_.data(),
                   t.features_.data());
  return t.features_.data();
}

template <class T>
void Conv4<T>::backward(const T* params, const Conv4Tape<T>& t, const T* dfeatures, T* grads,
                        T* dx, GradMode grad_mode) {
  if (t.batch_ == 0) throw usage_error("Conv-4: backward called before forward");
  if (t.inference_only_)
    throw usage_error("Conv-4: backward of an inference tape (forward_inference or "
                      "forward_reusing)");
  const int batch = t.batch_;
  // The kernels overwrite their parameter gradients; to accumulate, they write into a scratch
  // buffer that is then added.
  T* g = grads;
  if (grad_mode == GradMode::accumulate) {
    grow(grad_acc_, layout_.size());
    g = grad_acc_.data();
  }
  rows_to_channels(batch, cfg_.hidden, cfg_.out_height() * cfg_.out_width(), dfeatures,
                   grad_a_.data());
  for (int i = cfg_.depth - 1; i >= 0; --i) {
    const ConvShape& cs = t.conv_[i];
    const Offsets& o = off_[i];
    // grad_a_: d(pooled output) -> grad_b_: d(conv output); then -> grad_a_: d(conv input).
    const T* pooled = i + 1 < cfg_.depth ? t.act_[i + 1].data() : t.out_.data();
    BatchNormShape bs{batch, cfg_.hidden, cs.H * cs.W, t.support_rows_, cfg_.bn_eps};
    k_->bn_relu_pool_backward(bs, block_pool(cfg_, i, batch), t.conv_out_[i].data(),
                              params + o.b, params + o.gamma, params + o.beta,
                              t.stats_[i].mean.data(), t.stats_[i].var.data(), pooled,
                              t.argmax_[i].data(), grad_a_.data(), grad_b_.data(), g + o.b,
                              g + o.gamma, g + o.beta);
    T* dinput = i > 0 || dx ? grad_a_.data() : nullptr;
    k_->conv2d_backward(cs, t.act_[i].data(), params + o.w, grad_b_.data(), dinput, g + o.w,
                        nullptr, work_.data());
  }
  if (dx) channels_to_rows(batch, cfg_.in_channels, cfg_.height * cfg_.width, grad_a_.data(), dx);
  if (grad_mode == GradMode::accumulate) k_->axpy(layout_.size(), T(1), g, grads);
}

template class Conv4<float>;
template class Conv4<double>;

// ---- batch-norm folding ---------------------------------------------------------------------

template <class T>
void fold_coefficients(int K, const T* gamma, const T* beta, const T* mean, const T* var,
                       double eps, T* scale, T* shift) {
  for (int k = 0; k < K; ++k) {
    const double s = double(gamma[k]) / std::sqrt(double(var[k]) + eps);
    scale[k] = T(s);
    shift[k] = T(double(beta[k]) - double(mean[k]) * s);
  }
}

template <class T>
void apply_fold(int K, int per_filter, const T* w, const T* b, const T* scale, const T* shift,
                T* w_out, T* b_out) {
  for (int k = 0; k < K; ++k) {
    const T s = scale[k];
    for (int j = 0; j < per_filter; ++j) {
      const std::size_t p = std::size_t(k) * per_filter + j;
      w_out[p] = w[p] * s;
    }
    b_out[k] = T(double(b[k]) * double(s) + double(shift[k]));
  }
}

template <class T>
void fold_batch_norm(int K, int per_filter, const T* w, const T* b, const T* gamma,
                     const T* beta, const T* mean, const T* var, double eps, T* w_out,
                     T* b_out) {
  std::vector<T> scale(K), shift(K);
  fold_coefficients(K, gamma, beta, mean, var, eps, scale.data(), shift.data());
  apply_fold(K, per_filter, w, b, scale.data(), shift.data(), w_out, b_out);
}

ParamLayout conv_layout(const Conv4Config& c) {
  c.validate();
  ParamLayout l;
  for (int i = 0; i < c.depth; ++i) {
    l.add(idx("conv", i, ".weight"), {c.hidden, block_channels(c, i), 3, 3});
    l.add(idx("conv", i, ".bias"), {c.hidden});
  }
  return l;
}

template <class T>
void fold_convs(const Conv4Config& cfg, const T* convs, const T* scale, const T* shift,
                T* primary) {
  const ParamLayout l = conv_layout(cfg);
  for (int i = 0; i < cfg.depth; ++i) {
    const ParamView& w = l.at(idx("conv", i, ".weight"));
    const ParamView& b = l.at(idx("conv", i, ".bias"));
    apply_fold(cfg.hidden, block_channels(cfg, i) * 9, convs + w.offset, convs + b.offset,
               scale + std::size_t(i) * cfg.hidden, shift + std::size_t(i) * cfg.hidden,
               primary + w.offset, primary + b.offset);
  }
}

#define FSH_FOLD_INSTANTIATE(T)                                                                \
  template void fold_coefficients<T>(int, const T*, const T*, const T*, const T*, double, T*,   \
                                     T*);                                                       \
  template void apply_fold<T>(int, int, const T*, const T*, const T*, const T*, T*, T*);        \
  template void fold_batch_norm<T>(int, int, const T*, const T*, const T*, const T*, const T*,  \
                                   const T*, double, T*, T*);                                   \
  template void fold_convs<T>(const Conv4Config&, const T*, const T*, const T*, T*);
FSH_FOLD_INSTANTIATE(float)
FSH_FOLD_INSTANTIATE(double)
#undef FSH_FOLD_INSTANTIATE

// ---- primary network ------------------------------------------------------------------------

template <class T>
ParamLayout PrimaryNet<T>::layout(const Conv4Config& c, int ways) {
  c.validate();
  if (ways < 1) throw usage_error("primary network: ways must be >= 1, got " + std::to_string(ways));
  ParamLayout l = conv_layout(c);  // the conv blocks come first: fold_convs relies on it
  l.add("head.weight", {ways, c.feature_dim()});
  l.add("head.bias", {ways});
  return l;
}

template <class T>
PrimaryNet<T>::PrimaryNet(const Conv4Config& cfg, int ways, Backend& backend)
    : cfg_(cfg), ways_(ways), k_(&backend.kernels<T>()), layout_(layout(cfg, ways)) {
  for (int i = 0; i < cfg_.depth; ++i) {
    w_off_.push_back(layout_.at(idx("conv", i, ".weight")).offset);
    b_off_.push_back(layout_.at(idx("conv", i, ".bias")).offset);
  }
}

template <class T>
void PrimaryNet<T>::fold_from(const T* conv4_params, const std::vector<BnStats<T>>& stats,
                              T* primary) const {
  if (int(stats.size()) != cfg_.depth)
    throw usage_error("primary network: folding needs " + std::to_string(cfg_.depth) +
                      " sets of batch-norm statistics, got " + std::to_string(stats.size()));
  const ParamLayout src = conv4_layout(cfg_);
  for (int i = 0; i < cfg_.depth; ++i) {
    if (int(stats[i].mean.size()) != cfg_.hidden || int(stats[i].var.size()) != cfg_.hidden)
      throw shape_error("primary network: batch-norm statistics must have " +
                        std::to_string(cfg_.hidden) + " channels");
    const ParamView& w = src.at(idx("conv", i, ".weight"));
    fold_batch_norm(cfg_.hidden, block_channels(cfg_, i) * 9, conv4_params + w.offset,
                    conv4_params + src.at(idx("conv", i, ".bias")).offset,
                    conv4_params + src.at(idx("bn", i, ".gamma")).offset,
                    conv4_params + src.at(idx("bn", i, ".beta")).offset, stats[i].mean.data(),
                    stats[i].var.data(), cfg_.bn_eps,
                    primary + layout_.at(idx("conv", i, ".weight")).offset,
                    primary + layout_.at(idx("conv", i, ".bias")).offset);
  }
}

template <class T>
const T* PrimaryNet<T>::forward(const T* primary, const T* x, int batch) {
  check_batch(batch);
  std::size_t largest = std::size_t(cfg_.in_channels) * batch * cfg_.height * cfg_.width;
  std::size_t work = 0;
  for (int i = 0; i < cfg_.depth; ++i) {
    ConvShape cs = block_conv(cfg_, i, batch);
    largest = std::max(largest, cs.y_size());
    work = std::max(work, cs.workspace_size());
  }
  grow(a_, largest);
  grow(b_, largest);
  grow(work_, work);
  const int F = cfg_.feature_dim();
  grow(features_, std::size_t(batch) * F);
  grow(logits_, std::size_t(batch) * ways_);

  rows_to_channels(batch, cfg_.in_channels, cfg_.height * cfg_.width, x, a_.data());
  for (int i = 0; i < cfg_.depth; ++i) {
    ConvShape cs = block_conv(cfg_, i, batch);
    // conv, + bias, ReLU, pool: the bias with the ReLU and the pool, in one pass.
    k_->conv2d_forward(cs, a_.data(), primary + w_off_[i], nullptr, b_.data(), work_.data());
    k_->bias_relu_pool_forward(block_pool(cfg_, i, batch), b_.data(), primary + b_off_[i],
                               a_.data());
  }
  channels_to_rows(batch, cfg_.hidden, cfg_.out_height() * cfg_.out_width(), a_.data(),
                   features_.data());
  k_->linear_forward(batch, F, ways_, features_.data(),
                     primary + layout_.at("head.weight").offset,
                     primary + layout_.at("head.bias").offset, logits_.data());
  return logits_.data();
}

template class PrimaryNet<float>;
template class PrimaryNet<double>;

template <class T>
std::vector<T> primary_forward(const Conv4Config& cfg, int ways, const T* primary, const T* x,
                               int batch) {
  PrimaryNet<T> net(cfg, ways);
  const T* logits = net.forward(primary, x, batch);
  return std::vector<T>(logits, logits + std::size_t(batch) * ways);
}

template std::vector<float> primary_forward<float>(const Conv4Config&, int, const float*,
                                                   const float*, int);
template std::vector<double> primary_forward<double>(const Conv4Config&, int, const double*,
                                                     const double*, int);

}  // namespace fsh
