// Shards (util/shard.hpp), the merge of partial adapted sets (methods/adapted.hpp) and of
// partial evaluations (eval/shard.hpp), in process. The rule is checked against its defining
// properties and hand-computed blocks; merges against the unsharded result (the same add()
// sequence, the same mean_ci95 over the same vector) and against every refusal.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "eval/shard.hpp"
#include "eval/stats.hpp"
#include "finetune_method.hpp"
#include "methods/adapted.hpp"
#include "methods/evaluate.hpp"
#include "nn/conv4.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/shard.hpp"

using namespace fsh;

namespace {

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  // memcmp must not see the null data() of an empty vector (UBSan), even with a length of 0.
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool throws_with(const std::function<void()>& f, const std::string& text) {
  try {
    f();
  } catch (const error& e) {
    if (std::string(e.what()).find(text) != std::string::npos) return true;
    MESSAGE("message was: " << e.what());
    return false;
  }
  MESSAGE("did not throw");
  return false;
}

}  // namespace

TEST_CASE("shard_range: disjoint contiguous blocks covering every episode, balanced") {
  for (int64_t E = 0; E <= 40; ++E)
    for (int64_t n = 1; n <= 45; ++n) {
      int64_t next = 0;
      for (int64_t i = 0; i < n; ++i) {
        const EpisodeRange r = shard_range({i, n}, E);
        CHECK(r.begin == next);  // contiguous, in order, disjoint
        // Balanced: every block holds floor(E/n) or ceil(E/n) episodes.
        CHECK(r.size() >= E / n);
        CHECK(r.size() <= (E + n - 1) / n);
        next = r.end;
      }
      CHECK(next == E);  // covers all
    }
  // By hand: 7 episodes in 3 shards; 2 in 3 (one empty); 10 in 4.
  CHECK(shard_range({0, 3}, 7).end == 2);
  CHECK(shard_range({1, 3}, 7).begin == 2);
  CHECK(shard_range({1, 3}, 7).end == 4);
  CHECK(shard_range({2, 3}, 7).end == 7);
  CHECK(shard_range({0, 3}, 2).size() == 0);
  CHECK(shard_range({1, 3}, 2).begin == 0);
  CHECK(shard_range({2, 3}, 2).begin == 1);
  CHECK(shard_range({2, 4}, 10).begin == 5);
  CHECK(shard_range({3, 4}, 10).begin == 7);
  // No overflow at the extremes: i*E would exceed 2^63 here.
  const int64_t n = max_shard_count, E = int64_t(1) << 40;
  CHECK(shard_range({n - 1, n}, E).begin == (n - 1) * (E / n));
  CHECK(shard_range({n - 1, n}, E).end == E);
  CHECK(shard_range({0, 1}, E).size() == E);
  CHECK(describe_range({2, 4}, 7) == "episodes 2-3 of 7");
  CHECK(describe_range({4, 5}, 7) == "episode 4 of 7");
  CHECK(describe_range({0, 0}, 2) == "no episodes (of 2)");
}

TEST_CASE("parse_shard: i/n with 0 <= i < n, usage_error otherwise") {
  CHECK(parse_shard("0/1").index == 0);
  CHECK(parse_shard("2/3").index == 2);
  CHECK(parse_shard("2/3").count == 3);
  CHECK(to_string(parse_shard("15/16")) == "15/16");
  for (const char* bad : {"3/3", "1/0", "0/0", "-1/2", "1", "", "/", "a/b", "1/2/3", " 1/2",
                          "1/2 ", "+1/2", "1/99999999999", "0/16777217"})
    CHECK_THROWS_AS(parse_shard(bad), usage_error);
  CHECK(throws_with([] { parse_shard("3/3"); }, "--shard: i must be in [0, 2]"));
  CHECK(throws_with([] { parse_shard("x", "field"); }, "field: expected i/n"));
}

