// Shards: dividing E episodes among n independent jobs (fsh-adapt, fsh-eval --shard i/n; a
// Slurm array task each), so that their partial results merge into exactly one run's.
//
// The rule (man 1 fsh-adapt, SHARDS): shard i of n holds the contiguous block of episodes
//   [floor(i*E/n), floor((i+1)*E/n))
// of the episodes file (indices within the file, from 0). The blocks are disjoint, cover every
// episode in order, and differ in size by at most one; with n > E some are empty, which is
// allowed (an array of fixed size works for any episodes file). Only i, n and E decide it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fsh {

struct Shard {
  int64_t index = 0;  // i, in [0, count)
  int64_t count = 1;  // n >= 1

  bool whole() const { return count == 1; }
};

// The episodes [begin, end) of a shard.
struct EpisodeRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool contains(const EpisodeRange& r) const { return begin <= r.begin && r.end <= end; }
};

// The largest n accepted: far beyond any cluster array, small enough that i*E never overflows.
constexpr int64_t max_shard_count = int64_t(1) << 24;

// Parses "i/n" (decimal, 0 <= i < n <= max_shard_count); usage_error "<what>: ..." otherwise,
// e.g. "--shard: expected i/n with 0 <= i < n (shard 3 of 3 does not exist), got '3/3'".
Shard parse_shard(const std::string& text, const std::string& what = "--shard");

// "i/n".
std::string to_string(const Shard& s);

// The episodes of shard s among `total` (the rule above). usage_error for a malformed shard
// or a negative total.
EpisodeRange shard_range(const Shard& s, int64_t total);

// "episodes 2-3 of 6", "episode 4 of 6", "no episodes (of 2)": for messages.
std::string describe_range(const EpisodeRange& r, int64_t total);

// For the merges: owner[i] is the part holding shard i of owner.size() (-1: none). format_error
// naming the missing shards (the first 8) and their episodes among `total`, with how many parts
// were given and the first one's name, when any shard is missing.
void check_no_shard_missing(const std::vector<int64_t>& owner, int64_t total, std::size_t given,
                            const std::string& first_name);

}  // namespace fsh
