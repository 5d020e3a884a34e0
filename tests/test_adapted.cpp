// Tests of adapted classifiers as files (fsh-adapted version 2) with a method that changes
// every convolution per episode (the "finetune" fixture, tests/support/finetune_method.hpp):
// adapting in memory, writing the file as fsh-adapt does, and scoring it with the fsh-eval
// executable give identical predictions; an h5py-written version-2 file (from the man page)
// scores identically; classifiers the format cannot represent are refused; version-1 files
// still read.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "finetune_method.hpp"
#include "methods/adapted.hpp"
#include "methods/evaluate.hpp"
#include "methods/protonet.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;

namespace {

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

std::string tool(const std::string& name) { return fsh::test::bin_dir() + "/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The "predicted" column of fsh-eval's TSV.
std::vector<int32_t> predicted_column(const std::string& tsv) {
  std::istringstream in(tsv);
  std::string line;
  std::getline(in, line);  // header
  std::vector<int32_t> out;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string f;
    for (int c = 0; c < 5; ++c) std::getline(row, f, '\t');
    out.push_back(std::stoi(f));
  }
  return out;
}

// A small synthetic dataset and episodes file in dir: 3-way 2-shot 3-query, 4 episodes.
std::string make_episodes(const fsh::test::TempDir& dir) {
  const std::string d = dir.file("d.h5"), e = dir.file("e.h5");
  REQUIRE(sh(tool("fsh-episodes") + " synth --classes 12 --instances 6 --seed 3 -q -o " + d) == 0);
  REQUIRE(sh(tool("fsh-episodes") + " sample " + d + " -N 3 -K 2 -Q 3 --count 4 --seed 5 -q -o " +
             e) == 0);
  return e;
}

}  // namespace

TEST_CASE("a method that fine-tunes every convolution: in memory, file and fsh-eval agree") {
  fsh::test::register_finetune_method();
  fsh::test::TempDir dir;
  const std::string eps = make_episodes(dir);
  const EpisodeSet es = open_episodes(eps);

  ModelConfig cfg;
  cfg.method = "finetune";
  cfg.backbone.hidden = 8;
  cfg.settings = {{"steps", int64_t(3)}, {"lr", 0.1}};
  auto m = make_method(cfg);
  Rng rng(17);
  m->init(rng);

  // In memory: each episode's classifier and its predictions, and the unfolded fine-tuned
  // network's logits (batch norm with the support statistics, not folded) for comparison.
  std::vector<AdaptedClassifier> direct;
  std::vector<int32_t> pred_memory;
  const Conv4Config& bc = m->config().backbone;
  for (int64_t i = 0; i < es.count(); ++i) {
    const EpisodeTensors t = to_tensors(es.images(i));
    direct.push_back(m->adapt(t));
    REQUIRE(!direct.back().convs.empty());
    std::vector<float> logits;
    const auto p = classify(m->config(), direct.back(), t, &logits);
    pred_memory.insert(pred_memory.end(), p.begin(), p.end());

    const auto& st = fsh::test::last_finetune_state(*m);
    Conv4<float> net(bc);
    Conv4Tape<float> sup, qry;
    net.forward(st.conv4.data(), t.support.data(), t.support_rows(), BnMode::batch, 0, nullptr,
                sup);
    const std::vector<BnStats<float>> stats = sup.stats();
    const float* f = net.forward(st.conv4.data(), t.query.data(), t.query_rows(), BnMode::fixed,
                                 0, &stats, qry);
    const int F = bc.feature_dim(), N = t.n_way;
    for (int q = 0; q < t.query_rows(); ++q)
      for (int c = 0; c < N; ++c) {
        double z = st.head_b[c];
        for (int k = 0; k < F; ++k) z += double(st.head_w[c * F + k]) * f[q * F + k];
        CHECK(logits[q * N + c] == doctest::Approx(z).epsilon(1e-4).scale(1.0));
      }
  }
  // The fine-tuning really changed the convolutions, differently per episode.
  const std::vector<float> base = m->base_convolutions();
  CHECK(direct[0].convs != base);
  CHECK(direct[0].convs != direct[1].convs);

  // What fsh-adapt does (adapt_episodes + write_adapted), then the fsh-eval executable.
  const AdaptedSet s = adapt_episodes(*m, es);
  CHECK(s.per_episode_convs());
  const std::string a_path = dir.file("a.h5");
  write_adapted(s, a_path, {"test", "0", "", 0, {}});
  REQUIRE(sh(tool("fsh-eval") + " -q -a " + a_path + " -e " + eps + " --predictions " +
             dir.file("a.tsv") + " > /dev/null") == 0);
  const std::string a_tsv = slurp(dir.file("a.tsv"));
  CHECK(predicted_column(a_tsv) == pred_memory);
  const AdaptedSet back = read_adapted(a_path);
  for (int64_t i = 0; i < es.count(); ++i) CHECK(back.episode(i).primary == direct[i].primary);

  // The same classifiers written with h5py alone, from man 5 fsh-adapted.
  const std::string b_path = dir.file("b.h5");
  const int rc = sh("/usr/bin/python3 " + fsh::test::source_dir() +
                    "/tests/support/write_adapted_h5py.py " + a_path + " " + b_path);
  if (rc != 0) {
    MESSAGE("h5py writer unavailable or failed (exit " << rc << "): skipping that part");
  } else {
    REQUIRE(sh(tool("fsh-eval") + " -q -a " + b_path + " -e " + eps + " --predictions " +
               dir.file("b.tsv") + " > /dev/null") == 0);
    CHECK(slurp(dir.file("b.tsv")) == a_tsv);
    const AdaptedSet h = read_adapted(b_path);
    for (int64_t i = 0; i < es.count(); ++i) CHECK(h.episode(i).primary == direct[i].primary);
  }
}

