// Tests of MAML (methods/maml.hpp) that need no PyTorch: Conv-4 Hessian-vector products
// (forward over reverse) against finite differences of the gradient; the second-order
// meta-gradient against finite differences of the meta-loss (directional derivatives and single
// coordinates, 1 and 2 inner steps, both batch-norm policies), and the first-order one
// measurably away from it; thread-independent bits; adaptation as a file scored by fsh-eval
// knowing nothing of MAML; settings, protocol and head checks; a short meta-training run.
// The PyTorch reference (create_graph=True) is tests/test_maml_fixture.cpp.
//
// Finite differences run in double: central differences with h = 1e-6 of a function
// evaluated with forward and inner-loop passes only (no second-order code), tolerance
// |a − n| ≤ 1e-6·(|a| + |n|) + 1e-8 (truncation h²·f''' and rounding 1e-16·|f|/h are far
// below it). The network is piecewise smooth (ReLU, max-pool); at these random inputs no mask
// changes within ±h (a change would show as an O(1/h) outlier, not a small error).
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
#include "methods/maml.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "test_nn_gradcheck.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;
using fsh::test::random_vector;
using V = std::vector<double>;

namespace {

Conv4Config tiny_config() {
  Conv4Config c;
  c.in_channels = 1;
  c.height = c.width = 20;  // 20 -> 10 -> 5 -> 2 (an odd size floors) -> 1
  c.hidden = 4;
  c.depth = 4;
  return c;
}

// A random task: N-way, K-shot, Q queries per class, images uniform in [0, 1).
struct Task64 {
  int N, S, Q;
  V support, query;
  std::vector<int32_t> ys, yq;
  MamlTask<double> view() const {
    MamlTask<double> t;
    t.n_way = N;
    t.support_rows = S;
    t.query_rows = Q;
    t.support = support.data();
    t.support_labels = ys.data();
    t.query = query.data();
    t.query_labels = yq.data();
    return t;
  }
};

Task64 random_task(const Conv4Config& c, int N, int K, int Qc, Rng& rng) {
  Task64 t{N, N * K, N * Qc, {}, {}, {}, {}};
  const std::size_t img = std::size_t(c.in_channels) * c.height * c.width;
  t.support = random_vector(t.S * img, rng, 0, 1);
  t.query = random_vector(t.Q * img, rng, 0, 1);
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) t.ys.push_back(n);
    for (int q = 0; q < Qc; ++q) t.yq.push_back(n);
  }
  return t;
}

// θ: Conv-4 parameters as initialised, γ and β moved off 1 and 0, a random head.
V random_theta(const Conv4Config& c, int N, Rng& rng) {
  const ParamLayout l = maml_layout(c, N);
  V th(l.size());
  Conv4<double>(c).init(th.data(), rng);
  for (const ParamView& v : l.views()) {
    const bool bn = v.name.rfind("bn", 0) == 0, head = v.name.rfind("head", 0) == 0;
    if (!bn && !head) continue;
    const bool gamma = v.name.find("gamma") != std::string::npos;
    for (std::size_t i = 0; i < v.size; ++i)
      th[v.offset + i] = gamma ? 0.6 + 0.8 * rng.uniform() : 0.6 * (rng.uniform() - 0.5);
  }
  return th;
}

double dotv(const V& a, const V& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Relative 1e-6, plus the finite differences' noise floor: a gradient entry is a sum of ~10^4
// terms (a conv weight over every image position), so its rounding error is up to ~1e-13,
// and divided by 2h = 2e-6 that is up to ~5e-8 (seen: 1.4e-8 where the exact value is 0, with
// the x86-64 baseline build's non-fused multiply-adds). 1e-7 is 1e-5 of the H·v scale checked
// below (> 1e-2).
bool close(double a, double n) { return std::abs(a - n) <= 1e-6 * (std::abs(a) + std::abs(n)) + 1e-7; }

}  // namespace

