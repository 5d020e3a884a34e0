// Shards of an episodes file (see shard.hpp).
#include "util/shard.hpp"

#include <cctype>

#include "util/error.hpp"

namespace fsh {

namespace {
// A non-negative decimal integer without sign, spaces or leading '+'; -1 when not one (or
// beyond max_shard_count, so that no overflow can happen).
int64_t parse_count(const std::string& s) {
  if (s.empty() || s.size() > 9) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}
}  // namespace

Shard parse_shard(const std::string& text, const std::string& what) {
  const std::size_t slash = text.find('/');
  const std::string bad =
      what + ": expected i/n with 0 <= i < n (shard i of n, from 0), got '" + text + "'";
  if (slash == std::string::npos) throw usage_error(bad);
  const int64_t i = parse_count(text.substr(0, slash));
  const int64_t n = parse_count(text.substr(slash + 1));
  if (i < 0 || n < 0) throw usage_error(bad);
  if (n < 1) throw usage_error(what + ": n must be at least 1, got '" + text + "'");
  if (n > max_shard_count)
    throw usage_error(what + ": n must be at most " + std::to_string(max_shard_count) + ", got '" +
                      text + "'");
  if (i >= n)
    throw usage_error(what + ": i must be in [0, " + std::to_string(n - 1) +
                      "] (shards count from 0), got '" + text + "'");
  return {i, n};
}

std::string to_string(const Shard& s) {
  return std::to_string(s.index) + "/" + std::to_string(s.count);
}

EpisodeRange shard_range(const Shard& s, int64_t total) {
  if (s.count < 1 || s.count > max_shard_count || s.index < 0 || s.index >= s.count)
    throw usage_error("shard " + to_string(s) + " does not exist (expected 0 <= i < n <= " +
                      std::to_string(max_shard_count) + ")");
  if (total < 0) throw usage_error("shard of " + std::to_string(total) + " episodes");
  // i*E fits: i < 2^24 and an episodes file holds far fewer than 2^39 episodes; computed in
  // unsigned 128 bits anyway so that no input can overflow.
  auto at = [&](int64_t i) {
    return static_cast<int64_t>(static_cast<unsigned __int128>(i) * uint64_t(total) /
                                uint64_t(s.count));
  };
  return {at(s.index), at(s.index + 1)};
}

std::string describe_range(const EpisodeRange& r, int64_t total) {
  const std::string of = " of " + std::to_string(total);
  if (r.size() <= 0) return "no episodes (of " + std::to_string(total) + ")";
  if (r.size() == 1) return "episode " + std::to_string(r.begin) + of;
  return "episodes " + std::to_string(r.begin) + "-" + std::to_string(r.end - 1) + of;
}

void check_no_shard_missing(const std::vector<int64_t>& owner, int64_t total, std::size_t given,
                            const std::string& first_name) {
  const auto count = static_cast<int64_t>(owner.size());
  std::string missing;
  int64_t n_missing = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (owner[std::size_t(i)] >= 0) continue;
    const Shard sh{i, count};
    if (++n_missing <= 8)
      missing += std::string(missing.empty() ? "" : ", ") + to_string(sh) + " (" +
                 describe_range(shard_range(sh, total), total) + ")";
  }
  if (n_missing == 0) return;
  const std::string parts = " (" + std::to_string(given) + " of " + std::to_string(count) +
                            " shards given, first " + first_name + ")";
  if (n_missing == 1)
    throw format_error("shard " + missing + " missing: no part given holds it" + parts);
  throw format_error(std::to_string(n_missing) + " shards missing: " + missing +
                     (n_missing > 8 ? ", ..." : "") + ": no part given holds them" + parts);
}

}  // namespace fsh
