// Sharded comparison: a shard's JSON, its strict reader, the merge and its check against the
// merging run's models and episodes (see shard.hpp). score_shard is in bench.cpp, beside the
// unsharded scoring it mirrors.
#include "bench/shard.hpp"

#include <fstream>
#include <iterator>
#include <sstream>

#include "data/fingerprint.hpp"
#include "io/info.hpp"
#include "methods/evaluate.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace fsh::bench {

namespace {

const char* const format_name = "fsh-bench-shard";
const char* const expected = "the output of fsh-bench --shard i/n";

}  // namespace

std::size_t adapted_floats(const AdaptedSet& a) {
  return a.scale.size() + a.shift.size() + a.head_weight.size() + a.head_bias.size();
}

double adapted_bytes_per_episode(std::size_t floats, int64_t episodes) {
  return double(floats) * sizeof(float) / double(std::max<int64_t>(1, episodes));
}

EpisodeRange ShardConfig::range() const {
  return {begin, begin + static_cast<int64_t>(cells.empty() ? 0 : cells.front().correct.size())};
}

std::string bench_shard_json(const BenchShard& b) {
  std::ostringstream o;
  o << "{\"fsh_format\":\"" << format_name
    << "\",\"fsh_format_version\":" << bench_shard_format_version << ",\"shard\":\""
    << to_string(b.shard) << "\",\"configs\":[";
  for (std::size_t i = 0; i < b.configs.size(); ++i) {
    const ShardConfig& c = b.configs[i];
    o << (i ? "," : "") << "{\"key\":\"" << c.spec.key() << "\",\"n_way\":" << c.spec.n_way
      << ",\"k_shot\":" << c.spec.k_shot << ",\"n_query\":" << c.spec.n_query
      << ",\"total_count\":" << c.total << ",\"shard_begin\":" << c.begin
      << ",\"episodes_fingerprint\":" << json_string(c.episodes_fingerprint) << ",\"cells\":[";
    for (std::size_t k = 0; k < c.cells.size(); ++k) {
      const ShardCell& x = c.cells[k];
      o << (k ? "," : "") << "{\"label\":" << json_string(x.label)
        << ",\"method\":" << json_string(x.method) << ",\"model\":" << json_string(x.model)
        << ",\"model_fingerprint\":" << json_string(x.model_fingerprint)
        << ",\"queries\":" << x.queries << ",\"correct\":[";
      for (std::size_t e = 0; e < x.correct.size(); ++e) o << (e ? "," : "") << x.correct[e];
      o << "],\"adapted_floats\":" << x.adapted_floats
        << ",\"per_episode_convs\":" << (x.per_episode_convs ? "true" : "false")
        << ",\"conv_floats\":" << x.conv_floats << "}";
    }
    o << "]}";
  }
  o << "]}\n";
  return o.str();
}