namespace {

// A fine-tuning method's classifiers for `count` episodes, alternately with their own
// convolutions and (refolded from the base) without: the mixed case of the format.
struct Fixture {
  std::unique_ptr<Method> m;
  std::vector<AdaptedClassifier> cls;
};

Fixture make_classifiers(int64_t count) {
  fsh::test::register_finetune_method();
  ModelConfig cfg;
  cfg.method = "finetune";
  cfg.backbone.hidden = 4;
  cfg.backbone.depth = 2;
  cfg.backbone.height = cfg.backbone.width = 8;
  cfg.settings = {{"steps", int64_t(1)}, {"lr", 0.1}};
  Fixture f;
  f.m = make_method(cfg);
  Rng rng(5);
  f.m->init(rng);
  const std::vector<float> base = f.m->base_convolutions();
  for (int64_t e = 0; e < count; ++e) {
    EpisodeTensors t;
    t.n_way = 2;
    t.k_shot = 1;
    t.n_query = 1;
    t.channels = 1;
    t.height = t.width = 8;
    Rng r(100 + uint64_t(e));
    t.support.resize(2 * 64);
    t.query.resize(2 * 64);
    for (float& v : t.support) v = float(r.uniform());
    for (float& v : t.query) v = float(r.uniform());
    t.support_labels = {0, 1};
    t.query_labels = {0, 1};
    AdaptedClassifier a = f.m->adapt(t);
    REQUIRE(!a.convs.empty());
    if (e % 3 == 0) {  // no convolutions of its own: the base, folded with its scale and shift
      a.convs.clear();
      fold_convs(cfg.backbone, base.data(), a.fold_scale.data(), a.fold_shift.data(),
                 a.primary.data());
    }
    f.cls.push_back(std::move(a));
  }
  return f;
}

AdaptedSet empty_set(const Method& m) {
  AdaptedSet s;
  s.model = m.config();
  s.n_way = 2;
  s.k_shot = 1;
  s.n_query = 1;
  s.episodes_seed = 7;
  s.dataset_fingerprint = "0123456789abcdef";
  s.base = m.base_convolutions();
  return s;
}

std::vector<AdaptedSet> shards_of(const Fixture& f, int64_t n) {
  std::vector<AdaptedSet> parts;
  const int64_t E = static_cast<int64_t>(f.cls.size());
  for (int64_t i = 0; i < n; ++i) {
    AdaptedSet p = empty_set(*f.m);
    const EpisodeRange r = shard_range({i, n}, E);
    for (int64_t e = r.begin; e < r.end; ++e) p.add(f.cls[std::size_t(e)]);
    p.part = AdaptedShard{{i, n}, r.begin, E, "00000000000000aa", "00000000000000bb"};
    parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace

TEST_CASE("merge_adapted: the parts give the unsharded set's arrays bit for bit") {
  for (int64_t E : {1, 2, 5, 7}) {
    const Fixture f = make_classifiers(E);
    AdaptedSet full = empty_set(*f.m);
    for (const auto& a : f.cls) full.add(a);
    for (int64_t n : {1, 2, 3, 4, 8}) {
      CAPTURE(E);
      CAPTURE(n);
      std::vector<AdaptedSet> parts = shards_of(f, n);
      std::vector<std::string> names;
      for (int64_t i = 0; i < n; ++i) names.push_back("p" + std::to_string(i));
      // Any order.
      std::reverse(parts.begin(), parts.end());
      std::reverse(names.begin(), names.end());
      const AdaptedSet m = merge_adapted(parts, names);
      CHECK(!m.part);
      CHECK(m.count() == E);
      CHECK(same_bits(m.base, full.base));
      CHECK(same_bits(m.scale, full.scale));
      CHECK(same_bits(m.shift, full.shift));
      CHECK(same_bits(m.head_weight, full.head_weight));
      CHECK(same_bits(m.head_bias, full.head_bias));
      CHECK(same_bits(m.convs, full.convs));
      CHECK(m.convs.empty() == (E == 1));  // episode 0 alone has no convolutions of its own
      CHECK(adapted_fingerprint(m) == adapted_fingerprint(full));
    }
  }
}

TEST_CASE("merge_adapted refuses parts that are not the shards of one run") {
  const Fixture f = make_classifiers(7);
  auto parts = shards_of(f, 3);
  const std::vector<std::string> names = {"a", "b", "c"};
  CHECK(throws_with([&] { merge_adapted({parts[0], parts[2]}, {"a", "c"}); },
                    "shard 1/3 (episodes 2-3 of 7) missing"));
  CHECK(throws_with([&] { merge_adapted({parts[1]}, {"b"}); }, "2 shards missing"));
  CHECK(throws_with([&] { merge_adapted({parts[0], parts[1], parts[1], parts[2]},
                                        {"a", "b", "b2", "c"}); },
                    "b2: shard 1/3 given twice (b is shard 1/3 too)"));
  auto other_n = shards_of(f, 2);
  CHECK(throws_with([&] { merge_adapted({parts[0], other_n[1]}, {"a", "x"}); },
                    "x: shard 1/2, but a is shard 0/3"));
  auto other_model = parts;
  other_model[1].part->model_fingerprint = "00000000000000cc";
  CHECK(throws_with([&] { merge_adapted(other_model, names); },
                    "b: adapted from another model than a"));
  auto other_base = parts;
  other_base[2].base[0] += 1;
  CHECK(throws_with([&] { merge_adapted(other_base, names); }, "c: adapted from another model"));
  auto other_eps = parts;
  other_eps[1].part->episodes_fingerprint = "00000000000000dd";
  CHECK(throws_with([&] { merge_adapted(other_eps, names); },
                    "b: adapted to other episodes than a"));
  auto other_seed = parts;
  other_seed[2].episodes_seed = 8;
  CHECK(throws_with([&] { merge_adapted(other_seed, names); }, "c: adapted to other episodes"));
  auto whole = parts;
  whole[1].part.reset();
  CHECK(throws_with([&] { merge_adapted(whole, names); }, "b: not a shard"));
  auto named = parts;
  named[0].class_names = {"x", "y", "x", "y"};
  CHECK(throws_with([&] { merge_adapted(named, names); }, "b: records no class names, but a does"));
}

TEST_CASE("a partial set is written and read back with its shard; inconsistent ones refused") {
  const Fixture f = make_classifiers(7);
  auto parts = shards_of(f, 3);
  fsh::test::TempDir dir;
  write_adapted(parts[1], dir.file("p.h5"), {});
  const AdaptedSet back = read_adapted(dir.file("p.h5"));
  REQUIRE(back.part);
  CHECK(back.part->shard.index == 1);
  CHECK(back.part->shard.count == 3);
  CHECK(back.part->begin == 2);
  CHECK(back.part->total == 7);
  CHECK(back.part->episodes_fingerprint == "00000000000000aa");
  CHECK(back.part->model_fingerprint == "00000000000000bb");
  CHECK(back.range().begin == 2);
  CHECK(back.range().end == 4);
  CHECK(same_bits(back.head_weight, parts[1].head_weight));
  // A writer refuses a shard whose count is not its block's.
  auto wrong = parts[1];
  wrong.part->begin = 3;
  CHECK_THROWS_AS(write_adapted(wrong, dir.file("w.h5"), {}), shape_error);
  wrong = parts[1];
  wrong.part->episodes_fingerprint = "not hex";
  CHECK_THROWS_AS(write_adapted(wrong, dir.file("w.h5"), {}), shape_error);
}

namespace {

EvalShard eval_part(int64_t i, int64_t n, const std::vector<int64_t>& all) {
  EvalShard s;
  s.method = "protonet";
  s.bn = "support";
  s.n_way = 5;
  s.k_shot = 1;
  s.n_query = 3;
  s.queries = 15;
  s.shard = {i, n};
  s.total = static_cast<int64_t>(all.size());
  const EpisodeRange r = shard_range(s.shard, s.total);
  s.begin = r.begin;
  s.correct.assign(all.begin() + r.begin, all.begin() + r.end);
  s.episodes_fingerprint = "0123456789abcdef";
  s.source = "model fedcba9876543210";
  return s;
}

}  // namespace

TEST_CASE("evaluation shards: JSON round trip, exact merge, refusals") {
  const std::vector<int64_t> counts = {15, 7, 11, 0, 14, 13, 9};
  std::vector<double> acc;
  for (int64_t c : counts) acc.push_back(double(c) / 15.0);  // what evaluate_adapted computes
  const MeanCI want = mean_ci95(acc);
  for (int64_t n : {1, 2, 3, 9}) {
    std::vector<EvalShard> parts;
    std::vector<std::string> names;
    for (int64_t i = n - 1; i >= 0; --i) {
      const EvalShard s = eval_part(i, n, counts);
      const std::string json = eval_shard_json(s);
      CHECK(json.back() == '\n');
      CHECK(json.find('\n') == json.size() - 1);  // one line
      parts.push_back(parse_eval_shard(json, "s" + std::to_string(i)));
      names.push_back("s" + std::to_string(i));
      CHECK(parts.back().correct == s.correct);
    }
    const EvalShard whole = merge_eval_shards(parts, names);
    CHECK(whole.correct == counts);
    const MeanCI got = mean_ci95(whole.accuracy());
    CHECK(std::memcmp(&got.mean, &want.mean, sizeof(double)) == 0);
    CHECK(std::memcmp(&got.sd, &want.sd, sizeof(double)) == 0);
    CHECK(std::memcmp(&got.ci95, &want.ci95, sizeof(double)) == 0);
  }
  const auto s0 = eval_part(0, 3, counts), s1 = eval_part(1, 3, counts),
             s2 = eval_part(2, 3, counts);
  CHECK(throws_with([&] { merge_eval_shards({s0, s2}, {"a", "c"}); },
                    "shard 1/3 (episodes 2-3 of 7) missing"));
  CHECK(throws_with([&] { merge_eval_shards({s0, s1, s1, s2}, {"a", "b", "b2", "c"}); },
                    "b2: shard 1/3 given twice"));
  auto other = s1;
  other.source = "adapted 0000000000000000";
  CHECK(throws_with([&] { merge_eval_shards({s0, other, s2}, {"a", "b", "c"}); },
                    "b: scored other classifiers than a"));
  other = s1;
  other.bn = "transductive";
  CHECK(throws_with([&] { merge_eval_shards({s0, other, s2}, {"a", "b", "c"}); },
                    "b: scored other classifiers"));
  other = s2;
  other.episodes_fingerprint = "1111111111111111";
  CHECK(throws_with([&] { merge_eval_shards({s0, s1, other}, {"a", "b", "c"}); },
                    "c: scored other episodes than a"));
  CHECK(throws_with([&] { merge_eval_shards({s0, eval_part(1, 2, counts)}, {"a", "x"}); },
                    "x: shard 1/2, but a is shard 0/3"));

  // The reader: one line naming the file for anything else.
  const std::string good = eval_shard_json(s1);
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    const std::size_t p = t.find(from);
    REQUIRE(p != std::string::npos);
    return t.replace(p, from.size(), to);
  };
  CHECK(throws_with([&] { parse_eval_shard("", "f"); }, "f: not valid JSON"));
  CHECK(throws_with([&] { parse_eval_shard(good.substr(0, 30), "f"); }, "f: not valid JSON"));
  CHECK(throws_with([&] { parse_eval_shard(good + "x", "f"); }, "unexpected text"));
  CHECK(throws_with([&] { parse_eval_shard("[1]", "f"); }, "f: not an fsh-eval shard"));
  CHECK(throws_with([&] { parse_eval_shard(std::string(100, '['), "f"); }, "nested too deeply"));
  CHECK(throws_with([&] { parse_eval_shard(edit("fsh-eval-shard", "fsh-eval"), "f"); },
                    "f: not an fsh-eval shard"));
  CHECK(throws_with(
      [&] { parse_eval_shard(edit("\"fsh_format_version\":1", "\"fsh_format_version\":2"), "f"); },
      "f: this file is fsh-eval-shard version 2; this build reads up to 1"));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"queries\":15", "\"queries\":16"), "f"); },
                    "queries is 16"));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"shard_begin\":2", "\"shard_begin\":3"), "f"); },
                    "f: shard 1/3 of 7 episodes holds episodes 2-3"));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"shard\":\"1/3\"", "\"shard\":\"3/3\""), "f"); },
                    "f: field \"shard\": i must be"));
  const std::string counts_field = "\"correct\":[11,0]";
  CHECK(throws_with([&] { parse_eval_shard(edit(counts_field, "\"correct\":[11,16]"), "f"); },
                    "episode 3 has 16 right of 15"));
  CHECK(throws_with([&] { parse_eval_shard(edit(counts_field, "\"correct\":[11,0.5]"), "f"); },
                    "must be an integer"));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"correct\":[11,0]", "\"correct\":[11]"), "f"); },
                    "episodes is 2 but \"correct\" holds 1"));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"source\"", "\"sources\""), "f"); },
                    "f: missing field \"source\""));
  CHECK(throws_with([&] { parse_eval_shard(edit("\"n_way\":5", "\"n_way\":\"5\""), "f"); },
                    "field \"n_way\" must be an integer"));
  CHECK(throws_with([&] { parse_eval_shard(edit("{", "{\"bn\":\"x\","), "f"); },
                    "field \"bn\" given twice"));
  // Unknown fields are ignored; whitespace is JSON's.
  CHECK(parse_eval_shard(edit("{", "{ \"note\" : [true, null, {\"a\": -1.5e3}] ,\n"), "f")
            .correct == s1.correct);
}

