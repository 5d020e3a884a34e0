// Prototypical Networks: meta-loss with gradients, and adaptation to a linear head.
#include "methods/protonet.hpp"

#include "util/error.hpp"

namespace fsh {

void check_episode(const EpisodeTensors& ep, const Conv4Config& cfg) {
  if (ep.channels != cfg.in_channels || ep.height != cfg.height || ep.width != cfg.width)
    throw shape_error("episode images are " + std::to_string(ep.channels) + "×" +
                      std::to_string(ep.height) + "×" + std::to_string(ep.width) +
                      " (C×H×W) but the model expects " + std::to_string(cfg.in_channels) + "×" +
                      std::to_string(cfg.height) + "×" + std::to_string(cfg.width));
  if (ep.n_way < 2 || ep.k_shot < 1)
    throw usage_error("an episode needs at least 2 ways and 1 shot");
}

void stack_episode(const EpisodeTensors& ep, bool with_queries, std::vector<float>& batch) {
  batch.resize(ep.support.size() + (with_queries ? ep.query.size() : 0));
  std::copy(ep.support.begin(), ep.support.end(), batch.begin());
  if (with_queries) std::copy(ep.query.begin(), ep.query.end(), batch.begin() + ep.support.size());
}

void fold_statistics(const Conv4Config& cfg, const float* conv4_params, const float* convs,
                     const std::vector<BnStats<float>>& stats, AdaptedClassifier& a) {
  const ParamLayout src = conv4_layout(cfg);
  const int K = cfg.hidden;
  a.primary.assign(PrimaryNet<float>::layout(cfg, a.n_way).size(), 0.0f);
  a.fold_scale.assign(std::size_t(cfg.depth) * K, 0.0f);
  a.fold_shift.assign(a.fold_scale.size(), 0.0f);
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string b = "bn" + std::to_string(i);
    fold_coefficients(K, conv4_params + src.at(b + ".gamma").offset,
                      conv4_params + src.at(b + ".beta").offset, stats[i].mean.data(),
                      stats[i].var.data(), cfg.bn_eps, a.fold_scale.data() + std::size_t(i) * K,
                      a.fold_shift.data() + std::size_t(i) * K);
  }
  fold_convs(cfg, convs, a.fold_scale.data(), a.fold_shift.data(), a.primary.data());
}

ProtoNet::ProtoNet(const ModelConfig& cfg)
    : Method(cfg, conv4_layout(cfg.backbone)),
      net_(cfg.backbone),
      k_(&default_backend().kernels<float>()) {}

void ProtoNet::init(Rng& rng) { net_.init(params_.values(), rng); }

const float* ProtoNet::embed(const EpisodeTensors& ep, bool with_queries, bool inference) {
  check_episode(ep, config_.backbone);
  const int S = ep.support_rows();
  const int B = S + (with_queries ? ep.query_rows() : 0);
  stack_episode(ep, with_queries, batch_);
  int rows = 0;
  const BnMode mode = bn_mode(config_.bn, S, B, &rows);
  if (inference)
    return net_.forward_inference(params_.values(), batch_.data(), B, mode, rows);
  return net_.forward(params_.values(), batch_.data(), B, mode, rows);
}

EpisodeResult ProtoNet::loss_and_grad(const EpisodeTensors& ep, float* grad) {
  const int N = ep.n_way, S = ep.support_rows(), Qn = ep.query_rows();
  const int F = net_.feature_dim();
  const float* feat = embed(ep, true);  // (S + Qn, F)
  dfeat_.resize(std::size_t(S + Qn) * F);
  const PrototypeResult r = prototype_loss(*k_, N, S, Qn, F, feat, ep.support_labels.data(),
                                           ep.query_labels.data(), dfeat_.data(), work_);
  net_.backward(params_.values(), dfeat_.data(), grad);
  return {r.loss, r.correct, r.total};
}

AdaptedClassifier ProtoNet::adapt(const EpisodeTensors& ep) {
  const int N = ep.n_way, S = ep.support_rows(), F = net_.feature_dim();
  const bool transductive = config_.bn == BnPolicy::transductive;
  const float* feat = embed(ep, transductive, /*inference=*/true);
  work_.protos.resize(std::size_t(N) * F);
  k_->class_means_forward(S, F, N, feat, ep.support_labels.data(), work_.protos.data());

  AdaptedClassifier a;
  a.n_way = N;
  const std::vector<float> convs = base_convolutions();
  fold_statistics(config_.backbone, params_.values(), convs.data(), net_.stats(), a);
  const ParamLayout layout = PrimaryNet<float>::layout(config_.backbone, N);
  prototype_head(N, F, work_.protos.data(), a.primary.data() + layout.at("head.weight").offset,
                 a.primary.data() + layout.at("head.bias").offset);
  return a;
}

}  // namespace fsh