TEST_CASE("an adapted set refuses a classifier it cannot represent") {
  fsh::test::register_finetune_method();
  ModelConfig cfg;
  cfg.backbone.hidden = 4;
  ProtoNet net(cfg);
  Rng rng(2);
  net.init(rng);
  fsh::test::TempDir dir;
  const EpisodeSet es = open_episodes(make_episodes(dir));
  AdaptedSet s;
  s.model = net.config();
  s.n_way = 3;
  s.base = net.base_convolutions();
  AdaptedClassifier a = net.adapt(to_tensors(es.images(0)));
  s.add(a);  // representable
  CHECK(!s.per_episode_convs());
  AdaptedClassifier bad = a;
  bad.primary[5] += 1.0f;  // a conv weight no fold of the base gives
  CHECK_THROWS_AS(s.add(bad), usage_error);
  bad = a;
  bad.fold_scale.pop_back();
  CHECK_THROWS_AS(s.add(bad), shape_error);
  // A classifier with its own convolutions turns the set into a per-episode one; earlier
  // episodes keep the base.
  AdaptedClassifier own = a;
  own.convs = s.base;
  for (float& v : own.convs) v *= 1.5f;
  fold_convs(net.config().backbone, own.convs.data(),
             own.fold_scale.data(), own.fold_shift.data(), own.primary.data());
  s.add(own);
  CHECK(s.per_episode_convs());
  CHECK(s.episode(0).primary == a.primary);
  CHECK(s.episode(1).primary == own.primary);
  CHECK(s.count() == 2);
}

TEST_CASE("version-1 fsh-adapted files (no settings, no per-episode convolutions) still read") {
  ModelConfig cfg;
  cfg.backbone.hidden = 4;
  ProtoNet net(cfg);
  Rng rng(4);
  net.init(rng);
  fsh::test::TempDir dir;
  const EpisodeSet es = open_episodes(make_episodes(dir));
  const AdaptedSet s = adapt_episodes(net, es);
  const std::string path = dir.file("v1.h5");
  write_adapted(s, path, {"test", "0", "", 0, {}});
  const int rc = sh("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + path +
                    "', 'r+'); f.attrs['fsh_format_version'] = 1; del f['config/settings']\"");
  if (rc != 0) {
    MESSAGE("h5py unavailable: skipping");
    return;
  }
  const AdaptedSet r = read_adapted(path);
  REQUIRE(r.count() == s.count());
  for (int64_t i = 0; i < s.count(); ++i) CHECK(r.episode(i).primary == s.episode(i).primary);
}
