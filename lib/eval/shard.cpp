// Sharded evaluation: the JSON of one shard, its strict reader, and the merges (see shard.hpp).
#include "eval/shard.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "data/fingerprint.hpp"
#include "eval/stats.hpp"
#include "io/info.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace fsh {

namespace {

const char* const format_name = "fsh-eval-shard";

std::string fixed6(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", v);
  return b;
}

}  // namespace

std::vector<double> EvalShard::accuracy() const {
  std::vector<double> a;
  a.reserve(correct.size());
  for (int64_t c : correct) a.push_back(episode_accuracy(c, queries));
  return a;
}

std::string eval_shard_json(const EvalShard& s) {
  const MeanCI m = mean_ci95(s.accuracy());
  std::ostringstream o;
  o << "{\"fsh_format\":\"" << format_name << "\",\"fsh_format_version\":"
    << eval_shard_format_version << ",\"method\":" << json_string(s.method)
    << ",\"bn\":" << json_string(s.bn) << ",\"episodes\":" << s.correct.size()
    << ",\"n_way\":" << s.n_way << ",\"k_shot\":" << s.k_shot << ",\"n_query\":" << s.n_query
    << ",\"accuracy\":" << fixed6(m.mean) << ",\"ci95\":" << fixed6(m.ci95)
    << ",\"sd\":" << fixed6(m.sd) << ",\"shard\":\"" << to_string(s.shard)
    << "\",\"shard_begin\":" << s.begin << ",\"total_count\":" << s.total
    << ",\"episodes_fingerprint\":" << json_string(s.episodes_fingerprint)
    << ",\"source\":" << json_string(s.source) << ",\"queries\":" << s.queries
    << ",\"correct\":[";
  for (std::size_t i = 0; i < s.correct.size(); ++i) o << (i ? "," : "") << s.correct[i];
  o << "]}\n";
  return o.str();
}

EvalShard parse_eval_shard(const std::string& text, const std::string& where) {
  const Json doc =
      parse_json_format(text, where, format_name, eval_shard_format_version, "fsh-eval shard", "fsh-eval --shard i/n --json");
  const JsonFields f(doc, where);
  EvalShard s;
  s.method = f.str("method");
  s.bn = f.str("bn");
  s.n_way = f.integer("n_way");
  s.k_shot = f.integer("k_shot");
  s.n_query = f.integer("n_query");
  try {
    s.shard = parse_shard(f.str("shard"), "field \"shard\"");
  } catch (const usage_error& e) {
    throw format_error(where + ": " + e.what());
  }
  s.begin = f.integer("shard_begin");
  s.total = f.integer("total_count");
  s.episodes_fingerprint = f.str("episodes_fingerprint");
  s.source = f.str("source");
  s.queries = f.integer("queries");
  for (const Json& c : f.get("correct", Json::array, "an array of integers").items) {
    if (c.type != Json::number)
      throw format_error(where + ": field \"correct\" must be an array of integers");
    s.correct.push_back(f.to_int(c.text, "an entry of \"correct\""));
  }
  const int64_t episodes = f.integer("episodes");

  auto bad = [&](const std::string& what) { throw format_error(where + ": " + what); };
  if (s.method.empty()) bad("field \"method\" is empty");
  if (s.bn != "support" && s.bn != "transductive")
    bad("field \"bn\" is '" + s.bn + "'; expected support or transductive");
  if (s.n_way < 2 || s.k_shot < 1 || s.n_query < 0)
    bad("n_way " + std::to_string(s.n_way) + ", k_shot " + std::to_string(s.k_shot) +
        ", n_query " + std::to_string(s.n_query) + " is no episode shape");
  if (s.queries != s.n_way * s.n_query)
    bad("queries is " + std::to_string(s.queries) + "; expected n_way * n_query = " +
        std::to_string(s.n_way * s.n_query));
  if (s.total < 0) bad("total_count is " + std::to_string(s.total));
  if (!is_fingerprint_spelling(s.episodes_fingerprint))
    bad("episodes_fingerprint '" + s.episodes_fingerprint + "' is not 16 lowercase hex digits");
  if (s.source.empty()) bad("field \"source\" is empty");
  if (episodes != static_cast<int64_t>(s.correct.size()))
    bad("episodes is " + std::to_string(episodes) + " but \"correct\" holds " +
        std::to_string(s.correct.size()) + " counts");
  const EpisodeRange want = shard_range(s.shard, s.total);
  if (want.begin != s.begin || want.size() != episodes)
    bad("shard " + to_string(s.shard) + " of " + std::to_string(s.total) + " episodes holds " +
        describe_range(want, s.total) + ", but the file holds " + std::to_string(episodes) +
        " from shard_begin " + std::to_string(s.begin));
  for (std::size_t i = 0; i < s.correct.size(); ++i)
    if (s.correct[i] < 0 || s.correct[i] > s.queries)
      bad("episode " + std::to_string(s.begin + int64_t(i)) + " has " +
          std::to_string(s.correct[i]) + " right of " + std::to_string(s.queries) +
          " queries");
  return s;
}

