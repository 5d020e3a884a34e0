// Tests of the hypernetwork method (lib/methods/hypernet.hpp, man 7 fsh-hypernet):
// - untrained (generator output layers zero) it IS ProtoNet on the same backbone: the same
//   loss, predictions and backbone gradient, in both batch-norm policies;
// - its gradient, through the generator into the backbone by both passes, agrees with central
//   finite differences in double precision, in both policies, with and without FiLM, and with
//   refinement (first-order: the refinement offsets held fixed);
// - the adapted (folded) classifier scores queries as the training computation does, and goes
//   adapt -> file -> fsh-eval with predictions identical to the in-memory classifier's, with
//   and without refinement (per-episode convolutions);
// - --init-from starts the backbone from a ProtoNet model; the fsh-train flags work.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backend/registry.hpp"
#include "data/split.hpp"
#include "data/synth.hpp"
#include "methods/adapted.hpp"
#include "methods/evaluate.hpp"
#include "methods/hypernet.hpp"
#include "methods/protonet.hpp"
#include "methods/setup.hpp"
#include "test_nn_gradcheck.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;

namespace {

// A random episode: N-way K-shot Q-query, 1×side×side images in [0, 1] with class structure.
EpisodeTensors random_episode(int N, int K, int Q, int side, uint64_t seed) {
  Rng rng(seed);
  const int P = side * side;
  EpisodeTensors t;
  t.n_way = N, t.k_shot = K, t.n_query = Q, t.channels = 1, t.height = side, t.width = side;
  std::vector<float> proto(std::size_t(N) * P);
  for (auto& v : proto) v = static_cast<float>(rng.uniform());
  auto draw = [&](int c, std::vector<float>& out) {
    for (int p = 0; p < P; ++p)
      out.push_back(0.7f * proto[std::size_t(c) * P + p] + 0.3f * float(rng.uniform()));
  };
  for (int c = 0; c < N; ++c)
    for (int k = 0; k < K; ++k) draw(c, t.support), t.support_labels.push_back(c);
  for (int c = 0; c < N; ++c)
    for (int q = 0; q < Q; ++q) draw(c, t.query), t.query_labels.push_back(c);
  return t;
}

ModelConfig hyper_model(BnPolicy bn, Settings settings = {}, int hidden = 8) {
  ModelConfig m;
  m.method = "hypernet";
  m.backbone.hidden = hidden;
  m.bn = bn;
  m.settings = std::move(settings);
  return m;
}

// Gives every generator parameter a random value (the untrained output layers are zero, which
// would leave most of the generator's paths without effect).
void randomise_generator(Method& m, Rng& rng, double scale = 0.3) {
  const std::size_t P4 = conv4_layout(m.config().backbone).size();
  for (std::size_t i = P4; i < m.params().size(); ++i)
    m.params().values()[i] = float(scale * (2 * rng.uniform() - 1));
}

double max_abs(const float* a, std::size_t n) {
  double m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, double(std::abs(a[i])));
  return m;
}

// Mean softmax cross-entropy of logits (B, N) at labels, in double.
double xent(const std::vector<float>& logits, const std::vector<int32_t>& labels, int N) {
  double total = 0;
  for (std::size_t q = 0; q < labels.size(); ++q) {
    const float* z = logits.data() + q * N;
    double mx = z[0], s = 0;
    for (int c = 1; c < N; ++c) mx = std::max(mx, double(z[c]));
    for (int c = 0; c < N; ++c) s += std::exp(double(z[c]) - mx);
    total += std::log(s) + mx - z[labels[q]];
  }
  return total / double(labels.size());
}

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
  std::getline(in, line);
  std::vector<int32_t> out;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string f;
    for (int c = 0; c < 5; ++c) std::getline(row, f, '\t');
    out.push_back(std::stoi(f));
  }
  return out;
}

}  // namespace

