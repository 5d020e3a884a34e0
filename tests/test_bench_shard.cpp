// Tests of lib/bench/shard: fsh-bench --shard i/n and --merge. For n = 1, 2, 3 and 13 (more
// shards than the smaller configuration has episodes: some shards empty), the parts, written
// as JSON and read back, merged in reverse order and handed to run_section give every
// accuracy, interval, per-episode accuracy, paired difference and adapted size bit for bit as
// the unsharded run_section (compared with memcmp, not a tolerance); for ProtoNet and the
// "finetune" fixture, whose episodes carry their own convolutions (the per_episode_convs
// path). The parts' counts are checked against an independent scoring (Method::adapt and
// classify per episode, trainer.hpp's evaluate_accuracy), so the merge cannot pass by
// recomputing what it was given. Every refusal is one line naming the file.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "bench/bench.hpp"
#include "bench/shard.hpp"
#include "finetune_method.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "small_models.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;
using namespace fsh::bench;
using fsh::test::small_split;
using fsh::test::train_small;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

bool same_bits(const MeanCI& a, const MeanCI& b) {
  return same_bits(a.mean, b.mean) && same_bits(a.sd, b.sd) && same_bits(a.ci95, b.ci95) &&
         a.n == b.n;
}

// What the merge must reproduce of an unsharded result.
void check_same(const SectionResult& got, const SectionResult& want) {
  REQUIRE(got.configs.size() == want.configs.size());
  CHECK(got.reference == want.reference);
  for (std::size_t c = 0; c < want.configs.size(); ++c) {
    const ConfigResult &g = got.configs[c], &w = want.configs[c];
    CHECK(g.episodes == w.episodes);
    REQUIRE(g.cells.size() == w.cells.size());
    for (std::size_t k = 0; k < w.cells.size(); ++k) {
      INFO("configuration " << w.spec.key() << ", " << w.cells[k].label);
      CHECK(g.cells[k].label == w.cells[k].label);
      CHECK(g.cells[k].model == w.cells[k].model);
      CHECK(same_bits(g.cells[k].episode_accuracy, w.cells[k].episode_accuracy));
      CHECK(same_bits(g.cells[k].accuracy, w.cells[k].accuracy));
      CHECK(g.cells[k].has_delta == w.cells[k].has_delta);
      CHECK(same_bits(g.cells[k].delta, w.cells[k].delta));
      CHECK(same_bits(g.cells[k].adapted_bytes_per_episode, w.cells[k].adapted_bytes_per_episode));
    }
  }
}

}  // namespace

TEST_CASE("fsh-bench shards merge into exactly the unsharded comparison") {
  fsh::test::register_finetune_method();
  fsh::test::TempDir dir;
  Dataset d = small_split();
  const std::string proto = train_small("protonet", d, dir, 1);
  const std::string fine = train_small("finetune", d, dir, 2);

  Section s;
  s.name = "small";
  s.dataset = d;
  const Provenance prov = make_provenance("test", "", 0, {});
  // 11 episodes of 5-way 1-shot, 4 of 3-way 2-shot: 13 shards leave some of each empty.
  sample_tests(s, parse_configs("5w1s", 4), PartChoice::test, 11, 7, false, "synth", "synth", "",
               prov);
  sample_tests(s, parse_configs("3w2s", 3), PartChoice::test, 4, 8, false, "synth", "synth", "",
               prov);
  s.entrants.push_back(load_entrant(fine));
  s.entrants.push_back(load_entrant(proto));
  BenchOptions o;
  o.timing_episodes = 0;  // nothing measured: the figures compared are the computed ones
  o.train_seconds = 0;
  const SectionResult want = run_section(s, o);
  REQUIRE(want.reference == "protonet");
  // The paths exercised: one method with per-episode convolutions, one without.
  CHECK(want.configs[0].cells[0].adapted_bytes_per_episode >
        want.configs[0].cells[1].adapted_bytes_per_episode);

  // The counts behind the accuracies, scored independently (no adapted set, no shard code).
  std::vector<std::vector<std::vector<double>>> independent;  // [config][entrant][episode]
  for (const TestSet& t : s.tests) {
    independent.emplace_back();
    for (const Entrant& e : s.entrants) {
      auto m = load_method(e.models[0].checkpoint, e.models[0].path);
      independent.back().push_back(evaluate_accuracy(*m, t.episodes, &*s.dataset));
    }
  }

  for (int64_t n : {1, 2, 3, 13}) {
    INFO(n << " shards");
    std::vector<BenchShard> parts;
    std::vector<std::string> names;
    for (int64_t i = n - 1; i >= 0; --i) {  // in reverse: the merge must not rely on order
      const BenchShard b = score_shard(s, o, Shard{i, n});
      const std::string name = "shard-" + std::to_string(i) + "-of-" + std::to_string(n);
      parts.push_back(parse_bench_shard(bench_shard_json(b), name));
      names.push_back(name);
      // Each part's counts against the independent scoring, episode by episode.
      for (std::size_t c = 0; c < s.tests.size(); ++c) {
        const ShardConfig& sc = parts.back().configs[c];
        const EpisodeRange r = shard_range(Shard{i, n}, s.tests[c].episodes.count());
        CHECK(sc.begin == r.begin);
        for (std::size_t k = 0; k < s.entrants.size(); ++k) {
          REQUIRE(int64_t(sc.cells[k].correct.size()) == r.size());
          for (int64_t e = 0; e < r.size(); ++e)
            CHECK(double(sc.cells[k].correct[std::size_t(e)]) / double(sc.cells[k].queries) ==
                  independent[c][k][std::size_t(r.begin + e)]);
        }
      }
    }
    const BenchShard whole = merge_bench_shards(parts, names);
    const auto given = given_cells(whole, s, names.front());
    check_same(run_section(s, o, &given), want);
  }
}