TEST_CASE("merge_prediction_shards: rows in episode order, checked against the counts") {
  // 3 episodes of 2 queries; episode e's query q right when (e + q) is even.
  EvalShard whole;
  whole.total = 3;
  whole.queries = 2;
  whole.correct = {1, 1, 1};
  auto rows_of = [](int64_t e) {
    std::vector<PredictionRow> r;
    for (int64_t q = 0; q < 2; ++q)
      r.push_back({e, q, 10 * e + q, int32_t(q), int32_t((e + q) % 2 ? 1 - q : q),
                   (e + q) % 2 == 0});
    return r;
  };
  std::vector<PredictionRow> a = rows_of(0), b = rows_of(1), c = rows_of(2);
  b.insert(b.end(), c.begin(), c.end());
  const auto merged = merge_prediction_shards({b, a}, {"b", "a"}, whole);
  REQUIRE(merged.size() == 6);
  for (int64_t i = 0; i < 6; ++i) {
    CHECK(merged[std::size_t(i)].episode == i / 2);
    CHECK(merged[std::size_t(i)].query == i % 2);
    CHECK(merged[std::size_t(i)].image == 10 * (i / 2) + i % 2);
  }
  CHECK(throws_with([&] { merge_prediction_shards({a}, {"a"}, whole); },
                    "no predictions for episodes 1-2 of 3"));
  CHECK(throws_with([&] { merge_prediction_shards({a, b, a}, {"a", "b", "a2"}, whole); },
                    "a2: episode 0: predictions given twice (also in a)"));
  std::vector<PredictionRow> half(a.begin(), a.begin() + 1);
  CHECK(throws_with([&] { merge_prediction_shards({half, b}, {"h", "b"}, whole); },
                    "h: episode 0: expected the rows of queries 0 to 1"));
  auto wrong = whole;
  wrong.correct = {2, 1, 1};
  CHECK(throws_with([&] { merge_prediction_shards({a, b}, {"a", "b"}, wrong); },
                    "a: episode 0: 1 queries right in the predictions but 2"));
  std::vector<PredictionRow> far = rows_of(5);
  CHECK(throws_with([&] { merge_prediction_shards({a, b, far}, {"a", "b", "f"}, whole); },
                    "f: episode 5: not one of the 3 episodes"));
}
