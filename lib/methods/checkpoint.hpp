// Model checkpoints (man 5 fsh-model): a method's configuration and meta-parameters, plus what
// resuming training needs -- the training configuration, optimizer state, the episode counter
// (training episode e is always drawn from Rng::stream(seed, e), so seed + counter ARE the RNG
// state) and the best validation score so far. Written atomically through io::Writer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/episodes.hpp"
#include "io/hdf5.hpp"
#include "methods/method.hpp"
#include "nn/optim.hpp"

namespace fsh {

// Version 2 added /config/settings (the method's settings) and /train meta_batch; version-1
// files read as models without settings and with a meta-batch of 1.
constexpr int64_t model_format_version = 2;

struct TrainConfig {
  // Episodes drawn from a dataset/split (data) or taken in turn from an episodes file.
  std::string data;              // path as given
  std::string data_fingerprint;  // of the dataset the training episodes index
  PartChoice part = PartChoice::train;
  int64_t n_way = 60, k_shot = 1, n_query = 5;
  int64_t episodes = 10000;  // total training episodes
  // Episodes per optimizer step; their gradients are averaged in episode order (trainer.hpp).
  int64_t meta_batch = 1;
  uint64_t seed = 1;
  std::string optimizer = "adam";  // adam | sgd
  double momentum = 0.0;           // sgd only
  StepDecay schedule{1e-3, 2000, 0.5};  // in episodes: a step's rate is lr(its first episode)
  // Validation on held-out classes (val_every 0: none).
  PartChoice val_part = PartChoice::val;
  int64_t val_every = 500, val_count = 200, val_way = 5, val_shot = 1, val_query = 15;
  uint64_t val_seed = 1;
  int64_t checkpoint_every = 1000;
  void validate() const;  // usage_error naming the bad value and the allowed range
};

struct Checkpoint {
  ModelConfig model;
  TrainConfig train;
  std::vector<float> params;  // the method's flat θ (its layout: make_method(model)->params())
  OptimizerState optimizer;
  int64_t episode = 0;        // training episodes completed
  double best_val = -1;       // best validation accuracy (fraction), -1 = none yet
  double best_val_ci95 = 0;
  int64_t best_episode = -1;
  double elapsed_seconds = 0;  // training time so far (informational; not part of the result)
};

void write_checkpoint(const Checkpoint& c, const ParamLayout& layout, const std::string& path,
                      const Provenance& prov);
Checkpoint read_checkpoint(const std::string& path);
Checkpoint read_checkpoint(const io::Reader& r);

// The model configuration group shared by fsh-model and fsh-adapted (/config attributes).
void write_model_config(io::Writer& w, const ModelConfig& m);
// method_needed: the method must be one this build has (models); otherwise (adapted files,
// which are scored without their method) an unknown method's settings are read as stored.
ModelConfig read_model_config(const io::Reader& r, bool method_needed = true);

// The method of a checkpoint, with its parameters loaded.
std::unique_ptr<Method> load_method(const Checkpoint& c, const std::string& where);

}  // namespace fsh
