// The one interface every few-shot method implements (protonet today; maml and hypernet next).
// A method owns its meta-parameters θ (one flat buffer, nn/params.hpp) and answers two
// questions: the meta-loss of an episode with ∇θ (for fsh-train), and the adapted classifier
// of a support set (for fsh-adapt / fsh-eval). Every method adapts to the SAME thing: a primary
// network (nn/conv4.hpp PrimaryNet: Conv-4 with normalisation folded in, plus a linear head),
// so fsh-eval classifies any method's output with nothing but the adapted file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/episodes.hpp"
#include "nn/conv4.hpp"
#include "nn/params.hpp"
#include "util/rng.hpp"

namespace fsh {

// Where normalisation statistics come from, in training and adaptation alike.
enum class BnPolicy {
  support,      // from the support set only: every query is classified on its own (default)
  transductive  // from the whole batch of support and query images, as the MAML paper did
};
std::string to_string(BnPolicy p);
BnPolicy parse_bn_policy(const std::string& s);  // usage_error on anything else

// What is needed to rebuild a method's network (stored in every fsh-model file).
struct ModelConfig {
  std::string method = "protonet";
  Conv4Config backbone;
  BnPolicy bn = BnPolicy::support;
};

// One episode as float tensors, images scaled to [0, 1].
struct EpisodeTensors {
  int n_way = 0, k_shot = 0, n_query = 0;
  int channels = 0, height = 0, width = 0;
  std::vector<float> support;           // (N*K, C, H, W), class-major
  std::vector<int32_t> support_labels;  // (N*K)
  std::vector<float> query;             // (N*Q, C, H, W), class-major
  std::vector<int32_t> query_labels;    // (N*Q)
  int support_rows() const { return n_way * k_shot; }
  int query_rows() const { return static_cast<int>(query_labels.size()); }
  std::size_t image_size() const { return std::size_t(channels) * height * width; }
};

// uint8 [B, H, W, C] -> float (B, C, H, W) / 255.
EpisodeTensors to_tensors(const EpisodeImages& e);

struct EpisodeResult {
  double loss = 0;
  int correct = 0, total = 0;  // query predictions
};

// One episode's adapted classifier: primary-network parameters (PrimaryNet::layout(cfg, N)).
// Normalisation is always folded in: with the support policy the statistics are the support
// set's; with the transductive policy they are those of the episode's support and query images
// together (so the classifier is then specific to that query set, which is what transductive
// means), and classifying each query alone reproduces batch normalisation exactly.
struct AdaptedClassifier {
  int n_way = 0;
  std::vector<float> primary;  // PrimaryNet layout: conv<i>.weight/bias (folded), head.weight/bias
  // Per conv block: the per-channel scale and shift that folded the support statistics into
  // the conv (w' = w·scale, b' = b·scale + shift); lets the adapted file store the base
  // convolution once and only (scale, shift) per episode.
  std::vector<std::vector<float>> fold_scale, fold_shift;  // [depth][K]
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;
  const ModelConfig& config() const { return config_; }
  ParamSet<float>& params() { return params_; }
  const ParamSet<float>& params() const { return params_; }

  // Draws θ from rng (the method's seeded initialisation).
  virtual void init(Rng& rng) = 0;
  // Meta-loss of one episode; ∇θ OVERWRITES params().grads().
  virtual EpisodeResult loss_and_grad(const EpisodeTensors& ep) = 0;
  // The classifier adapted to ep's support set (ep's queries are not looked at unless the
  // policy is transductive).
  virtual AdaptedClassifier adapt(const EpisodeTensors& ep) = 0;

 protected:
  explicit Method(ModelConfig cfg, ParamLayout layout)
      : config_(std::move(cfg)), params_(std::move(layout)) {}
  ModelConfig config_;
  ParamSet<float> params_;
};

// The method named by cfg.method; usage_error listing the known ones otherwise.
std::unique_ptr<Method> make_method(const ModelConfig& cfg);
std::vector<std::string> method_names();

// Classifies ep's queries with an adapted classifier, each query on its own: returns
// predictions (N*Q) and, in `logits` if given, (N*Q, N) scores.
std::vector<int32_t> classify(const ModelConfig& cfg, const AdaptedClassifier& a,
                              const EpisodeTensors& ep, std::vector<float>* logits = nullptr);

}  // namespace fsh
