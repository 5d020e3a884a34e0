// Prototypical Networks (Snell et al. 2017) on the Conv-4 backbone: embed support and query
// images; the loss and the adapted head are those of methods/prototypes.hpp.
#pragma once
#include <vector>

#include "methods/method.hpp"
#include "methods/prototypes.hpp"

namespace fsh {

class ProtoNet final : public Method {
 public:
  explicit ProtoNet(const ModelConfig& cfg);
  std::string name() const override { return "protonet"; }
  void init(Rng& rng) override;
  using Method::loss_and_grad;
  EpisodeResult loss_and_grad(const EpisodeTensors& ep, float* grad) override;
  AdaptedClassifier adapt(const EpisodeTensors& ep) override;

  // Embeds ep's support (and, when with_queries, query) images the way training does; returns
  // features (B, F) with support rows first. The statistics used are then backbone().stats().
  // inference: no backward will follow (Conv4::forward_inference: faster, the same features).
  const float* embed(const EpisodeTensors& ep, bool with_queries, bool inference = false);
  const Conv4<float>& backbone() const { return net_; }

 private:
  Conv4<float> net_;
  Kernels<float>* k_;
  std::vector<float> batch_, dfeat_;
  PrototypeWork<float> work_;
};

// Checks that ep's images have the backbone's shape and ep has >= 2 ways and >= 1 shot:
// shape_error / usage_error otherwise.
void check_episode(const EpisodeTensors& ep, const Conv4Config& cfg);

// Support then query images of ep, (S [+ Qn], C, H, W), into batch.
void stack_episode(const EpisodeTensors& ep, bool with_queries, std::vector<float>& batch);

// Fills a's fold coefficients from Conv-4 parameters (their bn<i>.gamma/beta) and one
// episode's statistics, and a.primary's conv blocks from `convs` (conv_layout) folded with
// them; a.primary is sized to the N-way primary network first (the head is left zero).
void fold_statistics(const Conv4Config& cfg, const float* conv4_params, const float* convs,
                     const std::vector<BnStats<float>>& stats, AdaptedClassifier& a);

}  // namespace fsh