TEST_CASE("untrained, the hypernetwork is ProtoNet on its backbone (both policies)") {
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive}) {
    CAPTURE(to_string(bn));
    auto h = make_method(hyper_model(bn));
    ModelConfig pc;
    pc.backbone.hidden = 8;
    pc.bn = bn;
    ProtoNet p(pc);
    Rng r1(5), r2(5);
    h->init(r1);
    p.init(r2);
    // The seeded initialisation draws the backbone first, as ProtoNet does.
    const std::size_t P4 = p.params().size();
    REQUIRE(std::equal(p.params().values(), p.params().values() + P4, h->params().values()));
    // Any backbone (here: one with non-trivial batch-norm affine parameters).
    for (std::size_t i = 0; i < P4; ++i) {
      const float v = p.params().values()[i] + 0.2f * float(r1.uniform() - 0.5);
      p.params().values()[i] = h->params().values()[i] = v;
    }
    for (int trial = 0; trial < 2; ++trial) {
      const EpisodeTensors ep = random_episode(4, 2, 3, 28, 100 + trial);
      const EpisodeResult rh = h->loss_and_grad(ep), rp = p.loss_and_grad(ep);
      // The same operations on the same values: equal to float rounding (in fact bit for bit).
      CHECK(rh.loss == doctest::Approx(rp.loss).epsilon(1e-6));
      CHECK(rh.correct == rp.correct);
      const double gscale = max_abs(p.params().grads(), P4);
      REQUIRE(gscale > 0);
      double gdiff = 0;
      for (std::size_t i = 0; i < P4; ++i)
        gdiff = std::max(gdiff, double(std::abs(h->params().grads()[i] - p.params().grads()[i])));
      CHECK(gdiff <= 1e-6 * gscale);
      // The generator's output layers do get a gradient: training moves away from ProtoNet.
      for (const char* name : {"film.weight", "head.delta.weight", "head.metric.weight"}) {
        const ParamView& v = h->params().layout().at(name);
        CHECK(max_abs(h->params().grads() + v.offset, v.size) > 0);
      }
      // Adapted classifiers: identical predictions, heads equal to rounding.
      const AdaptedClassifier ah = h->adapt(ep), ap = p.adapt(ep);
      CHECK(ah.convs.empty());
      std::vector<float> lh, lp;
      CHECK(classify(h->config(), ah, ep, &lh) == classify(p.config(), ap, ep, &lp));
      REQUIRE(ah.primary.size() == ap.primary.size());
      const double pscale = max_abs(ap.primary.data(), ap.primary.size());
      double pdiff = 0;
      for (std::size_t i = 0; i < ap.primary.size(); ++i)
        pdiff = std::max(pdiff, double(std::abs(ah.primary[i] - ap.primary[i])));
      CHECK(pdiff <= 1e-6 * pscale);
    }
  }
}

TEST_CASE("ablations: layouts, and with neither FiLM nor head it is ProtoNet") {
  const ModelConfig full = hyper_model(BnPolicy::support);
  const ModelConfig nofilm = hyper_model(BnPolicy::support, {{"no_film", true}});
  const ModelConfig nohead = hyper_model(BnPolicy::support, {{"no_head", true}});
  const ModelConfig none = hyper_model(BnPolicy::support, {{"no_film", true}, {"no_head", true}});
  CHECK(make_method(full)->params().layout().contains("film.weight"));
  CHECK(make_method(full)->params().layout().contains("head.delta.weight"));
  CHECK(!make_method(nofilm)->params().layout().contains("film.weight"));
  CHECK(make_method(nofilm)->params().layout().contains("set.weight"));
  CHECK(!make_method(nohead)->params().layout().contains("head.hidden.weight"));
  CHECK(make_method(none)->params().layout() == conv4_layout(none.backbone));

  // Trained-looking generators: each ablation changes the classifier, the full one most.
  Rng rng(3);
  auto plain = make_method(none);
  plain->init(rng);
  ModelConfig pc;
  pc.backbone.hidden = 8;
  ProtoNet p(pc);
  std::copy(plain->params().values(), plain->params().values() + p.params().size(),
            p.params().values());
  const EpisodeTensors ep = random_episode(3, 2, 4, 28, 9);
  CHECK(plain->loss_and_grad(ep).loss == doctest::Approx(p.loss_and_grad(ep).loss).epsilon(1e-6));
  CHECK(classify(pc, plain->adapt(ep), ep) == classify(pc, p.adapt(ep), ep));
  for (const ModelConfig& c : {full, nofilm, nohead}) {
    auto m = make_method(c);
    m->init(rng);
    std::copy(p.params().values(), p.params().values() + p.params().size(), m->params().values());
    randomise_generator(*m, rng);
    const double lm = m->loss_and_grad(ep).loss, lp = p.loss_and_grad(ep).loss;
    CHECK(std::abs(lm - lp) > 1e-4);
  }
}

