// Adapted classifiers for a whole episodes file, and their file format (man 5 fsh-adapted).
// What every episode's primary network shares is stored once: the base convolutions (weights
// and biases as meta-trained). What varies is stored per episode: for each conv block the
// per-channel (scale, shift) that folds that episode's normalisation statistics into it, and
// the linear head. Episode e's conv block i is w' = w·scale[e,i,k], b' = b·scale[e,i,k] +
// shift[e,i,k] (k the output channel) -- computed by apply_fold(), the one place that does it,
// used alike when adapting in memory and when reading a file, so both classify identically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "methods/method.hpp"

namespace fsh {

constexpr int64_t adapted_format_version = 1;

// Fills a.primary's conv blocks (a.primary is resized to PrimaryNet::layout(cfg, a.n_way)) and
// a.fold_scale / a.fold_shift from Conv-4 parameters and one episode's statistics:
// scale = γ/√(var+ε), shift = β − μ·scale.
void fold_statistics(const Conv4Config& cfg, const float* conv4_params,
                     const std::vector<BnStats<float>>& stats, AdaptedClassifier& a);

// Writes the conv blocks of `primary` (PrimaryNet layout for n_way) from the base convolutions
// in conv4_params (Conv-4 layout) and one episode's scale/shift.
void apply_fold(const Conv4Config& cfg, int n_way, const float* conv4_params,
                const std::vector<std::vector<float>>& scale,
                const std::vector<std::vector<float>>& shift, float* primary);

struct AdaptedSet {
  ModelConfig model;
  int n_way = 0;
  // The episodes these classifiers were adapted to (checked by fsh-eval).
  int64_t k_shot = 0, n_query = 0, first = 0;
  uint64_t episodes_seed = 0;
  std::string dataset_fingerprint;
  std::vector<float> base;   // Conv-4 layout: conv<i>.weight/bias (+ bn<i> unused, kept as 0)
  std::vector<float> scale;  // [E, depth, K]
  std::vector<float> shift;  // [E, depth, K]
  std::vector<float> head_weight;  // [E, N, F]
  std::vector<float> head_bias;    // [E, N]

  int64_t count() const;
  // Appends one episode's classifier (its fold_scale/shift and head).
  void add(const AdaptedClassifier& a);
  // Episode e's full classifier.
  AdaptedClassifier episode(int64_t e) const;
};

void write_adapted(const AdaptedSet& s, const std::string& path, const Provenance& prov);
AdaptedSet read_adapted(const std::string& path);
// For readers that already opened the file (info).
AdaptedSet read_adapted(const io::Reader& r);

}  // namespace fsh
