// Adaptation and evaluation over whole episode sets: what fsh-adapt and fsh-eval do, in the
// library so that tests call it in-process. Accuracy is per episode; summaries use
// eval/stats.hpp (mean ± 1.96·sd/√n).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/stats.hpp"
#include "io/episodes_io.hpp"
#include "methods/adapted.hpp"

namespace fsh {

// Adapts m to every episode of es (support sets only, unless m's policy is transductive),
// recording each episode's class names when es has them. tick(i) is called after episode i
// (for progress; may be empty).
AdaptedSet adapt_episodes(Method& m, const EpisodeSet& es,
                          const std::function<void(int64_t)>& tick = {});

// The same for the episodes of shard `s` only (util/shard.hpp): a partial set (part set, with
// the fingerprints below) holding exactly the classifiers that adapt_episodes gives those
// episodes -- each episode is adapted from the model and that episode alone, so where it sits
// in a shard changes nothing. tick(j) after the shard's j-th episode.
AdaptedSet adapt_shard(Method& m, const EpisodeSet& es, const Shard& s,
                       const std::function<void(int64_t)>& tick = {});

// A fingerprint (16 hex digits, FNV-1a 64; man 5 fsh-adapted, SHARDS) of a whole episodes
// file's episodes: their count, shape, first, seed, dataset fingerprint and every class,
// support and query index. Shards of one file agree on it; another file (another part, seed,
// N, K or Q) differs.
std::string episodes_fingerprint(const Episodes& e);

// A fingerprint (16 hex digits) of what adaptation depends on besides the episode: the method,
// its normalisation policy, backbone and settings, and θ. Shards adapted from one model (with
// one --bn) agree on it.
std::string model_fingerprint(const Method& m);

struct QueryPrediction {
  int64_t episode;   // index within the episodes file
  int64_t query;     // index within the episode's queries
  int64_t image;     // dataset index of the query image
  int32_t label;     // true episode label
  int32_t predicted;
};

struct Evaluation {
  EpisodeRange range;                        // the episodes scored (all, or a shard's)
  std::vector<double> accuracy;              // per episode of range, a fraction
  std::vector<int64_t> correct;              // per episode of range, queries right
  std::vector<QueryPrediction> predictions;  // filled when asked for
};

// Classifies every query of the episodes of shard `shard` of es (default: all of them) with
// the adapted classifiers (nothing else is used), after checking that `a` was adapted to these
// episodes: a complete set must match es (same count, ways, dataset, seed, first); a partial
// one (fsh-adapt --shard) must carry es's episodes fingerprint and hold every episode of the
// shard. format_error naming `where` otherwise. tick(j) after the shard's j-th episode.
Evaluation evaluate_adapted(const AdaptedSet& a, const EpisodeSet& es, bool keep_predictions,
                            const std::string& where,
                            const std::function<void(int64_t)>& tick = {},
                            const Shard& shard = {});

}  // namespace fsh
