// Every random stream of a training run, derived from the run's one --seed by named purpose,
// in this one place, so that no stream serves two purposes:
//   training episode e   Rng::stream(seed, e)        (b = 0: the episode sampler's convention,
//                                                     fsh-episodes(5), shared with `sample`)
//   initialisation       Rng::stream(seed, 0, tag)   (b = tag ≠ 0: never an episode's stream)
//   validation episodes  sampled with seed derive_seed(seed, validation), their own streams
// The tags are fixed constants (changing one changes every model trained from a seed).
#pragma once
#include <cstdint>

#include "util/rng.hpp"

namespace fsh {

enum class SeedPurpose : uint64_t {
  initialisation = 0x696e6974ULL,  // "init"
  validation = 0x76616c69ULL,      // "vali"
};

// A 64-bit seed for a purpose that samples whole episode sets (validation): mixed from the run
// seed and the purpose tag, so it equals no run seed's stream by construction.
inline uint64_t derive_seed(uint64_t seed, SeedPurpose p) {
  return Rng::stream(seed, 0, uint64_t(p)).next_u64();
}

// The generator for a purpose that draws values directly (initialisation).
inline Rng purpose_rng(uint64_t seed, SeedPurpose p) { return Rng::stream(seed, 0, uint64_t(p)); }

}  // namespace fsh