namespace {

// The double-precision gradient check of HypernetCore: every parameter random (so that every
// path through the generator is active), a 3-way 2-shot 2-query episode of 1×16×16 images,
// Conv-3 with 4 filters (2×2 spatial features: the pooling of t is exercised).
void gradient_check(BnPolicy bn, bool film, bool refine, int film_from = 0) {
  HypernetSpec s;
  s.backbone.height = s.backbone.width = 16;
  s.backbone.hidden = 4;
  s.backbone.depth = 3;
  s.bn = bn;
  s.film = film;
  s.film_from = film_from;
  s.width = 3;
  s.refine_steps = refine ? 2 : 0;
  s.refine_lr = 0.2;
  HypernetCore<double> core(s);
  Rng rng(film ? 21 + 3 * film_from : 22);  // seeds whose random θ leaves every path alive
  std::vector<double> theta = fsh::test::random_vector(core.layout().size(), rng, -0.5, 0.5);
  for (int i = 0; i < s.backbone.depth; ++i)
    for (const char* what : {".gamma", ".beta"}) {
      const ParamView& v = core.layout().at("bn" + std::to_string(i) + what);
      for (std::size_t j = 0; j < v.size; ++j)
        theta[v.offset + j] =
            what[1] == 'g' ? 0.7 + 0.6 * rng.uniform() : 0.2 * (rng.uniform() - 0.5);
    }
  const EpisodeTensors f = random_episode(3, 2, 2, 16, film ? 31 : 32);
  const std::vector<double> support(f.support.begin(), f.support.end()),
      query(f.query.begin(), f.query.end());
  HypernetEpisode<double> ep;
  ep.n_way = 3;
  ep.support_rows = 6;
  ep.query_rows = 6;
  ep.support = support.data();
  ep.query = query.data();
  ep.support_labels = f.support_labels.data();
  ep.query_labels = f.query_labels.data();

  Refinement<double> delta;
  const Refinement<double>* fixed = nullptr;
  if (refine) {
    delta = core.refinement(theta.data(), ep);
    REQUIRE(delta.conv4.size() == conv4_layout(s.backbone).size());
    double moved = 0;
    for (double v : delta.conv4) moved = std::max(moved, std::abs(v));
    CHECK(moved > 1e-4);  // the refinement really changes the network
    fixed = &delta;
  }
  std::vector<double> grad(theta.size());
  const PrototypeResult r = core.loss(theta.data(), ep, grad.data(), fixed);
  CHECK(std::isfinite(r.loss));
  if (refine) {
    // The method's own path (refinement run inside) is the same function at θ.
    std::vector<double> g2(theta.size());
    CHECK(core.loss(theta.data(), ep, g2.data()).loss == doctest::Approx(r.loss).epsilon(1e-12));
    double d = 0;
    for (std::size_t i = 0; i < g2.size(); ++i) d = std::max(d, std::abs(g2[i] - grad[i]));
    CHECK(d < 1e-10);
  }
  // The gradient reaches every part: backbone (both passes), set encoder, FiLM, head. (Not the
  // conv biases: batch norm cancels them, their gradient is zero up to rounding.)
  for (const ParamView& v : core.layout().views()) {
    if (v.name.rfind("conv", 0) == 0 && v.name.find(".bias") != std::string::npos) continue;
    double m = 0;
    for (std::size_t j = 0; j < v.size; ++j) m = std::max(m, std::abs(grad[v.offset + j]));
    CAPTURE(v.name);
    CHECK(m > 0);
  }
  auto loss = [&] { return core.loss(theta.data(), ep, nullptr, fixed).loss; };
  fsh::test::check_gradient("hypernet θ", theta, loss, grad, 100000);
}

}  // namespace