TEST_CASE("Conv-4 Hessian-vector products (forward over reverse) match finite differences") {
  const Conv4Config c = tiny_config();
  Conv4<double> net(c);
  const int B = 6, F = c.feature_dim();
  for (BnMode mode : {BnMode::batch, BnMode::support, BnMode::fixed}) {
    CAPTURE(int(mode));
    Rng rng(7 + int(mode));
    V theta = random_theta(c, 2, rng);
    theta.resize(net.layout().size());
    const V x = random_vector(std::size_t(B) * c.height * c.width, rng, 0, 1);
    const V r = random_vector(std::size_t(B) * F, rng);
    const V v = random_vector(theta.size(), rng);
    std::vector<BnStats<double>> fixed(c.depth);
    for (auto& s : fixed) {
      s.mean = random_vector(c.hidden, rng, -0.2, 0.2);
      s.var = random_vector(c.hidden, rng, 0.05, 0.5);
    }
    // L = Σ r·f + ½ Σ f²: the gradient is backward(r + f), whose tangent along v is
    // backward_tangent with dfeatures = r + f and dfeatures_dot = ḟ.
    auto grad_at = [&](const V& th) {
      Conv4Tape<double> tape;
      const double* f = net.forward(th.data(), x.data(), B, mode, 4, &fixed, tape);
      V df(r.size()), g(th.size());
      for (std::size_t i = 0; i < r.size(); ++i) df[i] = r[i] + f[i];
      net.backward(th.data(), tape, df.data(), g.data());
      return g;
    };
    Conv4Tape<double> tape;
    Conv4TangentTape<double> tt;
    const double* f = net.forward(theta.data(), x.data(), B, mode, 4, &fixed, tape);
    V df(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) df[i] = r[i] + f[i];
    const double* fd = net.forward_tangent(theta.data(), v.data(), tape, tt);
    V hv(theta.size());
    net.backward_tangent(theta.data(), v.data(), tape, tt, df.data(), fd, hv.data());
    const double h = 1e-6;
    V tp(theta), tm(theta);
    for (std::size_t i = 0; i < theta.size(); ++i) tp[i] += h * v[i], tm[i] -= h * v[i];
    const V gp = grad_at(tp), gm = grad_at(tm);
    int bad = 0;
    double scale = 0;
    for (std::size_t i = 0; i < theta.size(); ++i) {
      const double num = (gp[i] - gm[i]) / (2 * h);
      scale = std::max(scale, std::abs(hv[i]));
      if (!close(hv[i], num) && bad++ < 5)
        FAIL_CHECK("H·v[" << i << "] = " << hv[i] << " vs numeric " << num);
    }
    CHECK(bad == 0);
    CHECK(scale > 1e-2);
  }
}

TEST_CASE("MAML second-order meta-gradient matches finite differences of the meta-loss") {
  const Conv4Config c = tiny_config();
  MamlLearner<double> learner(c, 3);
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive})
    for (int steps : {1, 2}) {
      CAPTURE(to_string(bn));
      CAPTURE(steps);
      Rng rng(100 + steps + 10 * int(bn));
      const Task64 task = random_task(c, 3, 2, 2, rng);
      V theta = random_theta(c, 3, rng);
      MamlSteps how;
      how.steps = steps;
      how.lr = 0.4;
      how.bn = bn;
      V grad(theta.size()), grad_fo(theta.size());
      learner.meta_gradient(theta.data(), task.view(), how, grad.data());
      MamlSteps fo = how;
      fo.first_order = true;
      learner.meta_gradient(theta.data(), task.view(), fo, grad_fo.data());
      auto loss = [&] { return learner.meta_loss(theta.data(), task.view(), how); };
      const double h = 1e-6;
      // Directional derivatives along random directions.
      double worst_fo = 0;
      for (int d = 0; d < 3; ++d) {
        const V u = random_vector(theta.size(), rng);
        const V keep = theta;
        for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = keep[i] + h * u[i];
        const double lp = loss();
        for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = keep[i] - h * u[i];
        const double lm = loss();
        theta = keep;
        const double num = (lp - lm) / (2 * h), ana = dotv(grad, u), ana_fo = dotv(grad_fo, u);
        CAPTURE(d);
        CHECK_MESSAGE(close(ana, num), "second order " << ana << " vs numeric " << num);
        worst_fo = std::max(worst_fo, std::abs(ana_fo - num) / std::abs(num));
      }
      // The first-order gradient is a different quantity: off by far more than the tolerance.
      INFO("first-order relative error of the directional derivatives: " << worst_fo);
      CHECK(worst_fo > 1e-3);
      // Single coordinates of every kind of parameter.
      const ParamLayout l = maml_layout(c, 3);
      for (const ParamView& v : l.views()) {
        const std::size_t i = v.offset + v.size / 2;
        const double keep = theta[i];
        theta[i] = keep + h;
        const double lp = loss();
        theta[i] = keep - h;
        const double lm = loss();
        theta[i] = keep;
        const double num = (lp - lm) / (2 * h);
        CAPTURE(v.name);
        CHECK_MESSAGE(close(grad[i], num), grad[i] << " vs numeric " << num);
      }
    }
}

