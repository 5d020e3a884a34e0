// The hypernetwork method (man 7 fsh-hypernet): a network H that maps a task embedding t of an
// episode's support set to the weights of the primary network, so that adapting to a task is
// one forward pass.
//
//   pass 1   support images -> backbone θ_b (batch norm as the policy says) -> features f¹;
//            t = mean over classes c of relu(W_e·ū_c + b_e), ū_c the spatially pooled mean
//            support feature of class c (a DeepSets encoder of the class prototypes).
//   FiLM     z = W_f·t + b_f = (Δs, Δo), per block i ≥ film_from (setting; 0: every block)
//            and channel k; after batch norm, before
//            the ReLU: relu(s·(γ·x̂ + β) + o) = relu(γ'·x̂ + β') with s = 1 + Δs, o = Δo,
//            γ' = s·γ, β' = s·β + o. The FiLM'd backbone is therefore Conv-4 with the episode's
//            own parameter buffer θ' (θ_b with γ', β'), and it folds like any Conv-4.
//   pass 2   support (+ query) images -> θ' -> features f²; prototypes p_c. When adapting
//            (no backward) and pass 1 saw the same images, pass 2 starts from pass 1's
//            activations at block film_from (Conv4::forward_reusing): the blocks before it are
//            the same computation, so FiLM on the later blocks only makes adaptation cheaper.
//   head     per class h_c = relu(U·[p_c; t] + u); (ΔW_c, Δb_c) = V·h_c; a task metric
//            ω = 1 + M·t + m (F). Scores: −Σ_f ω_f²(f_f − p_cf)² + ΔW_c·f + Δb_c, i.e. the
//            linear head W_c = 2ω²⊙p_c + ΔW_c, b_c = −Σ_f ω_f² p_cf² + Δb_c.
//
// W_f, b_f, V, M, m start at ZERO: the untrained hypernetwork is ProtoNet on θ_b exactly (same
// features bit for bit, same scores), and meta-training can only move it away from there where
// that lowers the query loss. Optional refinement: refine_steps SGD steps on the support loss
// over every weight of the generated network (θ' and the head) -- a hypernetwork-MAML hybrid,
// meta-trained first-order (the query gradient at the refined weights is taken as the gradient
// at the generated ones).
//
// HypernetCore<T> is the whole computation in precision T (float for the Method, double for the
// finite-difference gradient checks), on the backend's ops; Hypernet is the Method.
#pragma once
#include <cstdint>
#include <vector>

#include "methods/method.hpp"
#include "methods/prototypes.hpp"

namespace fsh {

// The method's configuration, from a ModelConfig's settings (see hypernet_method_info()).
struct HypernetSpec {
  Conv4Config backbone;
  BnPolicy bn = BnPolicy::support;
  bool film = true;         // generate FiLM (setting no_film turns it off)
  int film_from = 0;        // the first block FiLM modulates (the later ones too)
  bool head = true;         // generate the head corrections and metric (no_head turns it off)
  int width = 64;           // hidden width E of the set encoder and of the head generator
  int refine_steps = 0;     // SGD steps on the support set from the generated weights
  double refine_lr = 0.01;  // their learning rate
  static HypernetSpec from(const ModelConfig& cfg);
  bool uses_context() const { return film || head; }
};

// θ: the Conv-4 views (conv4_layout, same names) first, then the generator's:
//   set.weight (E, K), set.bias (E)                          when film or head
//   film.weight (2·L·K, E), film.bias (2·L·K)                when film (zero at init);
//                                                            L = depth − film_from blocks
//   head.hidden.weight (E, F + E), head.hidden.bias (E)      when head
//   head.delta.weight (F + 1, E)                             when head (zero at init)
//   head.metric.weight (F, E), head.metric.bias (F)          when head (zero at init)
ParamLayout hypernet_layout(const HypernetSpec& s);

// One episode in precision T: support rows class-major as in EpisodeTensors.
template <class T>
struct HypernetEpisode {
  int n_way = 0, support_rows = 0, query_rows = 0;
  const T* support = nullptr;  // (S, C, H, W)
  const T* query = nullptr;    // (Qn, C, H, W)
  const int32_t* support_labels = nullptr;
  const int32_t* query_labels = nullptr;
};

// What refinement changed: refined − generated, for θ' (conv4_layout) and the head.
template <class T>
struct Refinement {
  std::vector<T> conv4, head_weight, head_bias;  // (P4), (N, F), (N)
};

// An episode's primary network before folding: Conv-4 parameters θ' (FiLM'd, refined), the
// statistics to fold them with (the policy's), and the head.
template <class T>
struct GeneratedNet {
  // θ' (conv4_layout): `conv4`'s values when refined, else the core's generated θ', which
  // stays valid until the core's next generation (no copy per episode).
  const T* params = nullptr;
  std::vector<T> conv4;  // the refined θ' (empty without refinement)
  std::vector<BnStats<T>> stats;
  std::vector<T> head_weight, head_bias;  // (N, F), (N)
};

template <class T>
class HypernetCore {
 public:
  explicit HypernetCore(const HypernetSpec& spec, Backend& backend = default_backend());
  const HypernetSpec& spec() const { return spec_; }
  const ParamLayout& layout() const { return layout_; }

