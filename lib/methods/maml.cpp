// MAML: inner loop, exact second-order meta-gradient, adaptation (see maml.hpp).
#include "methods/maml.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "methods/protonet.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {

template <class V>
void grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

ParamLayout maml_layout(const Conv4Config& cfg, int ways) {
  if (ways < 2) throw usage_error("maml: the head needs >= 2 ways, got " + std::to_string(ways));
  ParamLayout l = conv4_layout(cfg);  // the Conv-4 parameters come first: Conv4 reads a prefix
  l.add("head.weight", {ways, cfg.feature_dim()});
  l.add("head.bias", {ways});
  return l;
}

template <class T>
MamlLearner<T>::MamlLearner(const Conv4Config& cfg, int ways, Backend& backend)
    : cfg_(cfg),
      ways_(ways),
      F_(cfg.feature_dim()),
      k_(&backend.kernels<T>()),
      net_(cfg, backend),
      layout_(maml_layout(cfg, ways)),
      hw_(layout_.at("head.weight").offset),
      hb_(layout_.at("head.bias").offset),
      P_(layout_.size()) {}

template <class T>
T MamlLearner<T>::head_loss(const T* th, const T* feat, int B, int r0, int R, const int32_t* labels,
                            T* probs, T* dfeat, T* grad, int* correct) {
  const int N = ways_, F = F_;
  grow(logits_, std::size_t(R) * N);
  grow(pred_, std::size_t(R));
  const T* f = feat + std::size_t(r0) * F;
  k_->linear_forward(R, F, N, f, th + hw_, th + hb_, logits_.data());
  const T loss =
      k_->softmax_xent_forward(R, N, logits_.data(), labels, probs, pred_.data(), correct);
  if (dfeat) {
    grow(dlogits_, std::size_t(R) * N);
    k_->softmax_xent_backward(R, N, probs, labels, T(1), dlogits_.data());
    std::fill_n(dfeat, std::size_t(B) * F, T(0));
    k_->linear_backward(R, F, N, f, th + hw_, dlogits_.data(), dfeat + std::size_t(r0) * F,
                        grad + hw_, grad + hb_);
  }
  return loss;
}

namespace {

template <class T>
void check_task(const MamlTask<T>& t, int ways) {
  if (t.n_way != ways)
    throw usage_error("maml: this model's head has " + std::to_string(ways) +
                      " classes; the episode is " + std::to_string(t.n_way) + "-way");
  if (t.support_rows < 1) throw usage_error("maml: the episode has no support images");
}

// The images of the task, support rows first, into batch.
template <class T>
void stack(const MamlTask<T>& t, std::size_t image, std::vector<T>& batch) {
  const std::size_t ns = std::size_t(t.support_rows) * image;
  const std::size_t nq = std::size_t(t.query_rows) * image;
  grow(batch, ns + nq);
  std::copy_n(t.support, ns, batch.begin());
  if (nq) std::copy_n(t.query, nq, batch.begin() + ns);
}

}  // namespace

template <class T>
void MamlLearner<T>::inner_loop(const T* theta, const MamlTask<T>& task, const MamlSteps& how,
                                bool keep_tapes) {
  if (how.steps < 0) throw usage_error("maml: inner steps must be >= 0");
  const int n = how.steps, S = task.support_rows;
  // Support policy: the support images alone (their batch statistics); transductive: support
  // and queries together.
  const int rows = how.bn == BnPolicy::transductive ? S + task.query_rows : S;
  grow(thetas_, std::size_t(n + 1) * P_);
  if (tapes_.size() < std::size_t(keep_tapes ? n + 1 : 2)) tapes_.resize(keep_tapes ? n + 1 : 2);
  if (probs_.size() < std::size_t(n)) probs_.resize(n);
  grow(g_, P_);
  grow(dfeat_, std::size_t(rows) * F_);
  std::copy_n(theta, P_, thetas_.begin());
  for (int j = 0; j < n; ++j) {
    const T* th = thetas_.data() + std::size_t(j) * P_;
    Conv4Tape<T>& tape = tapes_[keep_tapes ? j : 0];
    grow(probs_[j], std::size_t(S) * ways_);
    const T* feat = net_.forward(th, batch_.data(), rows, BnMode::batch, 0, nullptr, tape);
    head_loss(th, feat, rows, 0, S, task.support_labels, probs_[j].data(), dfeat_.data(), g_.data(),
              nullptr);
    net_.backward(th, tape, dfeat_.data(), g_.data());
    T* next = thetas_.data() + std::size_t(j + 1) * P_;
    std::copy_n(th, P_, next);
    k_->axpy(P_, T(-how.lr), g_.data(), next);
  }
}