TEST_CASE("gradient through the generator into the backbone: finite differences (double)") {
  set_threads(1);  // thousands of tiny passes: thread hand-offs would dominate (bits are equal)
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive})
    for (bool film : {true, false})
      for (bool refine : {false, true}) {
        CAPTURE(to_string(bn));
        CAPTURE(film);
        CAPTURE(refine);
        gradient_check(bn, film, refine);
      }
  // FiLM on the later blocks only (the first block's γ, β are θ's own).
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive})
    for (int from : {1, 2}) {
      CAPTURE(to_string(bn));
      CAPTURE(from);
      gradient_check(bn, true, false, from);
    }
  set_threads(0);
}

TEST_CASE("the folded classifier scores the queries as training does (both policies, refined)") {
  // film_from 0 and 2: adaptation's pass 2 starts from pass 1's activations at that block
  // (Conv4::forward_reusing), training recomputes every block; the scores must agree.
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive})
    for (int64_t steps : {int64_t(0), int64_t(2)})
    for (int64_t from : {int64_t(0), int64_t(2)}) {
      CAPTURE(to_string(bn));
      CAPTURE(steps);
      CAPTURE(from);
      auto m = make_method(hyper_model(
          bn, {{"refine_steps", steps}, {"refine_lr", 0.05}, {"film_from", from}}));
      Rng rng(13);
      m->init(rng);
      randomise_generator(*m, rng);
      const EpisodeTensors ep = random_episode(4, 2, 3, 28, 77);
      const double training_loss = m->loss_and_grad(ep).loss;
      const AdaptedClassifier a = m->adapt(ep);
      CHECK(a.convs.empty() == (steps == 0));
      // Each query alone through the folded network and the linear head: the loss of training
      // (BN network, distance or linear form) up to float rounding.
      std::vector<float> logits;
      classify(m->config(), a, ep, &logits);
      CHECK(xent(logits, ep.query_labels, 4) == doctest::Approx(training_loss).epsilon(1e-4));
      // FiLM is really active (s ≠ 1).
      const auto& s = dynamic_cast<Hypernet&>(*m).core().film_scale();
      double off = 0;
      for (float v : s) off = std::max(off, double(std::abs(v - 1)));
      CHECK(off > 1e-3);
    }
}

TEST_CASE("the same bits with 1 and 2 threads (loss, gradient, adapted classifier)") {
  auto m = make_method(hyper_model(BnPolicy::support, {{"refine_steps", int64_t(1)}}));
  Rng rng(23);
  m->init(rng);
  randomise_generator(*m, rng);
  const EpisodeTensors ep = random_episode(5, 1, 3, 28, 2);
  auto run = [&](int threads) {
    set_threads(threads);
    m->loss_and_grad(ep);
    std::vector<float> out(m->params().grads(), m->params().grads() + m->params().size());
    const AdaptedClassifier a = m->adapt(ep);
    out.insert(out.end(), a.primary.begin(), a.primary.end());
    return out;
  };
  const std::vector<float> one = run(1), two = run(2);
  set_threads(0);
  CHECK(one == two);
}

