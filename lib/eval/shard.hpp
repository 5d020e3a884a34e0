// Sharded evaluation (man 1 fsh-eval, SHARDS): what `fsh-eval --shard i/n --json` writes for
// its episodes, and the merge of such parts (`fsh-eval --merge`) into exactly the numbers of
// one unsharded run. A part is one JSON object (one line):
//   {"fsh_format":"fsh-eval-shard","fsh_format_version":1,"method":...,"bn":...,
//    "episodes":E_i,"n_way":N,"k_shot":K,"n_query":Q,"accuracy":...,"ci95":...,"sd":...,
//    "shard":"i/n","shard_begin":b,"total_count":E,"episodes_fingerprint":"...",
//    "source":"...","queries":N*Q,"correct":[c_b, ..., c_{b+E_i-1}]}
// The per-episode counts of right queries are what merges: integers, so a merge recomputes
// every episode's accuracy (eval/stats.hpp episode_accuracy) and then the mean, sd and CI over
// all episodes in episode order with the very operations of an unsharded run -- the same bits,
// not an approximation of them. The shard's own accuracy, ci95 and sd are there for people;
// readers ignore them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/predictions.hpp"
#include "util/shard.hpp"

namespace fsh {

constexpr int64_t eval_shard_format_version = 1;

struct EvalShard {
  std::string method, bn;  // as fsh-eval --json prints them
  int64_t n_way = 0, k_shot = 0, n_query = 0;
  Shard shard;                       // i of n; {0, 1} for a merged whole
  int64_t begin = 0;                 // the episodes file's index of the first episode scored
  int64_t total = 0;                 // episodes in the episodes file
  std::string episodes_fingerprint;  // methods/evaluate.hpp episodes_fingerprint()
  // What was scored, so that only parts scoring the same classifiers merge:
  // "model <fingerprint>" (fsh-eval --model, or an adapted shard: its model_fingerprint),
  // "adapted <fingerprint>" (a complete adapted file: adapted_fingerprint()).
  std::string source;
  int64_t queries = 0;           // per episode: N*Q
  std::vector<int64_t> correct;  // per episode scored, from `begin`

  EpisodeRange range() const { return {begin, begin + static_cast<int64_t>(correct.size())}; }
  // Per-episode accuracies (episode_accuracy of each count).
  std::vector<double> accuracy() const;
};

// The JSON object described above, on one line ending in '\n'.
std::string eval_shard_json(const EvalShard& s);

// Parses such an object; format_error "<where>: ..." (one line) for anything that is not one:
// not JSON, another fsh_format or a later version, a missing or mistyped field, a shard whose
// range (util/shard.hpp) does not match shard_begin and the counts, a count outside
// [0, queries]. Unknown fields are ignored.
EvalShard parse_eval_shard(const std::string& text, const std::string& where);
// Reads and parses a file ("-" = stdin); io_error when it cannot be read.
EvalShard read_eval_shard(const std::string& path);

// The whole evaluation the parts (named by `names`, in any order) are shards of: shard 0/1
// holding every episode's count. format_error, one line naming the file, for parts of
// different shard counts, episodes or sources (method, normalisation, classifiers), a shard
// given twice, or shards missing.
EvalShard merge_eval_shards(const std::vector<EvalShard>& parts,
                            const std::vector<std::string>& names);

// The rows of partial predictions TSVs (fsh-eval --shard i/n --predictions), named by `names`,
// as one unsharded run writes them: every episode of `whole` in order, each episode's rows in
// query order. format_error naming the file for an episode whose rows are incomplete, out of
// order or given twice (in one file or two), an episode outside whole's, counts of right
// queries that disagree with whole's (another run's predictions); and for episodes without
// rows (a TSV missing).
std::vector<PredictionRow> merge_prediction_shards(
    const std::vector<std::vector<PredictionRow>>& parts, const std::vector<std::string>& names,
    const EvalShard& whole);

}  // namespace fsh
