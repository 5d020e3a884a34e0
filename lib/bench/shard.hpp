// Sharded comparison (man 1 fsh-bench, SHARDS): `fsh-bench --shard i/n` scores every method on
// shard i of n of each configuration's episodes (util/shard.hpp: a contiguous block) and writes
// what that needs to merge -- per configuration and method the per-episode counts of right
// queries and the adapted sizes -- as one JSON object; `fsh-bench --merge PART...`, given the
// same models and episodes, checks the parts against them and against each other and runs the
// comparison with those counts instead of scoring the episodes again: every accuracy, interval,
// per-episode accuracy and paired difference is the same bits as one unsharded run's (integer
// counts merge exactly; each episode's accuracy is then eval/stats.hpp episode_accuracy and the
// summaries run over all episodes in order, as the unsharded run does). What the merge measures
// itself -- adaptation and training times, memory, kernels -- is measured as an unsharded run
// measures it, on the machine that merges; the shards measure nothing.
//
// A part is one JSON object (one line; fsh_format "fsh-bench-shard", version 1):
//   {"fsh_format":"fsh-bench-shard","fsh_format_version":1,"shard":"i/n","configs":[
//     {"key":"5w1s","n_way":5,"k_shot":1,"n_query":15,"total_count":E,"shard_begin":b,
//      "episodes_fingerprint":"...","cells":[
//        {"label":"protonet","method":"protonet","model":"path","model_fingerprint":"...",
//         "queries":N*Q,"correct":[c_b, ...],"adapted_floats":F,"per_episode_convs":false,
//         "conv_floats":C}, ...]}, ...]}
// adapted_floats counts the floats fsh-adapted stores per episode outside the convolutions
// (fold scale and shift, head), summed over the shard's episodes; per_episode_convs whether any
// of them has its own convolutions, conv_floats the size of one episode's convolutions. (An
// adapted set stores convolutions for every episode as soon as one has its own, so the merge
// needs the flag, not a sum.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "methods/adapted.hpp"
#include "util/shard.hpp"

namespace fsh::bench {

constexpr int64_t bench_shard_format_version = 1;

struct ShardCell {
  std::string label, method, model, model_fingerprint;
  int64_t queries = 0;           // per episode: N*Q
  std::vector<int64_t> correct;  // per episode of the shard, from the config's begin
  int64_t adapted_floats = 0;    // outside the convolutions, summed over the episodes
  bool per_episode_convs = false;
  int64_t conv_floats = 0;  // one episode's convolutions
};

struct ShardConfig {
  ConfigSpec spec;
  int64_t total = 0;  // episodes of the configuration
  int64_t begin = 0;  // the first episode scored (shard_range of the shard)
  std::string episodes_fingerprint;
  std::vector<ShardCell> cells;  // in entrant order

  EpisodeRange range() const;
};

struct BenchShard {
  Shard shard;                       // {0, 1} for a merged whole
  std::vector<ShardConfig> configs;  // in test-set order
};

// Floats an adapted set stores outside the convolutions (fold scale and shift, head), summed
// over its episodes.
std::size_t adapted_floats(const AdaptedSet& a);
// fsh-adapted's bytes per episode of `floats` floats over `episodes` episodes: the one formula
// of the unsharded run and the merge.
double adapted_bytes_per_episode(std::size_t floats, int64_t episodes);

// Scores every entrant of s (check_entrants first) on shard `shard` of every test set: adapted
// and evaluated exactly as run_section does for those episodes (adapt_shard, evaluate_adapted).
// Nothing is timed. Leaves the thread count at o.threads.
BenchShard score_shard(Section& s, const BenchOptions& o, const Shard& shard);

// The JSON object above, one line ending in '\n'.
std::string bench_shard_json(const BenchShard& b);
// Parses one; format_error "<where>: ..." (one line) for anything else: not JSON, another
// fsh_format or a later version, a missing or mistyped field, counts that do not fit the
// shard's range of the configuration's episodes, a count outside [0, queries].
BenchShard parse_bench_shard(const std::string& text, const std::string& where);
// Reads and parses a file; io_error when it cannot be read.
BenchShard read_bench_shard(const std::string& path);

// The whole the parts (named by `names`, in any order) are shards of: shard 0/1 with every
// episode's counts and the adapted sizes summed. format_error naming the file for parts of
// different shard counts, configurations, episodes or models (labels, fingerprints), a shard
// given twice, or shards missing.
BenchShard merge_bench_shards(const std::vector<BenchShard>& parts,
                              const std::vector<std::string>& names);

// Checks that `whole` (a merge named `where`, e.g. its first part) scored s's test sets, in
// order, with s's entrants (the model of each that fits each configuration, by fingerprint):
// format_error naming `where` and what differs otherwise. Returns the whole as run_section's
// `given`: per test set and entrant, the per-episode accuracies and adapted bytes per episode.
std::vector<std::vector<GivenCell>> given_cells(const BenchShard& whole, Section& s,
                                                const std::string& where);

}  // namespace fsh::bench
