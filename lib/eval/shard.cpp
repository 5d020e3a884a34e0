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

namespace fsh {

namespace {

const char* const format_name = "fsh-eval-shard";

std::string fixed6(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", v);
  return b;
}

// ---- a small strict JSON reader ------------------------------------------------------------
// Enough for the one object this format is: objects, arrays, strings, numbers, true, false,
// null (RFC 8259 syntax), nesting limited so that no input can exhaust the stack.
struct Json {
  enum Type { null, boolean, number, string, array, object } type = null;
  bool b = false;
  std::string text;  // a string's value, or a number as written
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;
};

class Parser {
 public:
  Parser(const std::string& t, const std::string& where) : t_(t), where_(where) {}

  Json document() {
    Json v = value(0);
    space();
    if (p_ != t_.size()) fail("unexpected text after the object");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(where_ + ": not valid JSON at byte " + std::to_string(p_) + ": " + what +
                       " (expected the output of fsh-eval --shard i/n --json)");
  }
  void space() {
    while (p_ < t_.size() &&
           (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
      ++p_;
  }
  bool eat(char c) {
    space();
    if (p_ < t_.size() && t_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(const char* w) {
    const std::string s(w);
    if (t_.compare(p_, s.size(), s) != 0) return false;
    p_ += s.size();
    return true;
  }

  Json value(int depth) {
    if (depth > 32) fail("nested too deeply");
    space();
    if (p_ >= t_.size()) fail("unexpected end");
    Json v;
    const char c = t_[p_];
    if (c == '{') {
      ++p_;
      v.type = Json::object;
      if (eat('}')) return v;
      do {
        space();
        if (p_ >= t_.size() || t_[p_] != '"') fail("expected a member name");
        std::string name = string();
        expect(':');
        v.members.emplace_back(std::move(name), value(depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++p_;
      v.type = Json::array;
      if (eat(']')) return v;
      do v.items.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::string;
      v.text = string();
    } else if (word("true")) {
      v.type = Json::boolean;
      v.b = true;
    } else if (word("false")) {
      v.type = Json::boolean;
    } else if (word("null")) {
      v.type = Json::null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Json::number;
      v.text = number();
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  std::string number() {
    const std::size_t start = p_;
    auto digits = [&] {
      const std::size_t s = p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      return p_ - s;
    };
    if (t_[p_] == '-') ++p_;
    if (p_ < t_.size() && t_[p_] == '0')
      ++p_;
    else if (digits() == 0)
      fail("malformed number");
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      if (digits() == 0) fail("malformed number");
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (digits() == 0) fail("malformed number");
    }
    return t_.substr(start, p_ - start);
  }

  std::string string() {
    ++p_;  // the opening quote
    std::string out;
    while (true) {
      if (p_ >= t_.size()) fail("unterminated string");
      const char c = t_[p_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) fail("unterminated string");
      const char e = t_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (p_ + 4 > t_.size()) fail("malformed \\u escape");
          unsigned u = 0;
          for (int k = 0; k < 4; ++k) {
            const char h = t_[p_++];
            u <<= 4;
            if (h >= '0' && h <= '9') u |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') u |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') u |= unsigned(h - 'A' + 10);
            else fail("malformed \\u escape");
          }
          // The names this format holds are ASCII; anything else is kept as UTF-8 of the code
          // unit (surrogate pairs are not joined: no field here needs them).
          if (u < 0x80) {
            out += char(u);
          } else if (u < 0x800) {
            out += char(0xC0 | (u >> 6));
            out += char(0x80 | (u & 0x3F));
          } else {
            out += char(0xE0 | (u >> 12));
            out += char(0x80 | ((u >> 6) & 0x3F));
            out += char(0x80 | (u & 0x3F));
          }
          break;
        }
        default: fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  const std::string& t_;
  std::string where_;
  std::size_t p_ = 0;
};

// Typed access to the members of the part's object, each failure one line naming the field.
class Fields {
 public:
  Fields(const Json& o, const std::string& where) : o_(o), where_(where) {}

  const Json* find(const std::string& name) const {
    const Json* found = nullptr;
    for (const auto& [k, v] : o_.members)
      if (k == name) {
        if (found) throw format_error(where_ + ": field \"" + name + "\" given twice");
        found = &v;
      }
    return found;
  }
  const Json& get(const std::string& name, Json::Type type, const char* kind) const {
    const Json* v = find(name);
    if (!v) throw format_error(where_ + ": missing field \"" + name + "\"");
    if (v->type != type)
      throw format_error(where_ + ": field \"" + name + "\" must be " + kind);
    return *v;
  }
  std::string str(const std::string& name) const {
    return get(name, Json::string, "a string").text;
  }
  int64_t integer(const std::string& name) const {
    return to_int(get(name, Json::number, "an integer").text, "field \"" + name + "\"");
  }
  int64_t to_int(const std::string& t, const std::string& what) const {
    // Plain decimal integers only (no fraction or exponent), within int64 with room to spare.
    const std::size_t digits = t.size() - (t[0] == '-' ? 1 : 0);
    if (t.find_first_of(".eE") != std::string::npos || digits > 18)
      throw format_error(where_ + ": " + what + " must be an integer, got " + t);
    return std::stoll(t);
  }

 private:
  const Json& o_;
  std::string where_;
};

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
  const Json doc = Parser(text, where).document();
  if (doc.type != Json::object)
    throw format_error(where + ": not an fsh-eval shard (a JSON object expected, as fsh-eval "
                               "--shard i/n --json writes)");
  const Fields f(doc, where);
  const Json* fmt = f.find("fsh_format");
  if (!fmt || fmt->type != Json::string || fmt->text != format_name)
    throw format_error(where + ": not an fsh-eval shard (fsh_format is not \"" + format_name +
                       "\": write shards with fsh-eval --shard i/n --json)");
  const int64_t version = f.integer("fsh_format_version");
  if (version < 1 || version > eval_shard_format_version)
    throw format_error(where + ": this file is " + format_name + " version " +
                       std::to_string(version) + "; this build reads up to " +
                       std::to_string(eval_shard_format_version));
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