template <class T>
void MamlLearner<T>::hessian_vector(int j, const MamlTask<T>& task, const T* v, T* hv) {
  const int N = ways_, F = F_, S = task.support_rows;
  const T* th = thetas_.data() + std::size_t(j) * P_;
  const Conv4Tape<T>& tape = tapes_[j];
  const int rows = tape.batch();
  const T* feat = tape.features();
  const T* W = th + hw_;
  // ḟ, then the head's logits tangent l̇ = ḟ·Wᵀ + f·Ẇᵀ + ċ on the support rows.
  const T* fdot = net_.forward_tangent(th, v, tape, tangent_);
  grow(ldot_, std::size_t(S) * N);
  grow(dldot_, std::size_t(S) * N);
  grow(dlogits_, std::size_t(S) * N);
  k_->linear_forward_tangent(S, F, N, feat, fdot, W, v + hw_, v + hb_, ldot_.data());
  // The loss gradient dl and its tangent.
  k_->softmax_xent_backward(S, N, probs_[j].data(), task.support_labels, T(1), dlogits_.data());
  k_->softmax_xent_backward_tangent(S, N, probs_[j].data(), ldot_.data(), T(1), dldot_.data());
  // ∂L/∂f = dl·W and its tangent ḋl·W + dl·Ẇ (rows past the support: 0), the head's part of
  // H·v, then the backbone's.
  grow(dfeat_, std::size_t(rows) * F);
  grow(dfeat_dot_, std::size_t(rows) * F);
  std::fill_n(dfeat_.begin(), std::size_t(rows) * F, T(0));
  std::fill_n(dfeat_dot_.begin(), std::size_t(rows) * F, T(0));
  k_->gemm(false, false, S, F, N, T(1), dlogits_.data(), N, W, F, T(0), dfeat_.data(), F);
  k_->linear_backward_tangent(S, F, N, feat, fdot, W, v + hw_, dlogits_.data(), dldot_.data(),
                              dfeat_dot_.data(), hv + hw_, hv + hb_);
  net_.backward_tangent(th, v, tape, tangent_, dfeat_.data(), dfeat_dot_.data(), hv);
}

template <class T>
EpisodeResult MamlLearner<T>::meta_gradient(const T* theta, const MamlTask<T>& task,
                                            const MamlSteps& how, T* grad) {
  check_task(task, ways_);
  if (task.query_rows < 1) throw usage_error("maml: the episode has no query images");
  const int S = task.support_rows, Q = task.query_rows, n = how.steps;
  stack(task, std::size_t(cfg_.in_channels) * cfg_.height * cfg_.width, batch_);
  inner_loop(theta, task, how, !how.first_order);
  // The query loss at θ_n and its gradient v = ∇L_Q(θ_n) (through the statistics).
  const T* thn = thetas_.data() + std::size_t(n) * P_;
  int srows = 0;
  const BnMode mode = bn_mode(how.bn, S, S + Q, &srows);
  Conv4Tape<T>& tq = tapes_[how.first_order ? 1 : n];
  const T* feat = net_.forward(thn, batch_.data(), S + Q, mode, srows, nullptr, tq);
  grow(qprobs_, std::size_t(Q) * ways_);
  grow(dfeat_, std::size_t(S + Q) * F_);
  grow(v_, P_);
  EpisodeResult r;
  r.loss = head_loss(thn, feat, S + Q, S, Q, task.query_labels, qprobs_.data(), dfeat_.data(),
                     v_.data(), &r.correct);
  r.total = Q;
  net_.backward(thn, tq, dfeat_.data(), v_.data());
  // Back through the inner steps: v ← (I − α·H_j)·v.
  if (!how.first_order) {
    grow(hv_, P_);
    for (int j = n - 1; j >= 0; --j) {
      hessian_vector(j, task, v_.data(), hv_.data());
      k_->axpy(P_, T(-how.lr), hv_.data(), v_.data());
    }
  }
  std::copy_n(v_.begin(), P_, grad);
  return r;
}

template <class T>
double MamlLearner<T>::meta_loss(const T* theta, const MamlTask<T>& task, const MamlSteps& how) {
  check_task(task, ways_);
  const int S = task.support_rows, Q = task.query_rows;
  stack(task, std::size_t(cfg_.in_channels) * cfg_.height * cfg_.width, batch_);
  inner_loop(theta, task, how, false);
  const T* thn = thetas_.data() + std::size_t(how.steps) * P_;
  int srows = 0;
  const BnMode mode = bn_mode(how.bn, S, S + Q, &srows);
  const T* feat = net_.forward(thn, batch_.data(), S + Q, mode, srows, nullptr, tapes_[1]);
  grow(qprobs_, std::size_t(Q) * ways_);
  return double(head_loss(thn, feat, S + Q, S, Q, task.query_labels, qprobs_.data(), nullptr,
                          nullptr, nullptr));
}

template <class T>
void MamlLearner<T>::adapt(const T* theta, const MamlTask<T>& task, const MamlSteps& how,
                           T* adapted, std::vector<BnStats<T>>& stats) {
  check_task(task, ways_);
  const int S = task.support_rows;
  stack(task, std::size_t(cfg_.in_channels) * cfg_.height * cfg_.width, batch_);
  inner_loop(theta, task, how, false);
  const T* thn = thetas_.data() + std::size_t(how.steps) * P_;
  std::copy_n(thn, P_, adapted);
  // The statistics the classifier folds: those the inner loop's forward would use at θ_n.
  const int rows = how.bn == BnPolicy::transductive ? S + task.query_rows : S;
  net_.forward_inference(thn, batch_.data(), rows, BnMode::batch, 0, nullptr, tapes_[1]);
  stats = tapes_[1].stats();
}

