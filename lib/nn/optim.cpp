// Adam and SGD over flat buffers (the math is the backend's adam_update / sgd_update), the
// step-decay schedule, and optimizer state export/import for checkpoints.
#include "nn/optim.hpp"

#include <cmath>

#include "util/error.hpp"

namespace fsh {

double StepDecay::lr(int64_t t) const {
  if (step <= 0) return base_lr;
  return base_lr * std::pow(gamma, double(t / step));
}

void StepDecay::validate() const {
  if (!(base_lr > 0) || !std::isfinite(base_lr))
    throw usage_error("learning rate must be a finite number > 0, got " + std::to_string(base_lr));
  if (step < 0)
    throw usage_error("lr decay step must be >= 0 episodes (0 = no decay), got " +
                      std::to_string(step));
  if (!(gamma > 0 && gamma <= 1))
    throw usage_error("lr decay factor must be in (0, 1], got " + std::to_string(gamma));
}

namespace {
void check_state(const OptimizerState& s, const char* kind, std::size_t slots, std::size_t n) {
  if (s.kind != kind)
    throw format_error("optimizer state is for '" + s.kind + "', expected '" + kind + "'");
  if (s.step < 0) throw format_error("optimizer state has a negative step count");
  if (s.slots.size() != slots)
    throw format_error("optimizer state for '" + s.kind + "' has " +
                       std::to_string(s.slots.size()) + " buffers, expected " +
                       std::to_string(slots));
  for (const auto& v : s.slots)
    if (v.size() != n)
      throw format_error("optimizer state buffer has " + std::to_string(v.size()) +
                         " values, the model has " + std::to_string(n) + " parameters");
}
}  // namespace

Adam::Adam(std::size_t n, const AdamConfig& cfg, Backend& backend)
    : cfg_(cfg), k_(&backend.kernels<float>()), m_(n, 0.0f), v_(n, 0.0f) {
  if (!(cfg.beta1 >= 0 && cfg.beta1 < 1) || !(cfg.beta2 >= 0 && cfg.beta2 < 1))
    throw usage_error("Adam betas must be in [0, 1)");
  if (!(cfg.eps > 0)) throw usage_error("Adam eps must be > 0");
  if (!(cfg.weight_decay >= 0)) throw usage_error("weight decay must be >= 0");
}

void Adam::step(float* params, const float* grads, double lr) {
  ++t_;
  k_->adam_update(m_.size(), params, grads, m_.data(), v_.data(), lr, cfg_.beta1, cfg_.beta2,
                  cfg_.eps, cfg_.weight_decay, t_);
}

OptimizerState Adam::state() const { return OptimizerState{"adam", t_, {m_, v_}}; }

void Adam::set_state(const OptimizerState& s) {
  check_state(s, "adam", 2, m_.size());
  t_ = s.step;
  m_ = s.slots[0];
  v_ = s.slots[1];
}

Sgd::Sgd(std::size_t n, const SgdConfig& cfg, Backend& backend)
    : cfg_(cfg), k_(&backend.kernels<float>()), n_(n) {
  if (!(cfg.momentum >= 0 && cfg.momentum < 1))
    throw usage_error("SGD momentum must be in [0, 1), got " + std::to_string(cfg.momentum));
  if (!(cfg.weight_decay >= 0)) throw usage_error("weight decay must be >= 0");
  if (cfg.momentum > 0) buf_.assign(n, 0.0f);
}

void Sgd::step(float* params, const float* grads, double lr) {
  k_->sgd_update(n_, params, grads, buf_.empty() ? nullptr : buf_.data(), lr, cfg_.momentum,
                 cfg_.weight_decay, t_ == 0);
  ++t_;
}

OptimizerState Sgd::state() const {
  OptimizerState s{"sgd", t_, {}};
  if (!buf_.empty()) s.slots.push_back(buf_);
  return s;
}

void Sgd::set_state(const OptimizerState& s) {
  check_state(s, "sgd", buf_.empty() ? 0 : 1, n_);
  t_ = s.step;
  if (!buf_.empty()) buf_ = s.slots[0];
}

}  // namespace fsh
