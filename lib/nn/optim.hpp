// Optimizers over a flat parameter buffer (nn/params.hpp): Adam and SGD in PyTorch's
// formulation, and a step-decay learning-rate schedule. The state (moment buffers + step count)
// exports to flat arrays and imports back, so a checkpoint resumes bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/registry.hpp"

namespace fsh {

// lr(t) = base_lr · gamma^⌊t / step⌋ for episode t = 0, 1, ...; step = 0 keeps it constant.
// The ProtoNet protocol: base_lr 1e-3, step 2000, gamma 0.5.
struct StepDecay {
  double base_lr = 1e-3;
  int64_t step = 0;
  double gamma = 0.5;
  double lr(int64_t t) const;
  void validate() const;  // throws usage_error naming the bad value and the allowed range
};

// Everything needed to resume an optimizer exactly.
struct OptimizerState {
  std::string kind;                      // "adam" or "sgd"
  int64_t step = 0;                      // updates done so far
  std::vector<std::vector<float>> slots; // adam: {m, v}; sgd: {momentum buffer} or {}
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual const char* kind() const = 0;
  // params −= update(grads) at learning rate lr; both buffers have size() elements.
  virtual void step(float* params, const float* grads, double lr) = 0;
  virtual OptimizerState state() const = 0;
  // Throws format_error when kind or sizes differ from this optimizer's.
  virtual void set_state(const OptimizerState& s) = 0;
  virtual std::size_t size() const = 0;
  int64_t steps() const { return t_; }

 protected:
  int64_t t_ = 0;
};

struct AdamConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class Adam : public Optimizer {
 public:
  Adam(std::size_t n, const AdamConfig& cfg = {}, Backend& backend = default_backend());
  const char* kind() const override { return "adam"; }
  void step(float* params, const float* grads, double lr) override;
  OptimizerState state() const override;
  void set_state(const OptimizerState& s) override;
  std::size_t size() const override { return m_.size(); }

 private:
  AdamConfig cfg_;
  Kernels<float>* k_;
  std::vector<float> m_, v_;
};

struct SgdConfig {
  double momentum = 0.0, weight_decay = 0.0;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::size_t n, const SgdConfig& cfg = {}, Backend& backend = default_backend());
  const char* kind() const override { return "sgd"; }
  void step(float* params, const float* grads, double lr) override;
  OptimizerState state() const override;
  void set_state(const OptimizerState& s) override;
  std::size_t size() const override { return n_; }

 private:
  SgdConfig cfg_;
  Kernels<float>* k_;
  std::size_t n_;
  std::vector<float> buf_;
};

}  // namespace fsh
