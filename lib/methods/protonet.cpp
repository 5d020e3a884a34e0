// Prototypical Networks: meta-loss with gradients, and adaptation to a linear head.
#include "methods/protonet.hpp"

#include <cmath>

#include "methods/adapted.hpp"
#include "util/error.hpp"

namespace fsh {

ProtoNet::ProtoNet(const ModelConfig& cfg)
    : Method(cfg, conv4_layout(cfg.backbone)),
      net_(cfg.backbone),
      k_(&default_backend().kernels<float>()) {}

void ProtoNet::init(Rng& rng) { net_.init(params_.values(), rng); }

static void check_episode(const EpisodeTensors& ep, const Conv4Config& cfg) {
  if (ep.channels != cfg.in_channels || ep.height != cfg.height || ep.width != cfg.width)
    throw shape_error("episode images are " + std::to_string(ep.channels) + "×" +
                      std::to_string(ep.height) + "×" + std::to_string(ep.width) +
                      " (C×H×W) but the model expects " + std::to_string(cfg.in_channels) + "×" +
                      std::to_string(cfg.height) + "×" + std::to_string(cfg.width));
  if (ep.n_way < 2 || ep.k_shot < 1)
    throw usage_error("an episode needs at least 2 ways and 1 shot");
}

const float* ProtoNet::embed(const EpisodeTensors& ep, bool with_queries) {
  check_episode(ep, config_.backbone);
  const int S = ep.support_rows();
  const int B = S + (with_queries ? ep.query_rows() : 0);
  // x: (B, C, H, W), support rows first.
  batch_.resize(std::size_t(B) * ep.image_size());
  std::copy(ep.support.begin(), ep.support.end(), batch_.begin());
  if (with_queries) std::copy(ep.query.begin(), ep.query.end(), batch_.begin() + ep.support.size());
  const bool from_support = config_.bn == BnPolicy::support && B > S;
  return net_.forward(params_.values(), batch_.data(), B,
                      from_support ? BnMode::support : BnMode::batch, from_support ? S : 0);
}

EpisodeResult ProtoNet::loss_and_grad(const EpisodeTensors& ep) {
  const int N = ep.n_way, S = ep.support_rows(), Qn = ep.query_rows();
  const int F = net_.feature_dim();
  const float* feat = embed(ep, true);  // (S + Qn, F)
  const float* qfeat = feat + std::size_t(S) * F;
  protos_.resize(std::size_t(N) * F);
  dist_.resize(std::size_t(Qn) * N);
  probs_.resize(dist_.size());
  dlogits_.resize(dist_.size());
  pred_.resize(std::size_t(Qn));
  // protos: (N, F); dist: (Qn, N); logits = −dist.
  k_->class_means_forward(S, F, N, feat, ep.support_labels.data(), protos_.data());
  k_->sq_dist_forward(Qn, N, F, qfeat, protos_.data(), dist_.data());
  for (float& d : dist_) d = -d;
  int correct = 0;
  const float loss = k_->softmax_xent_forward(Qn, N, dist_.data(), ep.query_labels.data(),
                                              probs_.data(), pred_.data(), &correct);
  k_->softmax_xent_backward(Qn, N, probs_.data(), ep.query_labels.data(), 1.0f, dlogits_.data());
  for (float& g : dlogits_) g = -g;  // d loss / d dist
  // dfeat: (S + Qn, F) = [d support; d query].
  dfeat_.resize(std::size_t(S + Qn) * F);
  dprotos_.resize(protos_.size());
  float* dq = dfeat_.data() + std::size_t(S) * F;
  k_->sq_dist_backward(Qn, N, F, qfeat, protos_.data(), dlogits_.data(), dq, dprotos_.data());
  k_->class_means_backward(S, F, N, ep.support_labels.data(), dprotos_.data(), dfeat_.data());
  net_.backward(params_.values(), dfeat_.data(), params_.grads());
  return {loss, correct, Qn};
}

AdaptedClassifier ProtoNet::adapt(const EpisodeTensors& ep) {
  const int N = ep.n_way, S = ep.support_rows(), F = net_.feature_dim();
  const bool transductive = config_.bn == BnPolicy::transductive;
  const float* feat = embed(ep, transductive);
  protos_.resize(std::size_t(N) * F);
  k_->class_means_forward(S, F, N, feat, ep.support_labels.data(), protos_.data());

  AdaptedClassifier a;
  a.n_way = N;
  fold_statistics(config_.backbone, params_.values(), net_.stats(), a);
  const ParamLayout layout = PrimaryNet<float>::layout(config_.backbone, N);
  // Head: W_c = 2·p_c, b_c = −‖p_c‖².
  float* w = a.primary.data() + layout.at("head.weight").offset;
  float* b = a.primary.data() + layout.at("head.bias").offset;
  for (int c = 0; c < N; ++c) {
    double sq = 0;
    for (int f = 0; f < F; ++f) {
      const float p = protos_[std::size_t(c) * F + f];
      w[std::size_t(c) * F + f] = 2.0f * p;
      sq += double(p) * p;
    }
    b[c] = static_cast<float>(-sq);
  }
  return a;
}

}  // namespace fsh
