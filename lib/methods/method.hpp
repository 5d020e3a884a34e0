// The one interface every few-shot method implements (protonet today; maml and hypernet next).
// A method owns its meta-parameters θ (one flat buffer, nn/params.hpp) and answers two
// questions: the meta-loss of an episode with ∇θ (for fsh-train), and the adapted classifier
// of a support set (for fsh-adapt / fsh-eval). Every method adapts to the SAME thing: a primary
// network (nn/conv4.hpp PrimaryNet: Conv-4 with normalisation folded in, plus a linear head),
// so fsh-eval classifies any method's output with nothing but the adapted file.
#pragma once
#include <cstdint>
#include <memory>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
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

// The one translation of a policy into the backbone's batch-norm mode for a batch whose first
// `support_rows` rows are the support set: support statistics when the batch holds queries
// too and the policy is support; batch statistics otherwise. Returns the mode and sets
// *rows to the BnMode::support row count (0 for BnMode::batch).
BnMode bn_mode(BnPolicy p, int support_rows, int batch, int* rows);

// ---- method settings ----------------------------------------------------------------------
// Each method declares its settings once (name, type via the default's alternative, range,
// help); fsh-train turns them into flags (--inner-lr for inner_lr), fsh-model stores them as
// typed attributes of /config/settings, readers validate them against the declaration, and
// `fsh-episodes info` and fsh-train print them -- all through the functions below.
using SettingValue = std::variant<bool, int64_t, double, std::string>;
using Settings = std::map<std::string, SettingValue>;

struct SettingSpec {
  std::string name;           // snake_case
  SettingValue default_value; // its alternative is the setting's type
  std::string help;
  double min = -1e300, max = 1e300;  // numbers: the allowed range, inclusive
  // Added after model files of the method existed: a file without it means the default (which
  // must be the behaviour before the setting existed); every other setting must be present.
  bool optional_in_files = false;
};

std::string to_string(const SettingValue& v);
// "inner_lr 0.4, inner_steps 1" in declaration order; "(none)" when there are none.
std::string describe_settings(const std::vector<SettingSpec>& specs, const Settings& s);

// What is needed to rebuild a method's network (stored in every fsh-model file).
struct ModelConfig {
  std::string method = "protonet";
  Conv4Config backbone;
  BnPolicy bn = BnPolicy::support;
  Settings settings;  // the method's, complete (every declared setting present)
  // What the input images are: how the training data was made from files (inverted? resized
  // how?) and its mean brightness in [0, 1] (-1: unknown), so that new pictures are prepared
  // alike and a polarity mismatch is caught (methods/images.hpp). Not used by the methods.
  ImagePreparation input;
  double input_mean = -1;
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

// One episode's adapted classifier: a complete primary network (PrimaryNet::layout(cfg, N):
// Conv-4 with normalisation folded in, plus a linear head) -- all fsh-eval needs. Normalisation
// is always folded in: with the support policy the statistics are the support set's; with the
// transductive policy they are those of the episode's support and query images together (so
// the classifier is then specific to that query set, which is what transductive means), and
// classifying each query alone reproduces batch normalisation exactly.
//
// How the conv blocks were made, so that a set of classifiers is stored compactly (a base
// once, per episode only what varies): primary's conv blocks are
//   fold_convs(convs, fold_scale, fold_shift)      (nn/conv4.hpp, the one folding)
// with `convs` the episode's own convolutions when the method changed them (MAML's fine-tuned
// weights) or, when `convs` is empty, the method's base_convolutions(). AdaptedSet checks this
// bit for bit and refuses a classifier that does not satisfy it.
struct AdaptedClassifier {
  int n_way = 0;
  std::vector<float> primary;     // PrimaryNet layout
  std::vector<float> convs;       // conv_layout(cfg), or empty: the method's base
  std::vector<float> fold_scale;  // (depth, K)
  std::vector<float> fold_shift;  // (depth, K)
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
  // Meta-loss of one episode; ∇θ is written to grad (params().size() values, OVERWRITTEN).
  // Deterministic: the same bits for any thread count.
  virtual EpisodeResult loss_and_grad(const EpisodeTensors& ep, float* grad) = 0;
  // The same, into params().grads().
  EpisodeResult loss_and_grad(const EpisodeTensors& ep) {
    return loss_and_grad(ep, params_.grads());
  }
  // The classifier adapted to ep's support set (ep's queries are not looked at unless the
  // policy is transductive).
  virtual AdaptedClassifier adapt(const EpisodeTensors& ep) = 0;
  // The convolutions (conv_layout) that classifiers without their own `convs` fold from.
  // Default: θ's views named conv<i>.weight and conv<i>.bias.
  virtual std::vector<float> base_convolutions() const;

  // The method's settings (declared in its MethodInfo, complete in config().settings).
  bool setting_bool(const std::string& name) const;
  int64_t setting_int(const std::string& name) const;
  double setting_real(const std::string& name) const;

 protected:
  explicit Method(ModelConfig cfg, ParamLayout layout)
      : config_(std::move(cfg)), params_(std::move(layout)) {}
  ModelConfig config_;
  ParamSet<float> params_;
};

// ---- the method registry ----------------------------------------------------------------------
// A method's own training protocol (its paper's): fsh-train takes these for the flags the user
// does not give; an unset field keeps the trainer's default (TrainConfig in checkpoint.hpp).
struct TrainProtocol {
  std::optional<int64_t> meta_batch;  // --meta-batch
  std::optional<int64_t> n_way;       // -N/--way
  std::optional<int64_t> lr_step;     // --lr-step (0: a constant learning rate)
};

struct MethodInfo {
  std::string name;
  std::string summary;  // one line, for --help
  std::vector<SettingSpec> settings;
  std::function<std::unique_ptr<Method>(const ModelConfig&)> make;
  TrainProtocol protocol = {};
};

// Adds a method (the built-in ones are always there); usage_error on a duplicate name or a
// malformed declaration. Tests register fixture methods this way.
void register_method(MethodInfo info);
const std::vector<MethodInfo>& registered_methods();
// usage_error listing the known methods when there is none of that name.
const MethodInfo& method_info(const std::string& name);
std::vector<std::string> method_names();

// Checks `given` against the declarations of `method` and returns the complete settings
// (defaults filled in): usage_error naming the setting on an unknown name, a wrong type or a
// value out of range.
Settings complete_settings(const std::string& method, const Settings& given);

// The method named by cfg.method with cfg.settings completed and checked; usage_error listing
// the known ones otherwise.
std::unique_ptr<Method> make_method(const ModelConfig& cfg);

// Classifies ep's queries with an adapted classifier, each query on its own: returns
// predictions (N*Q) and, in `logits` if given, (N*Q, N) scores.
std::vector<int32_t> classify(const ModelConfig& cfg, const AdaptedClassifier& a,
                              const EpisodeTensors& ep, std::vector<float>* logits = nullptr);

}  // namespace fsh