TEST_CASE("fsh-bench shard refusals") {
  fsh::test::register_finetune_method();
  fsh::test::TempDir dir;
  Dataset d = small_split();
  const std::string proto = train_small("protonet", d, dir, 1);
  const std::string fine = train_small("finetune", d, dir, 2);
  Section s;
  s.name = "small";
  s.dataset = d;
  const Provenance prov = make_provenance("test", "", 0, {});
  sample_tests(s, parse_configs("5w1s", 4), PartChoice::test, 5, 7, false, "synth", "synth", "",
               prov);
  s.entrants.push_back(load_entrant(proto));
  BenchOptions o;
  o.timing_episodes = 0;
  o.train_seconds = 0;
  const BenchShard p0 = score_shard(s, o, Shard{0, 2}), p1 = score_shard(s, o, Shard{1, 2});
  const std::string j1 = bench_shard_json(p1);

  auto parse_fails = [](const std::string& text, const std::string& part) {
    CHECK_THROWS_WITH_AS(parse_bench_shard(text, "p.json"), doctest::Contains(part.c_str()),
                         format_error);
    try {
      parse_bench_shard(text, "p.json");
    } catch (const format_error& e) {
      const std::string m = e.what();
      CHECK(m.rfind("p.json: ", 0) == 0);
      CHECK(m.find('\n') == std::string::npos);
    }
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = j1;
    const std::size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  parse_fails(j1.substr(0, 30), "not valid JSON");
  parse_fails("[1]", "not an fsh-bench shard");
  parse_fails(replaced("fsh-bench-shard", "fsh-eval-shard"), "not an fsh-bench shard");
  parse_fails(replaced("\"fsh_format_version\":1", "\"fsh_format_version\":2"),
              "this file is fsh-bench-shard version 2; this build reads up to 1");
  parse_fails(replaced("\"shard_begin\":2", "\"shard_begin\":3"),
              "shard 1/2 of 5 episodes begins at episode 2, not shard_begin 3");
  parse_fails(replaced("\"correct\":[", "\"correct\":[1,"), "holds 4 counts");
  parse_fails(replaced("\"correct\":[" + std::to_string(p1.configs[0].cells[0].correct[0]),
                       "\"correct\":[99"),
              "episode 2 has 99 right of 20 queries");
  parse_fails(replaced("\"queries\":20", "\"queries\":21"), "expected n_way * n_query = 20");
  parse_fails(replaced("\"key\":\"5w1s\"", "\"key\":\"5w2s\""), "do not describe it");
  parse_fails(replaced("\"per_episode_convs\":false", "\"per_episode_convs\":0"),
              "\"per_episode_convs\" must be true or false");
  parse_fails(replaced(",\"conv_floats\"", ",\"conv_floatz\""), "missing field \"conv_floats\"");

  // Merges: missing, doubled, of other counts, episodes or models.
  CHECK_THROWS_WITH_AS(merge_bench_shards({p0}, {"a"}), doctest::Contains("missing"), format_error);
  CHECK_THROWS_WITH_AS(merge_bench_shards({p0, p1, p1}, {"a", "b", "c"}),
                       doctest::Contains("c: shard 1/2 given twice (b is shard 1/2 too)"),
                       format_error);
  CHECK_THROWS_WITH_AS(merge_bench_shards({p0, score_shard(s, o, Shard{1, 3})}, {"a", "b"}),
                       doctest::Contains("b: shard 1/3, but a is shard 0/2"), format_error);
  Section other = s;
  other.tests.clear();
  sample_tests(other, parse_configs("5w1s", 4), PartChoice::test, 5, 8, false, "synth", "synth", "",
               prov);
  CHECK_THROWS_WITH_AS(merge_bench_shards({p0, score_shard(other, o, Shard{1, 2})}, {"a", "b"}),
                       doctest::Contains("b: scored other 5-way 1-shot episodes"), format_error);
  Section fine_section = s;
  fine_section.entrants = {load_entrant("protonet=" + fine)};
  CHECK_THROWS_WITH_AS(
      merge_bench_shards({p0, score_shard(fine_section, o, Shard{1, 2})}, {"a", "b"}),
      doctest::Contains("b: scored other models (on 5-way 1-shot)"), format_error);

  // A whole that does not fit the merging run: other episodes, other models.
  const BenchShard whole = merge_bench_shards({p1, p0}, {"b", "a"});
  CHECK_NOTHROW(given_cells(whole, s, "b"));
  CHECK_THROWS_WITH_AS(given_cells(whole, other, "b"),
                       doctest::Contains("b: the shards scored other 5-way 1-shot episodes"),
                       format_error);
  CHECK_THROWS_WITH_AS(given_cells(whole, fine_section, "b"),
                       doctest::Contains("b: the shards scored 'protonet'"), format_error);
}
