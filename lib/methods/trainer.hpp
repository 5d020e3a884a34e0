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
  // Data-parallel figures (processes > 1): optimizer steps this run; the seconds of the
  // slowest rank computing, the most any rank waited for the slowest (load imbalance), and
  // the longest any rank spent in the chain and broadcast (StepTiming); the bytes one hop of
  // the chain carries per step (all of θ's gradient, 4 per parameter).
  int processes = 1;
  int64_t steps_this_run = 0;
  double compute_seconds = 0, wait_seconds = 0, reduce_seconds = 0;
  std::size_t bytes_per_hop = 0;
};

// Trains ck (fresh or resumed) in place. Under MPI (dist::size() > 1) every rank calls it with
// the same arguments: the episodes of each meta-batch are divided among the ranks
// (meta_batch_gradient_parallel), every rank takes the same optimizer step, so θ stays
// identical everywhere (checked at every checkpoint), validation episodes are divided too, and
// only rank 0 writes files and messages. The decision to stop (a signal on any rank, or rank
// 0's clock for max_seconds) is agreed before each step, so all ranks stop after the same one.
// A failure to write a file on rank 0 makes every rank throw dist::collective_error. Training episodes come from `data` (sampled from
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

// The same gradient, bit for bit, with the B episodes of the meta-batch divided among the
// processes of an MPI job (dist::size() = P > 1; every rank calls it). This rank holds `mine`,
// its contiguous block of the batch (dist::block_begin(B, P, rank)); ranks P >= B have none.
// The blocks are combined by a chain in episode order: rank 0 sums its block as
// meta_batch_gradient does (g0 + g1 ...), sends the partial sum to rank 1, which adds its own
// episodes' gradients to it one by one in order, and so on; the last rank with episodes
// broadcasts the sum, and every rank multiplies by 1/B. Each element of θ's gradient thus sees
// exactly the additions of one process, in the same order, whatever P is -- unlike a tree or
// MPI_Allreduce, whose rounding depends on P. The chain is pipelined in pieces of θ, so a hop
// passes 4 bytes per parameter once and the hops overlap. The loss and the correct/total
// counts travel with it (also summed in episode order). `scratch` holds this rank's
// gradients. The ranks meet at a barrier between computing and reducing, so that `timing`
// (when given) can tell the three apart: the seconds this rank spent computing its episodes,
// waiting at the barrier for the slowest rank, and in the chain and broadcast themselves.
struct StepTiming {
  double compute = 0, wait = 0, reduce = 0;
};
EpisodeResult meta_batch_gradient_parallel(Method& m, const std::vector<EpisodeTensors>& mine,
                                           int64_t B, std::vector<float>& scratch,
                                           StepTiming* timing = nullptr);

// Validation / evaluation: accuracy of method m adapted to each of the episodes (fractions).
std::vector<double> evaluate_accuracy(Method& m, const Episodes& e, const Dataset* d);

}  // namespace fsh