TEST_CASE("MAML: zero inner steps is plain training; the loss and accuracy are the query's") {
  const Conv4Config c = tiny_config();
  MamlLearner<double> learner(c, 3);
  Rng rng(5);
  const Task64 task = random_task(c, 3, 1, 3, rng);
  const V theta = random_theta(c, 3, rng);
  MamlSteps how;
  how.steps = 0;
  V g2(theta.size()), g1(theta.size());
  const EpisodeResult r = learner.meta_gradient(theta.data(), task.view(), how, g2.data());
  how.first_order = true;
  learner.meta_gradient(theta.data(), task.view(), how, g1.data());
  CHECK(g1 == g2);  // no inner step: nothing for the second order to add
  CHECK(r.total == task.Q);
  CHECK(r.loss == doctest::Approx(learner.meta_loss(theta.data(), task.view(), how)));
}

TEST_CASE("MAML meta-gradients give the same bits with 1 and 2 threads") {
  Conv4Config c;
  c.hidden = 8;
  ModelConfig m;
  m.method = "maml";
  m.backbone = c;
  m.settings = {{"ways", int64_t(5)}, {"inner_steps", int64_t(2)}};
  auto method = make_method(m);
  Rng rng(3);
  method->init(rng);
  EpisodeTensors ep;
  ep.n_way = 5;
  ep.k_shot = 1;
  ep.n_query = 3;
  ep.channels = 1;
  ep.height = ep.width = 28;
  ep.support.resize(5 * 784);
  ep.query.resize(15 * 784);
  for (auto& v : ep.support) v = float(rng.uniform());
  for (auto& v : ep.query) v = float(rng.uniform());
  for (int n = 0; n < 5; ++n) {
    ep.support_labels.push_back(n);
    for (int q = 0; q < 3; ++q) ep.query_labels.push_back(n);
  }
  auto run = [&](int threads) {
    set_threads(threads);
    std::vector<float> g(method->params().size());
    method->loss_and_grad(ep, g.data());
    const AdaptedClassifier a = method->adapt(ep);
    g.insert(g.end(), a.primary.begin(), a.primary.end());
    return g;
  };
  const auto one = run(1), two = run(2);
  set_threads(0);
  CHECK(one == two);
}

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

ModelConfig maml_model(BnPolicy bn, int ways) {
  ModelConfig m;
  m.method = "maml";
  m.backbone.hidden = 8;
  m.bn = bn;
  m.settings = {{"ways", int64_t(ways)}, {"adapt_steps", int64_t(3)}, {"inner_lr", 0.4}};
  return m;
}

}  // namespace