EvalShard read_eval_shard(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string where = path == "-" ? "<stdin>" : path;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw io_error(path + ": cannot open for reading");
    in = &file;
  }
  std::string text((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  if (in->bad()) throw io_error(where + ": read error");
  if (text.empty())
    throw format_error(where + ": empty (expected the output of fsh-eval --shard i/n --json)");
  return parse_eval_shard(text, where);
}

EvalShard merge_eval_shards(const std::vector<EvalShard>& parts,
                            const std::vector<std::string>& names) {
  if (parts.empty()) throw usage_error("nothing to merge: no parts given");
  if (names.size() != parts.size()) throw shape_error("merge_eval_shards: a name for every part");
  const EvalShard& p0 = parts[0];
  std::vector<int64_t> owner(std::size_t(p0.shard.count), -1);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const EvalShard& p = parts[k];
    if (p.shard.count != p0.shard.count)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + ", but " + names[0] +
                         " is shard " + to_string(p0.shard) +
                         ": parts of different shard counts do not merge");
    if (p.episodes_fingerprint != p0.episodes_fingerprint || p.total != p0.total ||
        p.n_way != p0.n_way || p.k_shot != p0.k_shot || p.n_query != p0.n_query)
      throw format_error(names[k] + ": scored other episodes than " + names[0] +
                         " (episodes fingerprint " + p.episodes_fingerprint + " of " +
                         std::to_string(p.total) + " episodes vs " + p0.episodes_fingerprint +
                         " of " + std::to_string(p0.total) + ")");
    if (p.source != p0.source || p.method != p0.method || p.bn != p0.bn)
      throw format_error(names[k] + ": scored other classifiers than " + names[0] + " (" +
                         p.method + ", " + p.bn + ", " + p.source + " vs " + p0.method + ", " +
                         p0.bn + ", " + p0.source +
                         "): give every shard the same --model or --adapted");
    int64_t& o = owner[std::size_t(p.shard.index)];
    if (o >= 0)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + " given twice (" +
                         names[std::size_t(o)] + " is shard " + to_string(p.shard) + " too)");
    o = static_cast<int64_t>(k);
  }
  check_no_shard_missing(owner, p0.total, parts.size(), names[0]);
  EvalShard whole = p0;
  whole.shard = Shard{0, 1};
  whole.begin = 0;
  whole.correct.clear();
  for (int64_t o : owner) {
    const EvalShard& p = parts[std::size_t(o)];
    whole.correct.insert(whole.correct.end(), p.correct.begin(), p.correct.end());
  }
  if (static_cast<int64_t>(whole.correct.size()) != whole.total)
    throw format_error(names[0] + ": the parts hold " + std::to_string(whole.correct.size()) +
                       " episodes, not the " + std::to_string(whole.total) +
                       " they are shards of");
  return whole;
}

std::vector<PredictionRow> merge_prediction_shards(
    const std::vector<std::vector<PredictionRow>>& parts, const std::vector<std::string>& names,
    const EvalShard& whole) {
  if (names.size() != parts.size())
    throw shape_error("merge_prediction_shards: a name for every part");
  const int64_t E = whole.total, Q = whole.queries;
  if (Q == 0) {  // episodes without queries have no rows
    for (std::size_t k = 0; k < parts.size(); ++k)
      if (!parts[k].empty())
        throw format_error(names[k] + ": predictions for episodes without queries");
    return {};
  }
  // For each episode: which part holds its rows, and where they start.
  std::vector<int64_t> owner(std::size_t(E), -1), start(std::size_t(E), 0);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::vector<PredictionRow>& rows = parts[k];
    std::size_t r = 0;
    while (r < rows.size()) {
      const int64_t e = rows[r].episode;
      const std::string at = names[k] + ": episode " + std::to_string(e) + ": ";
      if (e < 0 || e >= E)
        throw format_error(at + "not one of the " + std::to_string(E) +
                           " episodes the evaluation shards scored");
      if (owner[std::size_t(e)] >= 0)
        throw format_error(at + "predictions given twice" +
                           (owner[std::size_t(e)] == int64_t(k)
                                ? std::string(" in this file")
                                : " (also in " + names[std::size_t(owner[std::size_t(e)])] +
                                      ")"));
      int64_t right = 0;
      for (int64_t q = 0; q < Q; ++q, ++r) {
        if (r >= rows.size() || rows[r].episode != e || rows[r].query != q)
          throw format_error(at + "expected the rows of queries 0 to " + std::to_string(Q - 1) +
                             " in order; query " + std::to_string(q) + " is not next");
        right += rows[r].correct;
      }
      if (right != whole.correct[std::size_t(e)])
        throw format_error(at + std::to_string(right) + " queries right in the predictions but " +
                           std::to_string(whole.correct[std::size_t(e)]) +
                           " in the evaluation shards (predictions of another run?)");
      owner[std::size_t(e)] = static_cast<int64_t>(k);
      start[std::size_t(e)] = static_cast<int64_t>(r) - Q;
    }
  }
  for (int64_t e = 0; e < E; ++e)
    if (owner[std::size_t(e)] < 0) {
      int64_t last = e;
      while (last + 1 < E && owner[std::size_t(last + 1)] < 0) ++last;
      throw format_error("no predictions for " + describe_range({e, last + 1}, E) +
                         ": a predictions TSV of the shards is missing (" +
                         std::to_string(parts.size()) + " given)");
    }
  std::vector<PredictionRow> out;
  out.reserve(std::size_t(E * Q));
  for (int64_t e = 0; e < E; ++e) {
    const auto& rows = parts[std::size_t(owner[std::size_t(e)])];
    out.insert(out.end(), rows.begin() + start[std::size_t(e)],
               rows.begin() + start[std::size_t(e)] + Q);
  }
  return out;
}

}  // namespace fsh
