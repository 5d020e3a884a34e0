// Prototypical Networks (Snell et al. 2017) on the Conv-4 backbone.
// Embed support and query images; prototype p_c = mean of class c's support embeddings;
// score of query x for class c = −‖f(x) − p_c‖²; loss = softmax cross-entropy over the queries.
// Adaptation emits the equivalent linear head: ‖f − p‖² = ‖f‖² − 2·p·f + ‖p‖², and ‖f‖² is the
// same for every class, so W_c = 2·p_c, b_c = −‖p_c‖² ranks (and softmaxes) exactly alike.
#pragma once
#include <vector>

#include "methods/method.hpp"

namespace fsh {

class ProtoNet final : public Method {
 public:
  explicit ProtoNet(const ModelConfig& cfg);
  std::string name() const override { return "protonet"; }
  void init(Rng& rng) override;
  EpisodeResult loss_and_grad(const EpisodeTensors& ep) override;
  AdaptedClassifier adapt(const EpisodeTensors& ep) override;

  // Embeds ep's support (and, when with_queries, query) images the way training does; returns
  // features (B, F) with support rows first. The backbone's statistics are then stats().
  const float* embed(const EpisodeTensors& ep, bool with_queries);
  const Conv4<float>& backbone() const { return net_; }

 private:
  Conv4<float> net_;
  Kernels<float>* k_;
  std::vector<float> batch_, protos_, dist_, probs_, dlogits_, dq_, dprotos_, dfeat_;
  std::vector<int32_t> pred_;
};

}  // namespace fsh
