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
      auto m = load_method(e.models[0].checkpoint, e.models[0].path);
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

    // The methods are timed in turn; each cell gets its own method's times: finetune takes
    // gradient steps on top of ProtoNet's one forward pass, several times its work.
    CHECK(c.cells[0].adapt_ms_1t.median > c.cells[1].adapt_ms_1t.median);
    for (const Cell& x : c.cells) {
      CHECK(x.adapt_ms_1t.n == 3);
      CHECK(x.adapt_ms_nt.n == 3);
      CHECK(x.adapt_ms_1t.median > 0);
      CHECK(x.train_tasks_timed >= 1);
      CHECK(x.train_tasks_per_s > 0);
    }
  }
  CHECK(r.methods[0].method == "finetune");
  CHECK(r.methods[0].parameters == int64_t(s.entrants[0].models[0].checkpoint.params.size()));
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
  CHECK(count(md, "| ref (protonet) | " + proto + " | ") == 1);
  CHECK(count(md, "(reference)") == 2);
  // CSV: a header and 2 configurations x 2 methods, every row as wide as the header.
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() == 5);
  for (const std::string& row : rows) CHECK(count(row, ",") == count(rows[0], ","));
  CHECK(rows[0].substr(rows[0].size() - 6) == ",model");
  CHECK(rows[1].substr(rows[1].size() - fine.size() - 1) == "," + fine);
  CHECK(rows[2].substr(rows[2].size() - proto.size() - 1) == "," + proto);
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

