// Adaptation and evaluation over whole episode sets: what fsh-adapt and fsh-eval do, in the
// library so that tests call it in-process. Accuracy is per episode; summaries use
// eval/stats.hpp (mean ± 1.96·sd/√n).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "io/episodes_io.hpp"
#include "methods/adapted.hpp"

namespace fsh {

// Adapts m to every episode of es (support sets only, unless m's policy is transductive),
// recording each episode's class names when es has them. tick(i) is called after episode i
// (for progress; may be empty).
AdaptedSet adapt_episodes(Method& m, const EpisodeSet& es,
                          const std::function<void(int64_t)>& tick = {});

struct QueryPrediction {
  int64_t episode;   // index within the episodes file
  int64_t query;     // index within the episode's queries
  int64_t image;     // dataset index of the query image
  int32_t label;     // true episode label
  int32_t predicted;
};

struct Evaluation {
  std::vector<double> accuracy;              // per episode, a fraction
  std::vector<QueryPrediction> predictions;  // filled when asked for
};

// Classifies every query of es with the adapted classifiers (nothing else is used), after
// checking that `a` was adapted to these episodes (same count, ways, dataset, seed, first):
// format_error naming `where` otherwise.
Evaluation evaluate_adapted(const AdaptedSet& a, const EpisodeSet& es, bool keep_predictions,
                            const std::string& where,
                            const std::function<void(int64_t)>& tick = {});

}  // namespace fsh