BenchShard parse_bench_shard(const std::string& text, const std::string& where) {
  const Json doc =
      parse_json_format(text, where, format_name, bench_shard_format_version, "fsh-bench shard", "fsh-bench --shard i/n");
  const JsonFields f(doc, where);
  BenchShard b;
  try {
    b.shard = parse_shard(f.str("shard"), "field \"shard\"");
  } catch (const usage_error& e) {
    throw format_error(where + ": " + e.what());
  }
  auto bad = [&](const std::string& what) { throw format_error(where + ": " + what); };
  const Json& configs = f.get("configs", Json::array, "an array");
  if (configs.items.empty()) bad("field \"configs\" is empty");
  for (const Json& cj : configs.items) {
    if (cj.type != Json::object) bad("every entry of \"configs\" must be an object");
    const JsonFields cf(cj, where);
    ShardConfig c;
    const std::string key = cf.str("key");
    c.spec.n_way = cf.integer("n_way");
    c.spec.k_shot = cf.integer("k_shot");
    c.spec.n_query = cf.integer("n_query");
    if (c.spec.n_way < 2 || c.spec.k_shot < 1 || c.spec.n_query < 1 || c.spec.key() != key)
      bad("configuration \"" + key + "\": n_way " + std::to_string(c.spec.n_way) + ", k_shot " +
          std::to_string(c.spec.k_shot) + ", n_query " + std::to_string(c.spec.n_query) +
          " do not describe it");
    const std::string at = "configuration " + key + ": ";
    c.total = cf.integer("total_count");
    c.begin = cf.integer("shard_begin");
    c.episodes_fingerprint = cf.str("episodes_fingerprint");
    if (c.total < 0) bad(at + "total_count is " + std::to_string(c.total));
    if (!is_fingerprint_spelling(c.episodes_fingerprint))
      bad(at + "episodes_fingerprint '" + c.episodes_fingerprint +
          "' is not 16 lowercase hex digits");
    const EpisodeRange want = shard_range(b.shard, c.total);
    if (want.begin != c.begin)
      bad(at + "shard " + to_string(b.shard) + " of " + std::to_string(c.total) +
          " episodes begins at episode " + std::to_string(want.begin) + ", not shard_begin " +
          std::to_string(c.begin));
    const Json& cells = cf.get("cells", Json::array, "an array");
    if (cells.items.empty()) bad(at + "field \"cells\" is empty");
    for (const Json& xj : cells.items) {
      if (xj.type != Json::object) bad(at + "every entry of \"cells\" must be an object");
      const JsonFields xf(xj, where);
      ShardCell x;
      x.label = xf.str("label");
      x.method = xf.str("method");
      x.model = xf.str("model");
      x.model_fingerprint = xf.str("model_fingerprint");
      x.queries = xf.integer("queries");
      for (const Json& n : xf.get("correct", Json::array, "an array of integers").items) {
        if (n.type != Json::number) bad(at + "field \"correct\" must be an array of integers");
        x.correct.push_back(xf.to_int(n.text, "an entry of \"correct\""));
      }
      x.adapted_floats = xf.integer("adapted_floats");
      x.per_episode_convs = xf.boolean("per_episode_convs");
      x.conv_floats = xf.integer("conv_floats");
      const std::string cat = at + x.label + ": ";
      if (x.label.empty() || x.method.empty()) bad(at + "a cell without label or method");
      if (!is_fingerprint_spelling(x.model_fingerprint))
        bad(cat + "model_fingerprint '" + x.model_fingerprint + "' is not 16 lowercase hex digits");
      if (x.queries != c.spec.n_way * c.spec.n_query)
        bad(cat + "queries is " + std::to_string(x.queries) +
            "; expected n_way * n_query = " + std::to_string(c.spec.n_way * c.spec.n_query));
      if (static_cast<int64_t>(x.correct.size()) != want.size())
        bad(cat + "shard " + to_string(b.shard) + " of " + std::to_string(c.total) +
            " episodes holds " + describe_range(want, c.total) + ", but \"correct\" holds " +
            std::to_string(x.correct.size()) + " counts");
      for (std::size_t e = 0; e < x.correct.size(); ++e)
        if (x.correct[e] < 0 || x.correct[e] > x.queries)
          bad(cat + "episode " + std::to_string(c.begin + int64_t(e)) + " has " +
              std::to_string(x.correct[e]) + " right of " + std::to_string(x.queries) + " queries");
      if (x.adapted_floats < 0 || x.conv_floats < 0)
        bad(cat + "negative adapted_floats or conv_floats");
      for (const ShardCell& o : c.cells)
        if (o.label == x.label) bad(at + "two cells labelled '" + x.label + "'");
      c.cells.push_back(std::move(x));
    }
    for (const ShardConfig& o : b.configs)
      if (o.spec.key() == key && o.spec.n_query == c.spec.n_query)
        bad("configuration " + key + " given twice");
    b.configs.push_back(std::move(c));
  }
  return b;
}

BenchShard read_bench_shard(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw io_error(path + ": cannot open for reading");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw io_error(path + ": read error");
  if (text.empty()) throw format_error(path + ": empty (expected " + std::string(expected) + ")");
  return parse_bench_shard(text, path);
}

namespace {

// What must be equal in every part: the configurations, their episodes and the cells' models.
std::string layout(const BenchShard& b) {
  std::string out;
  for (const ShardConfig& c : b.configs) {
    out += c.spec.key() + "/" + std::to_string(c.spec.n_query) + " of " + std::to_string(c.total) +
           " (" + c.episodes_fingerprint + "):";
    for (const ShardCell& x : c.cells)
      out += " " + x.label + "=" + x.method + " " + x.model_fingerprint;
    out += "; ";
  }
  return out;
}

}  // namespace