TEST_CASE("one model per way count: each configuration scored by the model of its ways") {
  fsh::test::TempDir dir;
  Dataset d = small_split();
  const std::string proto = train_small("protonet", d, dir, 1);
  const std::string maml5 = train_small("maml", d, dir, 2, 5, "maml-5w.h5");
  const std::string maml3 = train_small("maml", d, dir, 3, 3, "maml-3w.h5");
  REQUIRE(load_entrant(maml3).models[0].ways == 3);
  REQUIRE(load_entrant(proto).models[0].ways == 0);
  CHECK(fixed_head("maml"));
  CHECK_FALSE(fixed_head("protonet"));

  Section s;
  s.name = "small";
  s.dataset = d;
  const Provenance prov = make_provenance("test", "", 0, {});
  sample_tests(s, parse_configs("5w1s,3w2s,5w2s", 4), PartChoice::test, 10, 9, false, "synth",
               "synth", "", prov);
  // The two MAML models under one label (the method's), in either order; ProtoNet's one model
  // scores every configuration.
  add_entrant(s.entrants, load_entrant(maml3));
  add_entrant(s.entrants, load_entrant(proto));
  add_entrant(s.entrants, load_entrant(maml5));
  REQUIRE(s.entrants.size() == 2);
  REQUIRE(s.entrants[0].models.size() == 2);
  CHECK(s.entrants[0].label == "maml");
  CHECK(s.entrants[0].model_for(5) == 1);
  CHECK(s.entrants[0].model_for(3) == 0);
  CHECK(s.entrants[0].model_for(20) == -1);
  CHECK(s.entrants[1].model_for(20) == 0);
  CHECK(s.entrants[0].ways_text() == "3-way and 5-way");

  BenchOptions o;
  o.timing_episodes = 2;
  o.timing_warmup = 0;
  o.train_seconds = 0;
  const SectionResult r = run_section(s, o);
  REQUIRE(r.configs.size() == 3);
  CHECK(r.reference == "protonet");
  // One summary per model: maml's two, then protonet's.
  REQUIRE(r.methods.size() == 3);
  CHECK(r.methods[0].path == maml3);
  CHECK(r.methods[0].ways == 3);
  CHECK(r.methods[1].path == maml5);
  CHECK(r.methods[2].ways == 0);
  CHECK(r.methods[0].several);
  CHECK_FALSE(r.methods[2].several);
  CHECK(r.methods[0].configs == std::vector<std::string>{"3w2s"});
  CHECK(r.methods[1].configs == std::vector<std::string>{"5w1s", "5w2s"});
  CHECK(r.methods[2].configs == std::vector<std::string>{"5w1s", "3w2s", "5w2s"});
  const std::vector<std::string> want = {maml5, maml3, maml5};
  for (std::size_t ci = 0; ci < 3; ++ci) {
    const ConfigResult& c = r.configs[ci];
    REQUIRE(c.cells.size() == 2);
    CHECK(c.cells[0].label == "maml");
    CHECK(c.cells[0].model == want[ci]);
    CHECK(r.methods[c.cells[0].summary].path == want[ci]);
    CHECK(c.cells[1].model == proto);
    // Independent scoring of the model of that many ways, read from its file.
    const Checkpoint ck = read_checkpoint(want[ci]);
    auto m = load_method(ck, want[ci]);
    CHECK(c.cells[0].episode_accuracy == evaluate_accuracy(*m, s.tests[ci].episodes, &*s.dataset));
    CHECK(c.cells[0].has_delta);
  }

  Report rep;
  rep.version = "test";
  rep.sections.push_back(r);
  rep.kernels.threads = threads();
  const std::string md = report_markdown(rep), csv = report_csv(rep), json = report_json(rep),
                    svg = report_svg(rep);
  // The configuration tables name maml's model; the methods table lists each with its head.
  CHECK(count(md, "| maml (maml-5w.h5) |") == 2);
  CHECK(count(md, "| maml (maml-3w.h5) |") == 1);
  CHECK(count(md, "| protonet |") == 4);  // three configurations and the methods table
  CHECK(count(md, "| maml | " + maml3 + " (3-way head) | ") == 1);
  CHECK(count(md, "| maml | " + maml5 + " (5-way head) | ") == 1);
  CHECK(count(md, "| protonet | " + proto + " | ") == 1);
  CHECK(count(csv, "3w2s,3,2,4,10,maml,maml,") == 1);
  CHECK(count(csv, "," + maml3 + "\n") == 1);
  CHECK(count(csv, "," + maml5 + "\n") == 2);
  CHECK(count(csv, "," + proto + "\n") == 3);
  CHECK(count(json, "{\"label\":\"maml\",\"model\":\"" + maml5 + "\",\"accuracy\"") == 2);
  CHECK(count(json, "\"ways\":3,") == 1);
  CHECK(count(json, "\"ways\":null,") == 1);
  CHECK(count(json, "\"configurations\":[\"5w1s\",\"5w2s\"]") == 1);
  CHECK(count(svg, "<title>maml (" + maml3 + "): ") == 1);
  CHECK(count(svg, ">maml</text>") == 1);  // one legend entry per label

  // A configuration no maml model fits: refused before anything runs, naming the label, the
  // configuration, the ways it has and the remedy.
  Section t;
  t.name = "small";
  t.dataset = d;
  sample_tests(t, parse_configs("5w1s,4w1s", 4), PartChoice::test, 3, 9, false, "synth", "synth",
               "", prov);
  t.entrants = s.entrants;
  const std::string no_4way = "maml has no model for 4-way 1-shot: its models' heads are 3-way "
                              "and 5-way (" + maml3 + ", " + maml5 + "); give one trained 4-way "
                              "as well (fsh-train --method maml -N 4, then -m maml=FILE)";
  CHECK_THROWS_WITH_AS(run_section(t, o), no_4way.c_str(), usage_error);
  CHECK_THROWS_WITH_AS(check_entrants(t, o, parse_configs("20w1s", 4)),
                       doctest::Contains("no model for 20-way 1-shot"), usage_error);
  CHECK(check_entrants(t, o, parse_configs("3w1s,5w5s", 4)) == "protonet");

  // What may not share a label: different methods, two heads of the same ways, a way-agnostic
  // method twice. Each names both files.
  std::vector<Entrant> e;
  add_entrant(e, load_entrant(maml5));
  CHECK_THROWS_WITH_AS(add_entrant(e, load_entrant("maml=" + proto)),
                       ("two models are labelled 'maml' (" + maml5 + " and " + proto +
                        ") but are of different methods (maml and protonet); name them apart "
                        "with LABEL=PATH to compare them")
                           .c_str(),
                       usage_error);
  CHECK_THROWS_WITH_AS(add_entrant(e, load_entrant(maml5)),
                       ("two models labelled 'maml' have 5-way heads (" + maml5 + " and " + maml5 +
                        "): one model per way count; name them apart with LABEL=PATH to compare "
                        "them")
                           .c_str(),
                       usage_error);
  add_entrant(e, load_entrant("other=" + maml5));  // another label: another entrant
  CHECK(e.size() == 2);
  std::vector<Entrant> p;
  add_entrant(p, load_entrant(proto));
  CHECK_THROWS_WITH_AS(add_entrant(p, load_entrant(proto)),
                       doctest::Contains("protonet scores any number of ways with one model"),
                       usage_error);
  // Assembled by hand, check_labels (so check_entrants) finds the same.
  Entrant twice = load_entrant(maml5);
  twice.models.push_back(load_entrant(maml5).models[0]);
  CHECK_THROWS_WITH_AS(check_labels({twice}), doctest::Contains("have 5-way heads"), usage_error);
  Entrant mixed = load_entrant(maml5);
  mixed.models.push_back(load_entrant(proto).models[0]);
  CHECK_THROWS_WITH_AS(check_labels({mixed}), doctest::Contains("different methods"),
                       usage_error);
}
