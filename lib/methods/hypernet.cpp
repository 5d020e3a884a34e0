// The hypernetwork method (see hypernet.hpp and man 7 fsh-hypernet). Everything is composed
// from the backend's ops (Conv-4, linear, ReLU, class means, squared distances, softmax
// cross-entropy), templated on the precision, so the double instantiation that the gradient
// checks differentiate is the very code the float method runs. The generator's layers are
// small (E ≤ a few hundred); the backend's linear op serves them, in float and double alike.
#include "methods/hypernet.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "methods/protonet.hpp"
#include "util/error.hpp"

namespace fsh {

// ---- configuration and layout ----------------------------------------------------------------

HypernetSpec HypernetSpec::from(const ModelConfig& cfg) {
  const Settings s = complete_settings("hypernet", cfg.settings);
  HypernetSpec h;
  h.backbone = cfg.backbone;
  h.bn = cfg.bn;
  h.film = !std::get<bool>(s.at("no_film"));
  h.film_from = static_cast<int>(std::get<int64_t>(s.at("film_from")));
  h.head = !std::get<bool>(s.at("no_head"));
  h.width = static_cast<int>(std::get<int64_t>(s.at("generator_width")));
  h.refine_steps = static_cast<int>(std::get<int64_t>(s.at("refine_steps")));
  h.refine_lr = std::get<double>(s.at("refine_lr"));
  return h;
}

ParamLayout hypernet_layout(const HypernetSpec& s) {
  s.backbone.validate();
  if (s.width < 1) throw usage_error("hypernet: generator width must be >= 1");
  if (s.film_from < 0 || s.film_from >= s.backbone.depth)
    throw usage_error("hypernet: film_from must be a block of the backbone, in [0, " +
                      std::to_string(s.backbone.depth - 1) + "], got " +
                      std::to_string(s.film_from));
  ParamLayout l = conv4_layout(s.backbone);
  const int K = s.backbone.hidden, F = s.backbone.feature_dim(), E = s.width;
  const int DK = (s.backbone.depth - s.film_from) * K;  // the FiLM'd channels
  if (s.uses_context()) {
    l.add("set.weight", {E, K});
    l.add("set.bias", {E});
  }
  if (s.film) {
    l.add("film.weight", {2 * DK, E});
    l.add("film.bias", {2 * DK});
  }
  if (s.head) {
    l.add("head.hidden.weight", {E, F + E});
    l.add("head.hidden.bias", {E});
    l.add("head.delta.weight", {F + 1, E});
    l.add("head.metric.weight", {F, E});
    l.add("head.metric.bias", {F});
  }
  return l;
}

namespace {

template <class T>
void stack(const HypernetEpisode<T>& ep, bool with_queries, std::size_t image,
           std::vector<T>& out) {
  const std::size_t s = std::size_t(ep.support_rows) * image;
  const std::size_t q = with_queries ? std::size_t(ep.query_rows) * image : 0;
  out.resize(s + q);
  std::copy(ep.support, ep.support + s, out.begin());
  if (q) std::copy(ep.query, ep.query + q, out.begin() + s);
}

std::string blk(const char* kind, int i, const char* what) {
  return std::string(kind) + std::to_string(i) + "." + what;
}

}  // namespace

// ---- HypernetCore ------------------------------------------------------------------------------

template <class T>
HypernetCore<T>::HypernetCore(const HypernetSpec& spec, Backend& backend)
    : spec_(spec),
      k_(&backend.kernels<T>()),
      layout_(hypernet_layout(spec)),
      net_(spec.backbone, backend) {
  const Conv4Config& c = spec_.backbone;
  K_ = c.hidden;
  F_ = c.feature_dim();
  E_ = spec_.width;
  D_ = c.depth;
  HW_ = c.out_height() * c.out_width();
  P4_ = net_.layout().size();
  for (int i = 0; i < D_; ++i) {
    bn_gamma_.push_back(net_.layout().at(blk("bn", i, "gamma")).offset);
    bn_beta_.push_back(net_.layout().at(blk("bn", i, "beta")).offset);
  }
  auto at = [&](const char* n) { return layout_.at(n).offset; };
  if (spec_.uses_context()) off_.set_w = at("set.weight"), off_.set_b = at("set.bias");
  if (spec_.film) off_.film_w = at("film.weight"), off_.film_b = at("film.bias");
  if (spec_.head) {
    off_.hid_w = at("head.hidden.weight");
    off_.hid_b = at("head.hidden.bias");
    off_.delta_w = at("head.delta.weight");
    off_.metric_w = at("head.metric.weight");
    off_.metric_b = at("head.metric.bias");
  }
}

template <class T>
void HypernetCore<T>::init(T* theta, Rng& rng) const {
  net_.init(theta, rng);  // the Conv-4 views come first and are drawn first: ProtoNet's draws
  std::fill(theta + P4_, theta + layout_.size(), T(0));
  auto uniform = [&](const char* w, const char* b, int fan_in) {
    const double bound = 1.0 / std::sqrt(double(fan_in));
    for (const char* name : {w, b}) {
      const ParamView& v = layout_.at(name);
      for (std::size_t j = 0; j < v.size; ++j)
        theta[v.offset + j] = T(-bound + 2 * bound * rng.uniform());
    }
  };
  if (spec_.uses_context()) uniform("set.weight", "set.bias", K_);
  if (spec_.head) uniform("head.hidden.weight", "head.hidden.bias", F_ + E_);
  // film.*, head.delta.weight, head.metric.* stay zero: the untrained method is ProtoNet.
}

// u_r = spatial mean of support feature r (K); ū_c = class means; e_c = relu(W_e·ū_c + b_e);
// t = mean_c e_c.
template <class T>
void HypernetCore<T>::context_forward(const T* feat) {
  u_.resize(std::size_t(S_) * K_);
  for (int r = 0; r < S_; ++r)
    for (int k = 0; k < K_; ++k) {
      const T* x = feat + std::size_t(r) * F_ + std::size_t(k) * HW_;
      T sum = 0;
      for (int j = 0; j < HW_; ++j) sum += x[j];
      u_[std::size_t(r) * K_ + k] = sum / T(HW_);
    }
  ubar_.resize(std::size_t(N_) * K_);
  k_->class_means_forward(S_, K_, N_, u_.data(), labels_, ubar_.data());
}

template <class T>
void HypernetCore<T>::generate(const T* theta, const HypernetEpisode<T>& ep,
                               bool queries_in_pass2, bool inference) {
  N_ = ep.n_way;
  S_ = ep.support_rows;
  Qn_ = ep.query_rows;
  labels_ = ep.support_labels;
  const Conv4Config& c = spec_.backbone;
  const std::size_t image = std::size_t(c.in_channels) * c.height * c.width;
  const bool transductive = spec_.bn == BnPolicy::transductive;

  auto encode = [&](const T* feat) {
    ctx_feat_ = feat;
    context_forward(feat);
    epre_.resize(std::size_t(N_) * E_);
    e_.resize(epre_.size());
    k_->linear_forward(N_, K_, E_, ubar_.data(), theta + off_.set_w, theta + off_.set_b,
                       epre_.data());
    k_->relu_forward(e_.size(), epre_.data(), e_.data());
    t_.assign(E_, T(0));
    for (int n = 0; n < N_; ++n)
      for (int j = 0; j < E_; ++j) t_[j] += e_[std::size_t(n) * E_ + j];
    for (T& v : t_) v /= T(N_);
  };

  // Pass 1 and FiLM: θ' = θ_b with γ' = s·γ, β' = s·β + o.
  if (spec_.film) {
    B1_ = transductive ? S_ + Qn_ : S_;
    stack(ep, transductive, image, x1_);
    int rows = 0;
    const BnMode mode = bn_mode(spec_.bn, S_, B1_, &rows);
    encode(inference ? net_.forward_inference(theta, x1_.data(), B1_, mode, rows, nullptr, tape1_)
                     : net_.forward(theta, x1_.data(), B1_, mode, rows, nullptr, tape1_));
    const int L0 = spec_.film_from, DK = (D_ - L0) * K_;
    z_.resize(std::size_t(2) * DK);
    k_->linear_forward(1, E_, 2 * DK, t_.data(), theta + off_.film_w, theta + off_.film_b,
                       z_.data());
    s_.resize(DK);
    sh_.resize(DK);
    theta2_.assign(theta, theta + P4_);
    for (int i = L0; i < D_; ++i) {
      const std::size_t g = bn_gamma_[i], b = bn_beta_[i];
      for (int k = 0; k < K_; ++k) {
        const std::size_t ik = std::size_t(i - L0) * K_ + k;
        s_[ik] = T(1) + z_[ik];
        sh_[ik] = z_[DK + ik];
        theta2_[g + k] = s_[ik] * theta[g + k];
        theta2_[b + k] = s_[ik] * theta[b + k] + sh_[ik];
      }
    }
    p2_ = theta2_.data();
  } else {
    s_.clear();
    sh_.clear();
    p2_ = theta;
  }

  // Pass 2: the (FiLM'd) backbone; without FiLM it is also where t comes from (its support
  // rows are exactly what pass 1 would have computed).
  B2_ = queries_in_pass2 ? S_ + Qn_ : S_;
  const T* f2 = nullptr;
  if (inference && spec_.film && B2_ == B1_) {
    // The same images as pass 1, and θ' differs from θ only in the γ, β of blocks film_from
    // on: everything up to block film_from's statistics is pass 1's.
    f2 = net_.forward_reusing(p2_, tape1_, spec_.film_from, tape2_);
  } else {
    stack(ep, queries_in_pass2, image, x2_);
    int rows = 0;
    const BnMode mode = bn_mode(spec_.bn, S_, B2_, &rows);
    f2 = inference ? net_.forward_inference(p2_, x2_.data(), B2_, mode, rows, nullptr, tape2_)
                   : net_.forward(p2_, x2_.data(), B2_, mode, rows, nullptr, tape2_);
  }
  if (!spec_.film && spec_.head) encode(f2);
  protos_.resize(std::size_t(N_) * F_);
  k_->class_means_forward(S_, F_, N_, f2, labels_, protos_.data());
  if (spec_.head) head_forward(theta);
}

// h_c = relu(U·[p_c; t] + u); (ΔW_c, Δb_c) = V·h_c; ω = 1 + M·t + m.
template <class T>
void HypernetCore<T>::head_forward(const T* theta) {
  const int In = F_ + E_;
  hin_.resize(std::size_t(N_) * In);
  for (int c = 0; c < N_; ++c) {
    std::copy_n(protos_.begin() + std::size_t(c) * F_, F_, hin_.begin() + std::size_t(c) * In);
    std::copy(t_.begin(), t_.end(), hin_.begin() + std::size_t(c) * In + F_);
  }
  hpre_.resize(std::size_t(N_) * E_);
  h_.resize(hpre_.size());
  k_->linear_forward(N_, In, E_, hin_.data(), theta + off_.hid_w, theta + off_.hid_b, hpre_.data());
  k_->relu_forward(h_.size(), hpre_.data(), h_.data());
  out_.resize(std::size_t(N_) * (F_ + 1));
  k_->linear_forward(N_, E_, F_ + 1, h_.data(), theta + off_.delta_w, nullptr, out_.data());
  omega_.resize(F_);
  k_->linear_forward(1, E_, F_, t_.data(), theta + off_.metric_w, theta + off_.metric_b,
                     omega_.data());
  for (T& w : omega_) w += T(1);
}

// W_c = 2ω²⊙p_c + ΔW_c, b_c = −Σ_f ω_f² p_cf² + Δb_c (ω = 1, Δ = 0 without the head
// generator: ProtoNet's head, computed as prototype_head does).
template <class T>
void HypernetCore<T>::generated_head(std::vector<T>& w, std::vector<T>& b) const {
  w.resize(std::size_t(N_) * F_);
  b.resize(N_);
  for (int c = 0; c < N_; ++c) {
    double sq = 0;
    for (int f = 0; f < F_; ++f) {
      const T p = protos_[std::size_t(c) * F_ + f];
      const T w2 = spec_.head ? omega_[f] * omega_[f] : T(1);
      T v = T(2) * (w2 * p);
      if (spec_.head) v += out_[std::size_t(c) * (F_ + 1) + f];
      w[std::size_t(c) * F_ + f] = v;
      sq += double(w2) * double(p) * double(p);
    }
    b[c] = static_cast<T>(-sq);
    if (spec_.head) b[c] += out_[std::size_t(c) * (F_ + 1) + F_];
  }
}

// SGD on the support loss (linear head, the support set's own batch statistics) over every
// weight of the generated network.
template <class T>
void HypernetCore<T>::refine(const HypernetEpisode<T>& ep, std::vector<T>& conv4, std::vector<T>& w,
                             std::vector<T>& b) {
  const T lr = T(spec_.refine_lr);
  rlogits_.resize(std::size_t(S_) * N_);
  rprobs_.resize(rlogits_.size());
  rdfeat_.resize(std::size_t(S_) * F_);
  rdw_.resize(w.size());
  rdb_.resize(b.size());
  rg_.resize(P4_);
  for (int step = 0; step < spec_.refine_steps; ++step) {
    const T* f = net_.forward(conv4.data(), ep.support, S_, BnMode::batch, 0, nullptr, tape_r_);
    k_->linear_forward(S_, F_, N_, f, w.data(), b.data(), rlogits_.data());
    k_->softmax_xent_forward(S_, N_, rlogits_.data(), ep.support_labels, rprobs_.data(), nullptr,
                             nullptr);
    k_->softmax_xent_backward(S_, N_, rprobs_.data(), ep.support_labels, T(1), rlogits_.data());
    k_->linear_backward(S_, F_, N_, f, w.data(), rlogits_.data(), rdfeat_.data(), rdw_.data(),
                        rdb_.data());
    net_.backward(conv4.data(), tape_r_, rdfeat_.data(), rg_.data());
    k_->axpy(P4_, -lr, rg_.data(), conv4.data());
    k_->axpy(w.size(), -lr, rdw_.data(), w.data());
    k_->axpy(b.size(), -lr, rdb_.data(), b.data());
  }
}

template <class T>
Refinement<T> HypernetCore<T>::refinement(const T* theta, const HypernetEpisode<T>& ep) {
  Refinement<T> d;
  if (spec_.refine_steps == 0) return d;
  generate(theta, ep, spec_.bn == BnPolicy::transductive);
  generated_head(fw_, fb_);
  rconv_.assign(p2_, p2_ + P4_);
  rw_ = fw_;
  rb_ = fb_;
  refine(ep, rconv_, rw_, rb_);
  d.conv4.resize(P4_);
  d.head_weight.resize(rw_.size());
  d.head_bias.resize(rb_.size());
  for (std::size_t i = 0; i < P4_; ++i) d.conv4[i] = rconv_[i] - p2_[i];
  for (std::size_t i = 0; i < rw_.size(); ++i) d.head_weight[i] = rw_[i] - fw_[i];
  for (std::size_t i = 0; i < rb_.size(); ++i) d.head_bias[i] = rb_[i] - fb_[i];
  return d;
}

// dt ← dt/N through the mean, the ReLU and W_e; dū → du (class means) → d feat (spatial mean),
// added to dfeat's support rows.
template <class T>
void HypernetCore<T>::context_backward(const T* theta, T* dfeat, T* grad) {
  de_.resize(std::size_t(N_) * E_);
  for (int n = 0; n < N_; ++n)
    for (int j = 0; j < E_; ++j) de_[std::size_t(n) * E_ + j] = dt_[j] / T(N_);
  k_->relu_backward(de_.size(), e_.data(), de_.data(), de_.data());
  dubar_.resize(std::size_t(N_) * K_);
  k_->linear_backward(N_, K_, E_, ubar_.data(), theta + off_.set_w, de_.data(), dubar_.data(),
                      grad + off_.set_w, grad + off_.set_b);
  du_.resize(std::size_t(S_) * K_);
  k_->class_means_backward(S_, K_, N_, labels_, dubar_.data(), du_.data());
  for (int r = 0; r < S_; ++r)
    for (int k = 0; k < K_; ++k) {
      const T g = du_[std::size_t(r) * K_ + k] / T(HW_);
      T* d = dfeat + std::size_t(r) * F_ + std::size_t(k) * HW_;
      for (int j = 0; j < HW_; ++j) d[j] += g;
    }
}

// From dout_ ((N, F+1): dΔW, dΔb) and domega_: the head generator's gradients; adds to dp_ and
// dt_.
template <class T>
void HypernetCore<T>::head_backward(const T* theta, T* grad) {
  const int In = F_ + E_;
  dh_.resize(std::size_t(N_) * E_);
  k_->linear_backward(N_, E_, F_ + 1, h_.data(), theta + off_.delta_w, dout_.data(), dh_.data(),
                      grad + off_.delta_w, nullptr);
  k_->relu_backward(dh_.size(), h_.data(), dh_.data(), dh_.data());
  dhin_.resize(std::size_t(N_) * In);
  k_->linear_backward(N_, In, E_, hin_.data(), theta + off_.hid_w, dh_.data(), dhin_.data(),
                      grad + off_.hid_w, grad + off_.hid_b);
  for (int c = 0; c < N_; ++c) {
    const T* d = dhin_.data() + std::size_t(c) * In;
    for (int f = 0; f < F_; ++f) dp_[std::size_t(c) * F_ + f] += d[f];
    for (int j = 0; j < E_; ++j) dt_[j] += d[F_ + j];
  }
  dtx_.resize(E_);
  k_->linear_backward(1, E_, F_, t_.data(), theta + off_.metric_w, domega_.data(), dtx_.data(),
                      grad + off_.metric_w, grad + off_.metric_b);
  for (int j = 0; j < E_; ++j) dt_[j] += dtx_[j];
}

// g2 = d loss / dθ' -> grad's Conv-4 part (conv weights as they are; γ = s·dγ', β = s·dβ'),
// and through s = 1 + Δs, o = Δo (ds = dγ'·γ + dβ'·β, do = dβ') into the FiLM layer and dt_.
template <class T>
void HypernetCore<T>::film_backward(const T* theta, const T* g2, T* grad) {
  std::copy(g2, g2 + P4_, grad);
  const int L0 = spec_.film_from, DK = (D_ - L0) * K_;
  dz_.resize(std::size_t(2) * DK);
  for (int i = L0; i < D_; ++i) {
    const std::size_t g = bn_gamma_[i], b = bn_beta_[i];
    for (int k = 0; k < K_; ++k) {
      const std::size_t ik = std::size_t(i - L0) * K_ + k;
      const T dgp = g2[g + k], dbp = g2[b + k];
      grad[g + k] = s_[ik] * dgp;
      grad[b + k] = s_[ik] * dbp;
      dz_[ik] = dgp * theta[g + k] + dbp * theta[b + k];
      dz_[DK + ik] = dbp;
    }
  }
  dtx_.resize(E_);
  k_->linear_backward(1, E_, 2 * DK, t_.data(), theta + off_.film_w, dz_.data(), dtx_.data(),
                      grad + off_.film_w, grad + off_.film_b);
  for (int j = 0; j < E_; ++j) dt_[j] += dtx_[j];
}

template <class T>
PrototypeResult HypernetCore<T>::loss(const T* theta, const HypernetEpisode<T>& ep, T* grad,
                                      const Refinement<T>* fixed) {
  const bool refined = fixed != nullptr || spec_.refine_steps > 0;
  const bool transductive = spec_.bn == BnPolicy::transductive;
  // Without refinement one pass 2 over support and queries serves prototypes and scores (the
  // ProtoNet computation); with it, pass 2 makes the prototypes (support rows; the queries too
  // when they share the statistics) and a final pass scores the queries with the refined net.
  generate(theta, ep, !refined || transductive);
  const int N = N_, S = S_, Qn = Qn_, F = F_;
  PrototypeResult r;
  r.total = Qn;
  dist_.resize(std::size_t(Qn) * N);
  probs_.resize(dist_.size());
  pred_.resize(Qn);
  const T* fq = nullptr;  // the scored query features
  const T* qa = nullptr;
  const T* pb = nullptr;
  if (!refined) {
    // Scores −Σ ω²(f − p)² + ΔW·f + Δb: ProtoNet's distances on ω-scaled features, exactly
    // ProtoNet's when ω = 1 and Δ = 0.
    fq = tape2_.features() + std::size_t(S) * F;
    qa = fq;
    pb = protos_.data();
    if (spec_.head) {
      qa_.resize(std::size_t(Qn) * F);
      pb_.resize(protos_.size());
      for (int q = 0; q < Qn; ++q)
        for (int f = 0; f < F; ++f)
          qa_[std::size_t(q) * F + f] = omega_[f] * fq[std::size_t(q) * F + f];
      for (int c = 0; c < N; ++c)
        for (int f = 0; f < F; ++f)
          pb_[std::size_t(c) * F + f] = omega_[f] * protos_[std::size_t(c) * F + f];
      qa = qa_.data();
      pb = pb_.data();
    }
    k_->sq_dist_forward(Qn, N, F, qa, pb, dist_.data());
    for (T& d : dist_) d = -d;
    if (spec_.head) {
      gw_.resize(std::size_t(N) * F);
      gb_.resize(N);
      for (int c = 0; c < N; ++c) {
        std::copy_n(out_.begin() + std::size_t(c) * (F + 1), F, gw_.begin() + std::size_t(c) * F);
        gb_[c] = out_[std::size_t(c) * (F + 1) + F];
      }
      dlogits_.resize(dist_.size());
      k_->linear_forward(Qn, F, N, fq, gw_.data(), gb_.data(), dlogits_.data());
      for (std::size_t i = 0; i < dist_.size(); ++i) dist_[i] += dlogits_[i];
    }
  } else {
    // The refined network: θ' + Δ and the generated head + Δ, scored as a linear head.
    generated_head(fw_, fb_);
    if (fixed) {
      if (fixed->conv4.size() != P4_ || fixed->head_weight.size() != fw_.size() ||
          fixed->head_bias.size() != fb_.size())
        throw shape_error("hypernet: refinement offsets do not fit this episode's network");
      fconv_.resize(P4_);
      for (std::size_t i = 0; i < P4_; ++i) fconv_[i] = p2_[i] + fixed->conv4[i];
      for (std::size_t i = 0; i < fw_.size(); ++i) fw_[i] += fixed->head_weight[i];
      for (std::size_t i = 0; i < fb_.size(); ++i) fb_[i] += fixed->head_bias[i];
    } else {
      fconv_.assign(p2_, p2_ + P4_);
      refine(ep, fconv_, fw_, fb_);
    }
    const Conv4Config& c = spec_.backbone;
    stack(ep, true, std::size_t(c.in_channels) * c.height * c.width, x1_);
    int rows = 0;
    const BnMode mode = bn_mode(spec_.bn, S, S + Qn, &rows);
    fq = net_.forward(fconv_.data(), x1_.data(), S + Qn, mode, rows, nullptr, tape_r_) +
         std::size_t(S) * F;
    k_->linear_forward(Qn, F, N, fq, fw_.data(), fb_.data(), dist_.data());
  }
  r.loss = double(k_->softmax_xent_forward(Qn, N, dist_.data(), ep.query_labels, probs_.data(),
                                           pred_.data(), &r.correct));
  if (!grad) return r;

  std::fill(grad, grad + layout_.size(), T(0));
  dlogits_.resize(dist_.size());
  k_->softmax_xent_backward(Qn, N, probs_.data(), ep.query_labels, T(1), dlogits_.data());
  dt_.assign(E_, T(0));
  dp_.resize(std::size_t(N) * F);
  dfeat2_.assign(std::size_t(B2_) * F, T(0));
  bool g2_written = false;
  if (spec_.head) {
    dout_.resize(std::size_t(N) * (F + 1));
    domega_.assign(F, T(0));
  }
  if (!refined) {
    T* dfq = dfeat2_.data() + std::size_t(S) * F;
    if (spec_.head) {
      gdw_.resize(std::size_t(N) * F);
      gdb_.resize(N);
      dq_.resize(std::size_t(Qn) * F);
      k_->linear_backward(Qn, F, N, fq, gw_.data(), dlogits_.data(), dq_.data(), gdw_.data(),
                          gdb_.data());
      for (int c = 0; c < N; ++c) {
        std::copy_n(gdw_.begin() + std::size_t(c) * F, F, dout_.begin() + std::size_t(c) * (F + 1));
        dout_[std::size_t(c) * (F + 1) + F] = gdb_[c];
      }
    }
    for (T& g : dlogits_) g = -g;  // d loss / d distance
    da_.resize(std::size_t(Qn) * F);
    k_->sq_dist_backward(Qn, N, F, qa, pb, dlogits_.data(), da_.data(), dp_.data());
    if (spec_.head) {
      for (int q = 0; q < Qn; ++q)
        for (int f = 0; f < F; ++f) {
          const std::size_t i = std::size_t(q) * F + f;
          dfq[i] = omega_[f] * da_[i] + dq_[i];
          domega_[f] += da_[i] * fq[i];
        }
      for (int c = 0; c < N; ++c)
        for (int f = 0; f < F; ++f) {
          const std::size_t i = std::size_t(c) * F + f;
          domega_[f] += dp_[i] * protos_[i];
          dp_[i] *= omega_[f];
        }
    } else {
      std::copy(da_.begin(), da_.end(), dfq);
    }
  } else {
    // The final pass: scores -> its features -> θ' (first-order: at θ' + Δ).
    dfeatf_.assign(std::size_t(S + Qn) * F, T(0));
    rdw_.resize(fw_.size());
    rdb_.resize(fb_.size());
    k_->linear_backward(Qn, F, N, fq, fw_.data(), dlogits_.data(),
                        dfeatf_.data() + std::size_t(S) * F, rdw_.data(), rdb_.data());
    g2_.resize(P4_);
    net_.backward(fconv_.data(), tape_r_, dfeatf_.data(), g2_.data());
    g2_written = true;
    // The generated head W = 2ω²⊙p + ΔW, b = −Σ ω² p² + Δb.
    for (int c = 0; c < N; ++c) {
      const T db = rdb_[c];
      for (int f = 0; f < F; ++f) {
        const std::size_t i = std::size_t(c) * F + f;
        const T w = spec_.head ? omega_[f] : T(1);
        const T p = protos_[i], dw = rdw_[i];
        dp_[i] = T(2) * w * w * dw - T(2) * w * w * p * db;
        if (spec_.head) {
          domega_[f] += T(4) * w * p * dw - T(2) * w * p * p * db;
          dout_[std::size_t(c) * (F + 1) + f] = dw;
        }
      }
      if (spec_.head) dout_[std::size_t(c) * (F + 1) + F] = db;
    }
  }
  if (spec_.head) head_backward(theta, grad);
  // Prototypes -> pass 2's support rows (class_means_backward writes them).
  k_->class_means_backward(S, F, N, ep.support_labels, dp_.data(), dfeat2_.data());
  if (!spec_.film && spec_.head) context_backward(theta, dfeat2_.data(), grad);
  g2_.resize(P4_);
  net_.backward(p2_, tape2_, dfeat2_.data(), g2_.data(), nullptr,
                g2_written ? GradMode::accumulate : GradMode::overwrite);
  if (spec_.film) {
    film_backward(theta, g2_.data(), grad);
    // t -> pass 1's support rows -> θ_b, added to pass 2's share.
    dfeat1_.assign(std::size_t(B1_) * F, T(0));
    context_backward(theta, dfeat1_.data(), grad);
    net_.backward(theta, tape1_, dfeat1_.data(), grad, nullptr, GradMode::accumulate);
  } else {
    std::copy(g2_.begin(), g2_.end(), grad);
  }
  return r;
}

template <class T>
void HypernetCore<T>::adapt(const T* theta, const HypernetEpisode<T>& ep, GeneratedNet<T>& out) {
  const bool transductive = spec_.bn == BnPolicy::transductive;
  generate(theta, ep, transductive, /*inference=*/true);
  generated_head(out.head_weight, out.head_bias);
  if (spec_.refine_steps == 0) {
    out.params = p2_;
    out.conv4.clear();
    out.stats = tape2_.stats();
    return;
  }
  out.conv4.assign(p2_, p2_ + P4_);
  out.params = out.conv4.data();
  refine(ep, out.conv4, out.head_weight, out.head_bias);
  // The refined network's own statistics, by the policy.
  const Conv4Config& c = spec_.backbone;
  stack(ep, transductive, std::size_t(c.in_channels) * c.height * c.width, x1_);
  const int B = transductive ? S_ + Qn_ : S_;
  int rows = 0;
  const BnMode mode = bn_mode(spec_.bn, S_, B, &rows);
  net_.forward_inference(out.conv4.data(), x1_.data(), B, mode, rows, nullptr, tape_r_);
  out.stats = tape_r_.stats();
}

template class HypernetCore<float>;
template class HypernetCore<double>;

// ---- the Method --------------------------------------------------------------------------------

HypernetEpisode<float> hypernet_episode(const EpisodeTensors& ep) {
  HypernetEpisode<float> v;
  v.n_way = ep.n_way;
  v.support_rows = ep.support_rows();
  v.query_rows = ep.query_rows();
  v.support = ep.support.data();
  v.query = ep.query.data();
  v.support_labels = ep.support_labels.data();
  v.query_labels = ep.query_labels.data();
  return v;
}

Hypernet::Hypernet(const ModelConfig& cfg)
    : Method(cfg, hypernet_layout(HypernetSpec::from(cfg))), core_(HypernetSpec::from(cfg)) {}

void Hypernet::init(Rng& rng) { core_.init(params_.values(), rng); }

EpisodeResult Hypernet::loss_and_grad(const EpisodeTensors& ep, float* grad) {
  check_episode(ep, config_.backbone);
  const PrototypeResult r = core_.loss(params_.values(), hypernet_episode(ep), grad);
  return {r.loss, r.correct, r.total};
}

AdaptedClassifier Hypernet::adapt(const EpisodeTensors& ep) {
  check_episode(ep, config_.backbone);
  const Conv4Config& cfg = config_.backbone;
  core_.adapt(params_.values(), hypernet_episode(ep), gen_);
  AdaptedClassifier a;
  a.n_way = ep.n_way;
  // FiLM lives in γ', β' and folds into the per-channel scale and shift; only refinement
  // changes the convolutions themselves, and only then are they the episode's own.
  const ParamLayout src = conv4_layout(cfg), conv = conv_layout(cfg);
  std::vector<float> convs(conv.size());
  for (const ParamView& v : conv.views())
    std::copy_n(gen_.params + src.at(v.name).offset, v.size, convs.begin() + v.offset);
  // Without refinement the convolutions are θ's own (FiLM only changes γ, β): no per-episode
  // copy of θ to compare against.
  if (core_.spec().refine_steps > 0) {
    const std::vector<float> base = base_convolutions();
    if (std::memcmp(convs.data(), base.data(), base.size() * sizeof(float)) != 0) a.convs = convs;
  }
  fold_statistics(cfg, gen_.params, convs.data(), gen_.stats, a);
  const ParamLayout pl = PrimaryNet<float>::layout(cfg, a.n_way);
  std::copy(gen_.head_weight.begin(), gen_.head_weight.end(),
            a.primary.begin() + pl.at("head.weight").offset);
  std::copy(gen_.head_bias.begin(), gen_.head_bias.end(),
            a.primary.begin() + pl.at("head.bias").offset);
  return a;
}

MethodInfo hypernet_method_info() {
  return {"hypernet",
          "a hypernetwork generates FiLM for every backbone layer and the classifier head from "
          "the support set, in one forward pass (man 7 fsh-hypernet)",
          {{"no_film", false, "ablation: generate no FiLM (the backbone is not modulated)"},
           {"film_from", int64_t(0),
            "the first backbone block FiLM modulates, 0-based (0 = every block); adapting "
            "recomputes only the blocks from there",
            0, 64, /*optional_in_files=*/true},
           {"no_head", false,
            "ablation: generate no head corrections (the prototype head on the features)"},
           {"refine_steps", int64_t(0),
            "SGD steps on the support set from the generated weights (0 = none)", 0, 1000},
           {"refine_lr", 0.01, "learning rate of the refinement steps", 0, 100},
           {"generator_width", int64_t(64),
            "hidden width of the set encoder and the head generator", 1, 4096}},
          [](const ModelConfig& c) { return std::make_unique<Hypernet>(c); }};
}

}  // namespace fsh