BenchShard merge_bench_shards(const std::vector<BenchShard>& parts,
                              const std::vector<std::string>& names) {
  if (parts.empty()) throw usage_error("nothing to merge: no parts given");
  if (names.size() != parts.size()) throw shape_error("merge_bench_shards: a name for every part");
  const BenchShard& p0 = parts[0];
  const std::string l0 = layout(p0);
  std::vector<int64_t> owner(std::size_t(p0.shard.count), -1);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const BenchShard& p = parts[k];
    if (p.shard.count != p0.shard.count)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + ", but " + names[0] +
                         " is shard " + to_string(p0.shard) +
                         ": parts of different shard counts do not merge");
    if (layout(p) != l0) {
      // Say what differs: the episodes of a configuration, or the models.
      std::string what = "other configurations";
      if (p.configs.size() == p0.configs.size()) {
        for (std::size_t i = 0; i < p.configs.size(); ++i) {
          const ShardConfig &a = p.configs[i], &b = p0.configs[i];
          if (a.spec.key() != b.spec.key() || a.spec.n_query != b.spec.n_query) break;
          if (a.episodes_fingerprint != b.episodes_fingerprint || a.total != b.total) {
            what = "other " + a.spec.name() + " episodes (fingerprint " + a.episodes_fingerprint +
                   " of " + std::to_string(a.total) + " episodes vs " + b.episodes_fingerprint +
                   " of " + std::to_string(b.total) + ")";
            break;
          }
          what = "other models (on " + a.spec.name() + ")";
        }
      }
      throw format_error(names[k] + ": scored " + what + " than " + names[0] +
                         ": give every shard the same models and episodes");
    }
    int64_t& o = owner[std::size_t(p.shard.index)];
    if (o >= 0)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + " given twice (" +
                         names[std::size_t(o)] + " is shard " + to_string(p.shard) + " too)");
    o = static_cast<int64_t>(k);
  }
  // The first configuration's episodes name the missing shards' blocks.
  check_no_shard_missing(owner, p0.configs.front().total, parts.size(), names[0]);
  BenchShard whole = p0;
  whole.shard = Shard{0, 1};
  for (std::size_t i = 0; i < whole.configs.size(); ++i) {
    ShardConfig& c = whole.configs[i];
    c.begin = 0;
    for (std::size_t k = 0; k < c.cells.size(); ++k) {
      ShardCell& x = c.cells[k];
      x.correct.clear();
      x.adapted_floats = 0;
      x.per_episode_convs = false;
      for (int64_t o : owner) {
        const ShardCell& y = parts[std::size_t(o)].configs[i].cells[k];
        x.correct.insert(x.correct.end(), y.correct.begin(), y.correct.end());
        x.adapted_floats += y.adapted_floats;
        x.per_episode_convs = x.per_episode_convs || y.per_episode_convs;
        if (y.per_episode_convs) x.conv_floats = y.conv_floats;
      }
      if (static_cast<int64_t>(x.correct.size()) != c.total)
        throw format_error(names[0] + ": the parts hold " + std::to_string(x.correct.size()) + " " +
                           c.spec.name() + " episodes, not the " + std::to_string(c.total) +
                           " they are shards of");
    }
  }
  return whole;
}

std::vector<std::vector<GivenCell>> given_cells(const BenchShard& whole, Section& s,
                                                const std::string& where) {
  if (!whole.shard.whole())
    throw shape_error("given_cells: shard " + to_string(whole.shard) + " is not a merged whole");
  auto differ = [&](const std::string& what) {
    throw format_error(where + ": the shards scored " + what +
                       ": give the merge the models and episodes the shards were given");
  };
  if (whole.configs.size() != s.tests.size())
    differ(std::to_string(whole.configs.size()) + " configurations, this run has " +
           std::to_string(s.tests.size()));
  std::vector<std::vector<GivenCell>> out;
  for (std::size_t i = 0; i < s.tests.size(); ++i) {
    const TestSet& t = s.tests[i];
    const ShardConfig& c = whole.configs[i];
    if (c.spec.key() != t.spec.key() || c.spec.n_query != t.spec.n_query)
      differ(c.spec.name() + " (" + std::to_string(c.spec.n_query) + " queries) where this run's " +
             std::to_string(i + 1) + ". test set is " + t.spec.name() + " (" +
             std::to_string(t.spec.n_query) + ")");
    const std::string fp = episodes_fingerprint(t.episodes);
    if (c.episodes_fingerprint != fp || c.total != t.episodes.count())
      differ("other " + t.spec.name() + " episodes (fingerprint " + c.episodes_fingerprint +
             " of " + std::to_string(c.total) + " episodes; this run's: " + fp + " of " +
             std::to_string(t.episodes.count()) + ")");
    if (c.cells.size() != s.entrants.size())
      differ(std::to_string(c.cells.size()) + " methods on " + t.spec.name() + ", this run has " +
             std::to_string(s.entrants.size()));
    std::vector<GivenCell> row;
    for (std::size_t k = 0; k < s.entrants.size(); ++k) {
      const Entrant& e = s.entrants[k];
      const ShardCell& x = c.cells[k];
      const int m = e.model_for(t.spec.n_way);
      if (m < 0) throw usage_error(e.label + " has no model for " + t.spec.name());
      const EntrantModel& model = e.models[std::size_t(m)];
      const std::string mfp = model_fingerprint(*load_method(model.checkpoint, model.path));
      if (x.label != e.label || x.model_fingerprint != mfp)
        differ("'" + x.label + "' (" + x.model + ", fingerprint " + x.model_fingerprint + ") on " +
               t.spec.name() + " where this run has '" + e.label + "' (" + model.path +
               ", fingerprint " + mfp + ")");
      GivenCell g;
      for (int64_t n : x.correct) g.episode_accuracy.push_back(episode_accuracy(n, x.queries));
      const std::size_t floats =
          std::size_t(x.adapted_floats) +
          (x.per_episode_convs ? std::size_t(c.total) * std::size_t(x.conv_floats) : 0);
      g.adapted_bytes_per_episode = adapted_bytes_per_episode(floats, c.total);
      row.push_back(std::move(g));
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace fsh::bench
