// Starting and resuming a training run, in the library (fsh-train only parses flags and prints):
// opening the training data, taking the image shape from it, completing the method's
// settings, deriving the seeds by purpose (util/seeds.hpp) and initialising θ.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "io/episodes_io.hpp"
#include "methods/checkpoint.hpp"

namespace fsh {

// What a run trains on: a dataset/split to sample episodes from, or an episodes file.
struct TrainingData {
  std::optional<Dataset> dataset;
  std::optional<EpisodeSet> episodes;
  std::string fingerprint;  // of the dataset the training episodes index
  const Dataset* dataset_ptr() const { return dataset ? &*dataset : nullptr; }
  const EpisodeSet* episodes_ptr() const { return episodes ? &*episodes : nullptr; }
};

// Opens `path`: an fsh-episodes file (with `dataset_for_episodes` as for open_episodes) or an
// fsh-dataset / fsh-split file.
TrainingData open_training_data(const std::string& path, const std::string& dataset_for_episodes);

// A fresh run. `model.settings` holds the settings given (the rest take their defaults);
// `train` the training configuration with train.seed the run's seed (train.val_seed and
// train.data are set here). The backbone takes the data's image shape; training on an
// episodes file takes its ways, shots and queries. θ is drawn from the initialisation stream;
// then, when `init_from` names an fsh-model, the parameters it shares are copied from it (see
// init_from_model; *init_note, if given, receives its account).
Checkpoint start_run(const ModelConfig& model, TrainConfig train, const std::string& data_path,
                     const TrainingData& data, const std::string& init_from = "",
                     std::string* init_note = nullptr);

// Warm start (fsh-train --init-from): overwrites every parameter of ck's θ that the model in
// `model_path` has too (same name; e.g. the Conv-4 backbone of a trained ProtoNet for a
// hypernetwork) with that model's values; the others keep their initialisation. The backbone
// configurations must be equal, shared names must have equal shapes, and the whole Conv-4
// backbone must be shared: usage_error naming the file otherwise. ck.elapsed_seconds starts
// from the model's, so that a run's training time includes its warm start. Returns a one-line
// account (what was copied, what was left).
std::string init_from_model(Checkpoint& ck, const std::string& model_path);

// Checks that `data` is what checkpoint `ck` (read from `where`) was trained on, and records
// its fingerprint when the checkpoint has none: usage_error otherwise.
void check_resume_data(Checkpoint& ck, const TrainingData& data, const std::string& where,
                       const std::string& data_path);

// The warnings a resumed run owes the user for flags it ignores (e.g. --seed): one line each.
std::vector<std::string> resume_warnings(bool seed_given, bool model_flags_given);

}  // namespace fsh