template class MamlLearner<float>;
template class MamlLearner<double>;

// ---- the method -----------------------------------------------------------------------------

namespace {

int ways_of(const ModelConfig& c) {
  auto it = c.settings.find("ways");
  if (it == c.settings.end() || !std::holds_alternative<int64_t>(it->second))
    throw usage_error("maml: the model has no integer setting 'ways'");
  return static_cast<int>(std::get<int64_t>(it->second));
}

class Maml final : public Method {
 public:
  explicit Maml(const ModelConfig& cfg)
      : Method(cfg, maml_layout(cfg.backbone, ways_of(cfg))),
        learner_(cfg.backbone, ways_of(cfg)) {}
  std::string name() const override { return "maml"; }

  // Conv-4: PyTorch's defaults (Conv4::init); the head: nn.Linear's default,
  // U(−1/√F, 1/√F) for weight and bias.
  void init(Rng& rng) override {
    Conv4<float>(config_.backbone).init(params_.values(), rng);
    const double bound = 1.0 / std::sqrt(double(config_.backbone.feature_dim()));
    for (const char* name : {"head.weight", "head.bias"}) {
      const ParamView& v = params_.layout().at(name);
      for (std::size_t j = 0; j < v.size; ++j)
        params_.values()[v.offset + j] = float(-bound + 2 * bound * rng.uniform());
    }
  }

  using Method::loss_and_grad;
  EpisodeResult loss_and_grad(const EpisodeTensors& ep, float* grad) override {
    check_episode(ep, config_.backbone);
    MamlSteps how = steps(setting_int("inner_steps"));
    how.first_order = setting_bool("first_order");
    return learner_.meta_gradient(params_.values(), task(ep), how, grad);
  }

  AdaptedClassifier adapt(const EpisodeTensors& ep) override {
    check_episode(ep, config_.backbone);
    const Conv4Config& cfg = config_.backbone;
    adapted_.resize(params_.size());
    learner_.adapt(params_.values(), task(ep), steps(setting_int("adapt_steps")), adapted_.data(),
                   stats_);
    AdaptedClassifier a;
    a.n_way = ep.n_way;
    const ParamLayout src = params_.layout(), conv = conv_layout(cfg);
    a.convs.resize(conv.size());
    for (const ParamView& v : conv.views())
      std::copy_n(adapted_.begin() + src.at(v.name).offset, v.size, a.convs.begin() + v.offset);
    fold_statistics(cfg, adapted_.data(), a.convs.data(), stats_, a);
    const ParamLayout pl = PrimaryNet<float>::layout(cfg, ep.n_way);
    for (const char* name : {"head.weight", "head.bias"})
      std::copy_n(adapted_.begin() + src.at(name).offset, src.at(name).size,
                  a.primary.begin() + pl.at(name).offset);
    return a;
  }

 private:
  MamlSteps steps(int64_t n) const {
    MamlSteps how;
    how.steps = static_cast<int>(n);
    how.lr = setting_real("inner_lr");
    how.bn = config_.bn;
    return how;
  }
  static MamlTask<float> task(const EpisodeTensors& ep) {
    MamlTask<float> t;
    t.n_way = ep.n_way;
    t.support_rows = ep.support_rows();
    t.query_rows = ep.query_rows();
    t.support = ep.support.data();
    t.support_labels = ep.support_labels.data();
    t.query = ep.query.data();
    t.query_labels = ep.query_labels.data();
    return t;
  }

  MamlLearner<float> learner_;
  std::vector<float> adapted_;
  std::vector<BnStats<float>> stats_;
};

}  // namespace

MethodInfo maml_method_info() {
  MethodInfo info;
  info.name = "maml";
  info.summary =
      "MAML: SGD on the support set from a meta-learned initialisation, exact second-order "
      "meta-gradient (--first-order: FOMAML)";
  info.settings = {
      {"inner_lr", 0.4, "inner-loop SGD learning rate", 0.0, 1e3},
      {"inner_steps", int64_t(1), "inner SGD steps in meta-training", 0, 100},
      {"adapt_steps", int64_t(3), "inner SGD steps when adapting (fsh-adapt, validation)", 0,
       10000},
      {"first_order", false, "drop the second-order terms of the meta-gradient (FOMAML)"},
      {"ways", int64_t(5), "classes of the head: the training episodes' ways (set from -N)", 2,
       4096},
  };
  info.make = [](const ModelConfig& c) { return std::make_unique<Maml>(c); };
  info.protocol.meta_batch = 32;
  info.protocol.n_way = 5;
  info.protocol.lr_step = 0;
  return info;
}

}  // namespace fsh
