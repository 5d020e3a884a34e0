// The "finetune" fixture method (see finetune_method.hpp).
#include "finetune_method.hpp"

#include "methods/protonet.hpp"
#include "util/error.hpp"

namespace fsh::test {

namespace {

class Finetune final : public Method {
 public:
  explicit Finetune(const ModelConfig& cfg)
      : Method(cfg, conv4_layout(cfg.backbone)),
        net_(cfg.backbone),
        k_(&default_backend().kernels<float>()) {}
  std::string name() const override { return "finetune"; }
  void init(Rng& rng) override { net_.init(params_.values(), rng); }

  using Method::loss_and_grad;
  EpisodeResult loss_and_grad(const EpisodeTensors& ep, float* grad) override {
    check_episode(ep, config_.backbone);
    const int N = ep.n_way, S = ep.support_rows(), Qn = ep.query_rows(), F = net_.feature_dim();
    stack_episode(ep, true, batch_);
    int rows = 0;
    const BnMode mode = bn_mode(config_.bn, S, S + Qn, &rows);
    const float* feat = net_.forward(params_.values(), batch_.data(), S + Qn, mode, rows);
    dfeat_.resize(std::size_t(S + Qn) * F);
    const PrototypeResult r = prototype_loss(*k_, N, S, Qn, F, feat, ep.support_labels.data(),
                                             ep.query_labels.data(), dfeat_.data(), work_);
    net_.backward(params_.values(), dfeat_.data(), grad);
    return {r.loss, r.correct, r.total};
  }

  AdaptedClassifier adapt(const EpisodeTensors& ep) override {
    check_episode(ep, config_.backbone);
    const Conv4Config& cfg = config_.backbone;
    const int N = ep.n_way, S = ep.support_rows(), F = net_.feature_dim();
    const int steps = static_cast<int>(setting_int("steps"));
    const float lr = static_cast<float>(setting_real("lr"));
    FinetuneState& st = state_;
    st.conv4.assign(params_.values(), params_.values() + params_.size());
    st.head_w.assign(std::size_t(N) * F, 0.0f);
    st.head_b.assign(N, 0.0f);
    // Start from the prototype head of the support features.
    const float* feat = net_.forward(st.conv4.data(), ep.support.data(), S, BnMode::batch, 0,
                                     nullptr, tape_);
    work_.protos.resize(std::size_t(N) * F);
    k_->class_means_forward(S, F, N, feat, ep.support_labels.data(), work_.protos.data());
    prototype_head(N, F, work_.protos.data(), st.head_w.data(), st.head_b.data());
    std::vector<float> logits(std::size_t(S) * N), probs(logits.size()), dlogits(logits.size());
    std::vector<float> dfeat(std::size_t(S) * F), gw(st.head_w.size()), gb(N),
        g(params_.size());
    for (int step = 0; step < steps; ++step) {
      feat = net_.forward(st.conv4.data(), ep.support.data(), S, BnMode::batch, 0, nullptr,
                          tape_);
      k_->linear_forward(S, F, N, feat, st.head_w.data(), st.head_b.data(), logits.data());
      k_->softmax_xent_forward(S, N, logits.data(), ep.support_labels.data(), probs.data(),
                               nullptr, nullptr);
      k_->softmax_xent_backward(S, N, probs.data(), ep.support_labels.data(), 1.0f,
                                dlogits.data());
      k_->linear_backward(S, F, N, feat, st.head_w.data(), dlogits.data(), dfeat.data(),
                          gw.data(), gb.data());
      net_.backward(st.conv4.data(), tape_, dfeat.data(), g.data());
      k_->axpy(g.size(), -lr, g.data(), st.conv4.data());
      k_->axpy(gw.size(), -lr, gw.data(), st.head_w.data());
      k_->axpy(gb.size(), -lr, gb.data(), st.head_b.data());
    }
    // The final support statistics, folded into the fine-tuned convolutions.
    net_.forward(st.conv4.data(), ep.support.data(), S, BnMode::batch, 0, nullptr, tape_);
    AdaptedClassifier a;
    a.n_way = N;
    const ParamLayout src = conv4_layout(cfg), conv = conv_layout(cfg);
    a.convs.resize(conv.size());
    for (const ParamView& v : conv.views())
      std::copy_n(st.conv4.begin() + src.at(v.name).offset, v.size, a.convs.begin() + v.offset);
    fold_statistics(cfg, st.conv4.data(), a.convs.data(), tape_.stats(), a);
    const ParamLayout pl = PrimaryNet<float>::layout(cfg, N);
    std::copy(st.head_w.begin(), st.head_w.end(), a.primary.begin() + pl.at("head.weight").offset);
    std::copy(st.head_b.begin(), st.head_b.end(), a.primary.begin() + pl.at("head.bias").offset);
    return a;
  }

  FinetuneState state_;

 private:
  Conv4<float> net_;
  Conv4Tape<float> tape_;
  Kernels<float>* k_;
  std::vector<float> batch_, dfeat_;
  PrototypeWork<float> work_;
};

}  // namespace

void register_finetune_method() {
  for (const std::string& n : method_names())
    if (n == "finetune") return;
  register_method({"finetune",
                   "test fixture: prototype head, then SGD on the support set over every weight",
                   {{"steps", int64_t(3), "SGD steps on the support set", 0, 100},
                    {"lr", 0.05, "SGD learning rate", 0, 10}},
                   [](const ModelConfig& c) { return std::make_unique<Finetune>(c); }});
}

const FinetuneState& last_finetune_state(const Method& m) {
  const auto* f = dynamic_cast<const Finetune*>(&m);
  if (!f) throw usage_error("not a finetune method");
  return f->state_;
}

}  // namespace fsh::test