TEST_CASE("refinement: lowers the support loss; with rate 0 it changes nothing") {
  const EpisodeTensors ep = random_episode(3, 2, 3, 28, 5);
  Rng rng(8);
  auto base = make_method(hyper_model(BnPolicy::support));
  base->init(rng);
  randomise_generator(*base, rng);
  auto with = [&](int64_t steps, double lr) {
    auto m =
        make_method(hyper_model(BnPolicy::support, {{"refine_steps", steps}, {"refine_lr", lr}}));
    std::copy(base->params().values(), base->params().values() + base->params().size(),
              m->params().values());
    return m;
  };
  // The support loss of an adapted classifier: its logits on the support images.
  auto support_loss = [&](Method& m) {
    EpisodeTensors s = ep;
    s.query = ep.support;
    s.query_labels = ep.support_labels;
    std::vector<float> logits;
    classify(m.config(), m.adapt(ep), s, &logits);
    return xent(logits, ep.support_labels, 3);
  };
  auto zero = with(3, 0.0);
  const AdaptedClassifier a0 = base->adapt(ep), az = zero->adapt(ep);
  CHECK(az.convs.empty());
  CHECK(az.primary == a0.primary);
  auto m = with(3, 0.05);
  const double before = support_loss(*base), after = support_loss(*m);
  CHECK(after < before);
}

TEST_CASE("hypernet: adapt -> fsh-adapted file -> fsh-eval gives the in-memory predictions") {
  fsh::test::TempDir dir;
  const std::string d = dir.file("d.h5"), e = dir.file("e.h5");
  REQUIRE(sh(tool("fsh-episodes") + " synth --classes 12 --instances 6 --seed 3 -q -o " + d) == 0);
  REQUIRE(sh(tool("fsh-episodes") + " sample " + d + " -N 3 -K 2 -Q 3 --count 4 --seed 5 -q -o " +
             e) == 0);
  const EpisodeSet es = open_episodes(e);
  for (int64_t steps : {int64_t(0), int64_t(2)}) {
    CAPTURE(steps);
    auto m = make_method(hyper_model(BnPolicy::support, {{"refine_steps", steps}}));
    Rng rng(17);
    m->init(rng);
    randomise_generator(*m, rng);
    std::vector<int32_t> memory;
    for (int64_t i = 0; i < es.count(); ++i) {
      const EpisodeTensors t = to_tensors(es.images(i));
      const auto p = classify(m->config(), m->adapt(t), t);
      memory.insert(memory.end(), p.begin(), p.end());
    }
    const AdaptedSet s = adapt_episodes(*m, es);
    CHECK(s.per_episode_convs() == (steps > 0));
    const std::string a = dir.file("a" + std::to_string(steps) + ".h5");
    const std::string tsv = dir.file("a" + std::to_string(steps) + ".tsv");
    write_adapted(s, a, {"test", "0", "", 0, {}});
    REQUIRE(sh(tool("fsh-eval") + " -q -a " + a + " -e " + e + " --predictions " + tsv +
               " > /dev/null") == 0);
    CHECK(predicted_column(slurp(tsv)) == memory);
  }
}