TEST_CASE("MAML adaptation emits fine-tuned, folded networks; file and fsh-eval agree") {
  fsh::test::TempDir dir;
  const std::string d = dir.file("d.h5"), eps = dir.file("e.h5");
  REQUIRE(sh(tool("fsh-episodes") + " synth --classes 12 --instances 6 --seed 3 -q -o " + d) == 0);
  REQUIRE(sh(tool("fsh-episodes") + " sample " + d + " -N 3 -K 2 -Q 3 --count 4 --seed 5 -q -o " +
             eps) == 0);
  const EpisodeSet es = open_episodes(eps);
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive}) {
    CAPTURE(to_string(bn));
    auto m = make_method(maml_model(bn, 3));
    Rng rng(17);
    m->init(rng);
    const Conv4Config& bc = m->config().backbone;
    // The in-memory adapted network, unfolded: θ_n from the learner, batch norm with the
    // statistics the policy prescribes, the head's logits.
    MamlLearner<float> learner(bc, 3);
    std::vector<float> adapted(m->params().size());
    std::vector<BnStats<float>> stats;
    std::vector<AdaptedClassifier> direct;
    std::vector<int32_t> pred_memory;
    for (int64_t i = 0; i < es.count(); ++i) {
      const EpisodeTensors t = to_tensors(es.images(i));
      direct.push_back(m->adapt(t));
      const AdaptedClassifier& a = direct.back();
      REQUIRE(!a.convs.empty());
      std::vector<float> logits;
      const auto p = classify(m->config(), a, t, &logits);
      pred_memory.insert(pred_memory.end(), p.begin(), p.end());

      MamlTask<float> task{t.n_way,
                           t.support_rows(),
                           t.query_rows(),
                           t.support.data(),
                           t.support_labels.data(),
                           t.query.data(),
                           t.query_labels.data()};
      MamlSteps how;
      how.steps = 3;
      how.lr = 0.4;
      how.bn = bn;
      learner.adapt(m->params().values(), task, how, adapted.data(), stats);
      std::vector<float> batch(t.support);
      batch.insert(batch.end(), t.query.begin(), t.query.end());
      const int S = t.support_rows(), B = S + t.query_rows(), F = bc.feature_dim(), N = 3;
      Conv4<float> net(bc);
      const float* f = net.forward(adapted.data(), batch.data(), B,
                                   bn == BnPolicy::support ? BnMode::support : BnMode::batch, S);
      const ParamLayout l = learner.layout();
      const float* W = adapted.data() + l.at("head.weight").offset;
      const float* c = adapted.data() + l.at("head.bias").offset;
      double worst = 0;
      for (int q = 0; q < t.query_rows(); ++q)
        for (int k = 0; k < N; ++k) {
          double z = c[k];
          for (int j = 0; j < F; ++j) z += double(W[k * F + j]) * f[(S + q) * F + j];
          worst = std::max(worst, std::abs(logits[q * N + k] - z) / (1 + std::abs(z)));
        }
      INFO("folded vs unfolded logits: worst relative difference " << worst);
      CHECK(worst <= 1e-4);
      // The adapted convolutions are θ_n's, which moved away from θ.
      const ParamLayout conv = conv_layout(bc);
      for (const ParamView& v : conv.views())
        for (std::size_t j = 0; j < v.size; ++j)
          REQUIRE(a.convs[v.offset + j] == adapted[l.at(v.name).offset + j]);
    }
    const std::vector<float> base = m->base_convolutions();
    CHECK(direct[0].convs != base);
    CHECK(direct[0].convs != direct[1].convs);

    // fsh-adapt's path (adapt_episodes + write_adapted), then the fsh-eval executable.
    const AdaptedSet s = adapt_episodes(*m, es);
    CHECK(s.per_episode_convs());
    const std::string a_path = dir.file("a-" + to_string(bn) + ".h5");
    const std::string tsv = dir.file("a-" + to_string(bn) + ".tsv");
    write_adapted(s, a_path, {"test", "0", "", 0, {}});
    REQUIRE(sh(tool("fsh-eval") + " -q -a " + a_path + " -e " + eps + " --predictions " + tsv +
               " > /dev/null") == 0);
    CHECK(predicted_column(slurp(tsv)) == pred_memory);
    const AdaptedSet back = read_adapted(a_path);
    for (int64_t i = 0; i < es.count(); ++i) CHECK(back.episode(i).primary == direct[i].primary);
  }
}

