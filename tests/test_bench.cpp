// Tests of lib/bench: configuration keys, model labels, the comparison of two different
// methods (ProtoNet and the "finetune" fixture, which changes every convolution per episode as
// MAML will) on shared episodes -- accuracies and the paired difference against an independent
// per-episode scoring (Method::adapt + classify, no adapted file) summarised by a hand-written
// loop -- adapted sizes from the format's layout, the reports' structure, FLOP counts by hand,
// and the per-stretch peak memory.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/registry.hpp"
#include "bench/bench.hpp"
#include "bench/kernels.hpp"
#include "bench/report.hpp"
#include "data/split.hpp"
#include "data/synth.hpp"
#include "finetune_method.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;
using namespace fsh::bench;

namespace {

Dataset small_split() {
  SynthOptions so;
  so.classes = 40;
  so.instances = 10;
  so.seed = 5;
  SplitOptions sp;
  sp.by = SplitBy::klass;
  sp.fractions = {0.5, 0.0, 0.5};
  return split_dataset(synthesize(so), sp, "synth");
}

// Trains `method` (hidden 8) for a few episodes on d and returns the model file's path.
std::string train_small(const std::string& method, Dataset& d, const fsh::test::TempDir& dir,
                        uint64_t seed) {
  ModelConfig m;
  m.method = method;
  m.backbone.hidden = 8;
  TrainConfig t;
  t.n_way = 5;
  t.k_shot = 1;
  t.n_query = 3;
  t.episodes = 6;
  t.val_every = 0;
  t.checkpoint_every = 0;
  t.seed = seed;
  TrainingData td;
  td.dataset = std::move(d);
  td.fingerprint = "test";
  Checkpoint ck = start_run(m, t, "synth", td);
  TrainRun run;
  run.output = dir.file(method + ".h5");
  run.progress = false;
  const TrainOutcome out = train(ck, td.dataset_ptr(), nullptr, run);
  REQUIRE(out.status == TrainStatus::finished);
  d = std::move(*td.dataset);
  return run.output;
}

// Mean and 1.96·sd/√n of v, sd with n − 1, by a plain loop in long double.
std::pair<double, double> mean_ci_by_hand(const std::vector<double>& v) {
  long double sum = 0;
  for (double x : v) sum += x;
  const long double mean = sum / v.size();
  long double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const long double sd = std::sqrt(ss / (v.size() - 1));
  return {double(mean), double(1.96L * sd / std::sqrt((long double)v.size()))};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("configuration keys") {
  const ConfigSpec c = parse_config("20w1s", 15);
  CHECK(c.n_way == 20);
  CHECK(c.k_shot == 1);
  CHECK(c.n_query == 15);
  CHECK(c.key() == "20w1s");
  CHECK(c.name() == "20-way 1-shot");
  CHECK(parse_configs("5w1s,5w5s,20w1s", 15).size() == 3);
  for (const char* bad : {"5w", "w1s", "5x1s", "5w1s2", "1w1s", "5w0s", "", "5w1s,"})
    CHECK_THROWS_AS(parse_configs(bad, 15), usage_error);
  CHECK_THROWS_WITH_AS(parse_configs("5w1s,5w1s", 15), doctest::Contains("twice"), usage_error);
  CHECK_THROWS_AS(parse_config("5w1s", 0), usage_error);
}

TEST_CASE("Conv-4 FLOP counts, by hand") {
  Conv4Config c;  // 28x28x1, hidden 64, depth 4: blocks at 28, 14, 7, 3 pixels
  // forward: 2·64·9·(28²·1 + 14²·64 + 7²·64 + 3²·64) = 903168 + 14450688 + 3612672 + 663552
  CHECK(conv4_forward_flops(c, 1) == 19630080.0);
  // backward: the first block once, the others twice
  CHECK(conv4_backward_flops(c, 1) == 903168.0 + 2 * (14450688.0 + 3612672.0 + 663552.0));
  CHECK(conv4_forward_flops(c, 10) == 196300800.0);
  c.in_channels = 3;
  c.height = c.width = 84;  // blocks at 84, 42, 21, 10
  CHECK(conv4_forward_flops(c, 1) ==
        2.0 * 64 * 9 * (84 * 84 * 3 + 42 * 42 * 64 + 21 * 21 * 64 + 10 * 10 * 64));
}

TEST_CASE("peak memory of a stretch sees what the stretch touched") {
  PeakMemory m;
  m.start();
  {
    std::vector<char> block(64 << 20);
    for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = char(i);
    CHECK(block[4096] == char(4096));
  }
  const PeakMemory::Reading r = m.read();
  CHECK(r.peak_mib >= 60);
  if (r.per_stretch) {
    CHECK(r.peak_mib - r.baseline_mib >= 60);
    CHECK(r.source == "VmHWM (reset per stretch)");
  } else {
    MESSAGE("VmHWM cannot be reset here; ru_maxrss (whole process) is reported");
  }
}

TEST_CASE("two methods on shared episodes: accuracies, paired difference, sizes, reports") {
  fsh::test::register_finetune_method();
  fsh::test::TempDir dir;
  Dataset d = small_split();
  const std::string proto = train_small("protonet", d, dir, 1);
  const std::string fine = train_small("finetune", d, dir, 2);

  Section s;
  s.name = "small";
  s.dataset = d;
  const Provenance prov = make_provenance("test", "", 0, {});
  std::filesystem::create_directories(dir.file("episodes"));
  sample_tests(s, parse_configs("5w1s,3w2s", 4), PartChoice::test, 12, 7, false, "synth", "synth",
               dir.file("episodes"), prov);
  REQUIRE(s.tests.size() == 2);
  CHECK(std::filesystem::exists(dir.file("episodes/5w1s.h5")));
  CHECK(std::filesystem::exists(dir.file("episodes/3w2s.h5")));
  s.entrants.push_back(load_entrant(fine));          // label "finetune"
  s.entrants.push_back(load_entrant("ref=" + proto));  // labelled by the user
  CHECK(s.entrants[1].label == "ref");

  BenchOptions o;
  o.reference = "ref";
  o.reference_required = true;
  o.timing_episodes = 3;
  o.timing_warmup = 1;
  o.train_seconds = 0.01;
  const SectionResult r = run_section(s, o);
  REQUIRE(r.configs.size() == 2);
  CHECK(r.reference == "ref");
  CHECK(s.dataset.has_value());  // lent to each test set and given back
  CHECK(s.tests[0].episodes.count() == 12);

  for (std::size_t ci = 0; ci < 2; ++ci) {
    const ConfigResult& c = r.configs[ci];
    REQUIRE(c.cells.size() == 2);
    // Independent scoring: each method adapted in memory and its queries classified per
    // episode (trainer.hpp's evaluate_accuracy: no adapted set, no file).
    std::vector<std::vector<double>> acc;
    for (const Entrant& e : s.entrants) {
      auto m = load_method(e.checkpoint, e.path);
      acc.push_back(evaluate_accuracy(*m, s.tests[ci].episodes, &*s.dataset));
    }
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(c.cells[i].episode_accuracy == acc[i]);
      const auto [mean, ci95] = mean_ci_by_hand(acc[i]);
      CHECK(c.cells[i].accuracy.mean == doctest::Approx(mean).epsilon(1e-12));
      CHECK(c.cells[i].accuracy.ci95 == doctest::Approx(ci95).epsilon(1e-12));
    }
    std::vector<double> diff;
    for (std::size_t e = 0; e < acc[0].size(); ++e) diff.push_back(acc[0][e] - acc[1][e]);
    const auto [dmean, dci] = mean_ci_by_hand(diff);
    REQUIRE(c.cells[0].has_delta);
    CHECK_FALSE(c.cells[1].has_delta);  // the reference
    CHECK(c.cells[0].delta.mean == doctest::Approx(dmean).epsilon(1e-12));
    CHECK(c.cells[0].delta.ci95 == doctest::Approx(dci).epsilon(1e-12));
    CHECK(c.cells[0].delta.n == 12);

    // Bytes per episode in fsh-adapted: (scale, shift) per block and channel, the head, and
    // for finetune its own convolutions (conv_layout with hidden 8, 1 input channel).
    const int64_t N = c.spec.n_way, K = 8, F = 8;  // 28 -> 14 -> 7 -> 3 -> 1: F = 8
    const int64_t base = 2 * 4 * K + N * F + N;
    const int64_t convs = (8 * 1 * 9 + 8) + 3 * (8 * 8 * 9 + 8);
    CHECK(c.cells[1].adapted_bytes_per_episode == 4.0 * double(base));
    CHECK(c.cells[0].adapted_bytes_per_episode == 4.0 * double(base + convs));

    for (const Cell& x : c.cells) {
      CHECK(x.adapt_ms_1t.n == 3);
      CHECK(x.adapt_ms_nt.n == 3);
      CHECK(x.adapt_ms_1t.median > 0);
      CHECK(x.train_tasks_timed >= 1);
      CHECK(x.train_tasks_per_s > 0);
    }
  }
  CHECK(r.methods[0].method == "finetune");
  CHECK(r.methods[0].parameters == int64_t(s.entrants[0].checkpoint.params.size()));
  CHECK(r.methods[1].param_bytes == 4 * r.methods[1].parameters);
  CHECK(r.methods[0].file_bytes > 0);

  Report rep;
  rep.version = "test";
  rep.sections.push_back(r);
  rep.kernels.threads = threads();
  const std::string md = report_markdown(rep), csv = report_csv(rep), svg = report_svg(rep),
                    json = report_json(rep);
  CHECK(count(md, "| Method | Accuracy | Δ vs ref |") == 2);
  CHECK(count(md, "| finetune |") == 3);  // two configurations and the methods table
  CHECK(count(md, "| ref |") == 2);
  CHECK(count(md, "| ref (protonet) |") == 1);
  CHECK(count(md, "(reference)") == 2);
  // CSV: a header and 2 configurations x 2 methods, every row as wide as the header.
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() == 5);
  for (const std::string& row : rows) CHECK(count(row, ",") == count(rows[0], ","));
  // SVG: 2 panels, 4 points with error bars, one legend entry per method.
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "<g class=\"panel\">") == 2);
  CHECK(count(svg, "<g class=\"point\">") == 4);
  CHECK(count(svg, "class=\"errorbar\"") == 4);
  CHECK(count(svg, ">finetune</text>") == 1);
  CHECK(count(svg, ">ref</text>") == 1);
  CHECK(count(json, "\"episode_accuracy\":[") == 4);

  // A reference that is not among the methods.
  o.reference = "nobody";
  CHECK_THROWS_WITH_AS(run_section(s, o), doctest::Contains("nobody"), usage_error);
  o.reference_required = false;  // the default reference falls back to the first method
  o.timing_episodes = 0;
  o.train_seconds = 0;
  CHECK(run_section(s, o).reference == "finetune");
}

TEST_CASE("model labels") {
  fsh::test::TempDir dir;
  Dataset d = small_split();
  const std::string proto = train_small("protonet", d, dir, 1);
  CHECK(load_entrant(proto).label == "protonet");
  CHECK(load_entrant("a=" + proto).label == "a");
  CHECK_THROWS_AS(load_entrant("=" + proto), usage_error);
  CHECK_THROWS_AS(load_entrant("a,b=" + proto), usage_error);
  CHECK_THROWS_AS(load_entrant("<b>=" + proto), usage_error);
  CHECK_THROWS_AS(load_entrant(dir.file("missing.h5")), io_error);
  std::vector<Entrant> two = {load_entrant(proto), load_entrant(proto)};
  CHECK_THROWS_WITH_AS(check_labels(two), doctest::Contains("LABEL=PATH"), usage_error);
}
