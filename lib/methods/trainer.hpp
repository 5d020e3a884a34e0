// Meta-training loop shared by every method: draw a meta-batch of episodes (--meta-batch, 1 by
// default: ProtoNet's protocol), meta-loss and ∇θ averaged over it, optimizer step,
// periodic validation on held-out classes (keeping the best model), atomic checkpoints, a
// JSON-lines or CSV log, progress on a terminal, and clean stops on SIGINT/SIGTERM or a time
// limit. Training episode e is drawn from Rng::stream(seed, e), so a run resumed from a
// checkpoint continues with exactly the episodes, parameters and optimizer state it would have
// had: 10 episodes + resume + 10 more equals 20 straight, bit for bit.
#pragma once
#include <functional>
#include <string>

#include "data/dataset.hpp"
#include "data/episodes.hpp"
#include "io/episodes_io.hpp"
#include "methods/checkpoint.hpp"

namespace fsh {

struct TrainRun {
  std::string output;       // checkpoint path, rewritten every checkpoint_every and at the end
  std::string best_output;  // best-validation model path ("" = none)
  std::string log;          // log path ("" = none); .csv -> CSV, else JSON lines
  int64_t log_every = 100;  // episodes per log/progress record
  double max_seconds = 0;   // stop (with a checkpoint) after this much training time; 0 = none
  bool progress = true;     // progress line on stderr (only drawn when it is a terminal)
  Provenance provenance;
  std::function<void(const std::string&)> message;  // status lines (may be empty)
};

enum class TrainStatus { finished, time_limit, interrupted, diverged };

struct TrainOutcome {
  TrainStatus status = TrainStatus::finished;
  int signal = 0;  // for interrupted
  std::string message;  // for diverged: what went wrong (the checkpoint keeps the last good θ)
  int64_t episodes_done = 0, episodes_this_run = 0;
  int64_t last_checkpoint =
      -1;  // episode of the last checkpoint this run wrote to output; -1: none
  double seconds_this_run = 0;
};

// Trains ck (fresh or resumed) in place. Training episodes come from `data` (sampled from
// ck.train.part) or, when `episodes` is given, from that set in turn (cycling). Validation uses
// `data`'s ck.train.val_part classes when it has any.
TrainOutcome train(Checkpoint& ck, const Dataset* data, const EpisodeSet* episodes,
                   const TrainRun& run);

// One optimizer step's gradient over a meta-batch of episodes: the gradient of each episode,
// in episode order, summed left to right in float ((g0 + g1) + g2 ...) and then multiplied by
// 1/B (not for B = 1), into m.params().grads(). The order is fixed, so the bits do not depend
// on the thread count, and a data-parallel split that gathers the per-episode gradients and
// sums them in this order gives the same bits. `scratch` holds one gradient. Returns the mean
// loss and the summed correct/total over the episodes.
EpisodeResult meta_batch_gradient(Method& m, const std::vector<EpisodeTensors>& episodes,
                                  std::vector<float>& scratch);

// Validation / evaluation: accuracy of method m adapted to each of the episodes (fractions).
std::vector<double> evaluate_accuracy(Method& m, const Episodes& e, const Dataset* d);

}  // namespace fsh