TEST_CASE("MAML: the head's ways are the episodes'; settings are checked") {
  auto m = make_method(maml_model(BnPolicy::support, 3));
  CHECK(m->params().layout().at("head.weight").shape == std::vector<int>{3, 8});
  EpisodeTensors ep;
  ep.n_way = 2;
  ep.k_shot = 1;
  ep.n_query = 1;
  ep.channels = 1;
  ep.height = ep.width = 28;
  ep.support.assign(2 * 784, 0.5f);
  ep.query.assign(2 * 784, 0.5f);
  ep.support_labels = ep.query_labels = {0, 1};
  CHECK_THROWS_WITH_AS(m->loss_and_grad(ep), doctest::Contains("3 classes"), usage_error);
  CHECK_THROWS_WITH_AS(m->adapt(ep), doctest::Contains("2-way"), usage_error);
  ModelConfig bad = maml_model(BnPolicy::support, 3);
  bad.settings["inner_steps"] = int64_t(-1);
  CHECK_THROWS_AS(make_method(bad), usage_error);
  bad = maml_model(BnPolicy::support, 1);
  CHECK_THROWS_AS(make_method(bad), usage_error);
  // The declared protocol: the paper's meta-batch, 5-way, a constant learning rate.
  const MethodInfo& info = method_info("maml");
  CHECK(info.protocol.meta_batch == int64_t(32));
  CHECK(info.protocol.n_way == int64_t(5));
  CHECK(info.protocol.lr_step == int64_t(0));
  const Settings s = complete_settings("maml", {});
  CHECK(std::get<double>(s.at("inner_lr")) == 0.4);
  CHECK(std::get<int64_t>(s.at("inner_steps")) == 1);
  CHECK(std::get<int64_t>(s.at("adapt_steps")) == 3);
  CHECK(std::get<bool>(s.at("first_order")) == false);
}

TEST_CASE("MAML meta-trains: start_run sets the head's ways; loss falls; checkpoint round trip") {
  SynthOptions so;
  so.classes = 30;
  so.instances = 8;
  so.seed = 3;
  SplitOptions sp;
  sp.by = SplitBy::klass;
  sp.fractions = {0.7, 0.0, 0.3};
  TrainingData data;
  data.dataset = split_dataset(synthesize(so), sp, "synth");
  data.fingerprint = "test";
  TrainConfig t;
  t.n_way = 4;
  t.k_shot = 1;
  t.n_query = 3;
  t.episodes = 48;
  t.meta_batch = 4;
  t.val_every = 0;
  t.checkpoint_every = 0;
  t.seed = 11;
  t.schedule = {1e-3, 0, 0.5};
  ModelConfig m;
  m.method = "maml";
  m.backbone.hidden = 8;
  // Validation episodes of other ways than the head's are refused up front.
  TrainConfig tv = t;
  tv.val_every = 10;
  tv.val_way = 5;
  CHECK_THROWS_WITH_AS(start_run(m, tv, "synth", data), doctest::Contains("--val-way"),
                       usage_error);
  m.settings = {{"ways", int64_t(5)}};
  CHECK_THROWS_WITH_AS(start_run(m, t, "synth", data), doctest::Contains("ways"), usage_error);
  m.settings = {};
  Checkpoint ck = start_run(m, t, "synth", data);
  CHECK(std::get<int64_t>(ck.model.settings.at("ways")) == 4);
  fsh::test::TempDir dir;
  TrainRun run;
  run.output = dir.file("maml.h5");
  run.progress = false;
  run.log = dir.file("log.csv");
  run.log_every = 12;
  const TrainOutcome o = train(ck, data.dataset_ptr(), nullptr, run);
  CHECK(o.status == TrainStatus::finished);
  CHECK(o.episodes_done == 48);
  // The training loss of the last records is below that of the first (12 episodes each).
  std::ifstream log(run.log);
  std::string line;
  std::vector<double> losses;
  std::getline(log, line);
  while (std::getline(log, line)) losses.push_back(std::stod(line.substr(line.find(',', 6) + 1)));
  REQUIRE(losses.size() == 4);
  CHECK(losses.back() < losses.front());
  const Checkpoint back = read_checkpoint(run.output);
  CHECK(back.model.method == "maml");
  CHECK(back.model.settings == ck.model.settings);
  CHECK(back.params == ck.params);
}