TEST_CASE("--init-from: the backbone of a ProtoNet model, the generator fresh") {
  SynthOptions so;
  so.classes = 20;
  so.instances = 6;
  so.seed = 3;
  SplitOptions sp;
  sp.by = SplitBy::klass;
  sp.fractions = {0.7, 0.0, 0.3};
  TrainingData data;
  data.dataset = split_dataset(synthesize(so), sp, "synth");
  data.fingerprint = "test";
  TrainConfig t;
  t.n_way = 3;
  t.k_shot = 1;
  t.n_query = 2;
  t.episodes = 5;
  t.val_every = 0;
  t.seed = 4;
  ModelConfig pm;
  pm.backbone.hidden = 8;
  Checkpoint proto = start_run(pm, t, "synth", data);
  // A "trained" ProtoNet: a backbone no fresh initialisation gives.
  Rng rng(2);
  for (float& v : proto.params) v += 0.1f * float(rng.uniform() - 0.5);
  proto.elapsed_seconds = 12.5;
  fsh::test::TempDir dir;
  const std::string path = dir.file("proto.h5");
  auto pmethod = load_method(proto, path);
  write_checkpoint(proto, pmethod->params().layout(), path, {"test", "0", "", 0, {}});

  std::string note;
  t.seed = 9;
  const Checkpoint ck = start_run(hyper_model(BnPolicy::support), t, "synth", data, path, &note);
  CHECK(note.find("protonet") != std::string::npos);
  CHECK(note.find("film.weight") != std::string::npos);  // named among the fresh ones
  CHECK(ck.elapsed_seconds == 12.5);
  CHECK(std::equal(proto.params.begin(), proto.params.end(), ck.params.begin()));
  // Untrained generator on a trained backbone: ProtoNet's loss on any episode.
  auto h = load_method(ck, "hyper");
  const EpisodeTensors ep = random_episode(3, 1, 4, 28, 3);
  CHECK(h->loss_and_grad(ep).loss ==
        doctest::Approx(pmethod->loss_and_grad(ep).loss).epsilon(1e-6));
  // Refused: another backbone width; naming the file.
  try {
    start_run(hyper_model(BnPolicy::support, {}, 16), t, "synth", data, path);
    FAIL("a different backbone was accepted");
  } catch (const usage_error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}

TEST_CASE("fsh-train --method hypernet: flags, --init-from, adapt and eval") {
  fsh::test::TempDir dir;
  const std::string d = dir.file("d.h5"), s = dir.file("s.h5"), e = dir.file("e.h5");
  REQUIRE(sh(tool("fsh-episodes") + " synth --classes 20 --instances 6 --seed 3 -q -o " + d) == 0);
  REQUIRE(sh(tool("fsh-episodes") + " split " + d +
             " --by class --fraction 0.7,0,0.3 --seed 1 -q -o " + s) == 0);
  REQUIRE(sh(tool("fsh-episodes") + " sample " + s +
             " --part test -N 3 -K 1 -Q 2 --count 3 --seed 5 -q -o " + e) == 0);
  const std::string common = " --data " + s + " -N 3 -K 1 -Q 2 --hidden 8 --val-part none -q";
  REQUIRE(sh(tool("fsh-train") + " --method protonet -n 4" + common + " -o " + dir.file("p.h5")) ==
          0);
  REQUIRE(sh(tool("fsh-train") +
             " --method hypernet -n 4 --no-head --refine-steps 1 "
             "--refine-lr 0.02 --generator-width 5 --init-from " +
             dir.file("p.h5") + common + " -o " + dir.file("h.h5")) == 0);
  const Checkpoint h = read_checkpoint(dir.file("h.h5"));
  CHECK(h.model.method == "hypernet");
  CHECK(std::get<bool>(h.model.settings.at("no_head")));
  CHECK(!std::get<bool>(h.model.settings.at("no_film")));
  CHECK(std::get<int64_t>(h.model.settings.at("refine_steps")) == 1);
  CHECK(std::get<int64_t>(h.model.settings.at("generator_width")) == 5);
  CHECK(h.episode == 4);
  REQUIRE(sh(tool("fsh-adapt") + " -q -m " + dir.file("h.h5") + " -e " + e + " -o " +
             dir.file("a.h5")) == 0);
  CHECK(sh(tool("fsh-eval") + " -q -a " + dir.file("a.h5") + " -e " + e + " > /dev/null") == 0);
  // Usage errors (exit 2): --init-from with --resume; a hypernet flag with protonet.
  CHECK(sh(tool("fsh-train") + " -q --resume " + dir.file("h.h5") + " --init-from " +
           dir.file("p.h5") + " -o " + dir.file("x.h5") + " 2> /dev/null") == 2 * 256);
  CHECK(sh(tool("fsh-train") + " --method protonet --no-film -n 1" + common + " -o " +
           dir.file("y.h5") + " 2> /dev/null") == 2 * 256);
}
