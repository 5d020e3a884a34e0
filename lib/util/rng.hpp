// fsh's portable random number generator. The same seed gives the same stream on every
// compiler, platform and thread count: only fixed-width integer arithmetic is used for integers
// (no std::*_distribution, whose output is implementation-defined). Normal and uniform floats
// use only IEEE-exact operations plus std::log/std::cos/std::sqrt for Box-Muller.
//
// Engine: xoshiro256** (Blackman & Vigna), seeded through splitmix64. Independent streams for
// parallel or sharded work come from Rng::stream(seed, a, b): e.g. the e-th episode of a run
// uses Rng::stream(seed, e), so any shard can draw exactly its own episodes.
#pragma once
#include <array>
#include <cstddef>
#include <utility>
#include <cstdint>
#include <vector>

namespace fsh {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  // A generator for sub-stream (a, b) of `seed`: distinct, reproducible, order-independent.
  static Rng stream(uint64_t seed, uint64_t a, uint64_t b = 0);

  uint64_t next_u64();
  // Uniform integer in [0, n), unbiased (rejection). n must be > 0.
  uint64_t below(uint64_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform();
  // Uniform float in [lo, hi).
  float uniform(float lo, float hi);
  // Standard normal (Box-Muller, one value per call).
  double normal();
  // Fisher-Yates shuffle of v, in place.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }
  // k distinct values from [0, n) in random order (partial Fisher-Yates). Requires k <= n.
  std::vector<int64_t> choose(int64_t n, int64_t k);

  // The full state, for checkpoints (resume continues the exact stream).
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
};

// splitmix64 step: also a good 64-bit mixer for deriving seeds.
uint64_t splitmix64(uint64_t& x);

}  // namespace fsh