  // The backbone as Conv4::init draws it (so a seed gives ProtoNet's backbone), then the
  // generator's hidden layers from PyTorch's default U(±1/√fan_in); output layers zero.
  void init(T* theta, Rng& rng) const;

  // The mean query loss of ep under the generated (and, with refine_steps > 0, refined)
  // network; when grad is not null, d loss / dθ is written there (layout().size(), overwritten).
  // With refinement the gradient is first-order: exactly d/dθ of the query loss at
  // generated(θ) + Δ with the refinement Δ held fixed. `fixed`, when given, is that Δ (the
  // refinement is then not run): for tests.
  PrototypeResult loss(const T* theta, const HypernetEpisode<T>& ep, T* grad,
                       const Refinement<T>* fixed = nullptr);
  // The refinement Δ of ep from θ (empty vectors when refine_steps is 0).
  Refinement<T> refinement(const T* theta, const HypernetEpisode<T>& ep);
  // The adapted network of ep (its queries are looked at only with the transductive policy).
  void adapt(const T* theta, const HypernetEpisode<T>& ep, GeneratedNet<T>& out);

  // The FiLM scale s and offset o (depth·K each) of the last generation (diagnostics, tests).
  const std::vector<T>& film_scale() const { return s_; }
  const std::vector<T>& film_shift() const { return sh_; }

 private:
  struct Off {
    std::size_t set_w = 0, set_b = 0, film_w = 0, film_b = 0, hid_w = 0, hid_b = 0, delta_w = 0,
                metric_w = 0, metric_b = 0;
  };
  // inference: no backward will follow, so pass 2 may reuse pass 1's early blocks when both
  // passes see the same batch (Conv4::forward_reusing; the result is bit-identical).
  void generate(const T* theta, const HypernetEpisode<T>& ep, bool queries_in_pass2,
                bool inference = false);
  void context_forward(const T* feat);
  void context_backward(const T* theta, T* dfeat, T* grad);
  void head_forward(const T* theta);
  void head_backward(const T* theta, T* grad);
  void generated_head(std::vector<T>& w, std::vector<T>& b) const;
  void refine(const HypernetEpisode<T>& ep, std::vector<T>& conv4, std::vector<T>& w,
              std::vector<T>& b);
  void film_backward(const T* theta, const T* g2, T* grad);

  HypernetSpec spec_;
  Kernels<T>* k_;
  ParamLayout layout_;
  Conv4<T> net_;
  Off off_;
  int K_, F_, E_, D_, HW_;
  std::size_t P4_;                               // Conv-4 parameters
  std::vector<std::size_t> bn_gamma_, bn_beta_;  // per block: offsets of bn<i>.gamma, .beta

  // One generation's state (valid until the next generate).
  int N_ = 0, S_ = 0, Qn_ = 0, B1_ = 0, B2_ = 0;
  const int32_t* labels_ = nullptr;
  Conv4Tape<T> tape1_, tape2_, tape_r_;
  std::vector<T> x1_, x2_, theta2_;  // stacked images; θ'
  const T* p2_ = nullptr;            // the parameters of pass 2 (θ' or θ_b)
  const T* ctx_feat_ = nullptr;      // the features t is computed from (pass 1 or pass 2)
  std::vector<T> u_, ubar_, epre_, e_, t_, z_, s_, sh_;
  std::vector<T> protos_, hin_, hpre_, h_, out_, omega_, gw_, gb_;
  // Backward scratch.
  std::vector<T> dt_, dtx_, du_, dubar_, de_, dz_, dp_, dhin_, dh_, dout_, domega_, g2_, dfeat1_,
      dfeat2_, dfeatf_;
  std::vector<T> qa_, pb_, dist_, probs_, dlogits_, da_, dq_, gdw_, gdb_;
  std::vector<int32_t> pred_;
  // Refinement and the refined final pass.
  std::vector<T> rconv_, rw_, rb_, rg_, rdw_, rdb_, rlogits_, rprobs_, rdfeat_, fconv_, fw_, fb_;
};

extern template class HypernetCore<float>;
extern template class HypernetCore<double>;

class Hypernet final : public Method {
 public:
  explicit Hypernet(const ModelConfig& cfg);
  std::string name() const override { return "hypernet"; }
  void init(Rng& rng) override;
  using Method::loss_and_grad;
  EpisodeResult loss_and_grad(const EpisodeTensors& ep, float* grad) override;
  AdaptedClassifier adapt(const EpisodeTensors& ep) override;
  HypernetCore<float>& core() { return core_; }

 private:
  HypernetCore<float> core_;
  GeneratedNet<float> gen_;
};

// The registry entry: name, summary, settings (no_film, no_head, refine_steps, refine_lr,
// generator_width) and factory.
MethodInfo hypernet_method_info();

// The view of an EpisodeTensors for HypernetCore<float>.
HypernetEpisode<float> hypernet_episode(const EpisodeTensors& ep);

}  // namespace fsh
