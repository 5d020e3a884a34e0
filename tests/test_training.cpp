// Tests of the method-neutral training core: Conv-4 tapes (several forward passes alive at
// once, accumulating backward), the meta-batch reduction (fixed order, thread-independent),
// meta-batch 1 = one episode per Adam step exactly as before, training set-up and seeds by
// purpose, and method settings (declaration, validation, checkpoint round trip).
#include <doctest/doctest.h>

#include <cmath>

#include "backend/registry.hpp"
#include "data/split.hpp"
#include "data/synth.hpp"
#include "finetune_method.hpp"
#include "methods/protonet.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/seeds.hpp"

using namespace fsh;

namespace {

std::vector<float> random_images(int n, Rng& rng) {
  std::vector<float> x(std::size_t(n) * 784);
  for (auto& v : x) v = float(rng.uniform());
  return x;
}

// A split synthetic dataset, made in process: 30 glyph classes, 70% train.
TrainingData small_data() {
  SynthOptions so;
  so.classes = 30;
  so.instances = 8;
  so.seed = 3;
  SplitOptions sp;
  sp.by = SplitBy::klass;
  sp.fractions = {0.7, 0.0, 0.3};
  TrainingData d;
  d.dataset = split_dataset(synthesize(so), sp, "synth");
  d.fingerprint = "test";
  return d;
}

TrainConfig small_train(int64_t episodes, int64_t meta_batch) {
  TrainConfig t;
  t.n_way = 5;
  t.k_shot = 1;
  t.n_query = 3;
  t.episodes = episodes;
  t.meta_batch = meta_batch;
  t.val_every = 0;
  t.checkpoint_every = 0;
  t.seed = 11;
  t.schedule = {1e-3, 3, 0.5};
  return t;
}

ModelConfig small_model() {
  ModelConfig m;
  m.backbone.hidden = 8;
  return m;
}

TrainRun quiet_run(const fsh::test::TempDir& dir, const std::string& name) {
  TrainRun r;
  r.output = dir.file(name);
  r.progress = false;
  return r;
}

}  // namespace

TEST_CASE("tapes: two forward passes alive at once, backward in any order, accumulation") {
  Conv4Config cfg;
  cfg.hidden = 8;
  Conv4<float> net(cfg);
  Rng rng(5);
  std::vector<float> p(net.layout().size());
  net.init(p.data(), rng);
  const auto x1 = random_images(6, rng), x2 = random_images(4, rng);
  const int F = net.feature_dim();
  std::vector<float> d1(std::size_t(6) * F), d2(std::size_t(4) * F);
  for (auto& v : d1) v = float(rng.uniform() - 0.5);
  for (auto& v : d2) v = float(rng.uniform() - 0.5);

  // Reference: one pass at a time with the network's own tape.
  std::vector<float> f1(net.forward(p.data(), x1.data(), 6, BnMode::support, 2),
                        net.forward(p.data(), x1.data(), 6, BnMode::support, 2) + 6 * F);
  std::vector<float> g1(p.size()), g2(p.size());
  net.backward(p.data(), d1.data(), g1.data());
  net.forward(p.data(), x2.data(), 4, BnMode::batch);
  net.backward(p.data(), d2.data(), g2.data());

  // Both passes alive: forward 1, forward 2, then backward 1 and 2.
  Conv4Tape<float> t1, t2;
  const float* a = net.forward(p.data(), x1.data(), 6, BnMode::support, 2, nullptr, t1);
  net.forward(p.data(), x2.data(), 4, BnMode::batch, 0, nullptr, t2);
  CHECK(std::vector<float>(a, a + 6 * F) == f1);
  CHECK(std::vector<float>(t1.features(), t1.features() + 6 * F) == f1);
  std::vector<float> h1(p.size()), acc(p.size());
  net.backward(p.data(), t1, d1.data(), h1.data());
  CHECK(h1 == g1);
  // Accumulation: g1 (overwrite) then += g2.
  net.backward(p.data(), t1, d1.data(), acc.data());
  net.backward(p.data(), t2, d2.data(), acc.data(), nullptr, GradMode::accumulate);
  for (std::size_t i = 0; i < p.size(); ++i) CHECK(acc[i] == g1[i] + g2[i]);
  CHECK(t1.stats().size() == std::size_t(cfg.depth));
}

TEST_CASE("meta-batch gradient: per-episode gradients summed in episode order, then 1/B") {
  TrainingData d = small_data();
  auto m = make_method(small_model());
  Rng rng(1);
  m->init(rng);
  SampleOptions so;
  so.n_way = 5;
  so.k_shot = 1;
  so.n_query = 3;
  so.count = 3;
  so.part = PartChoice::train;
  const Episodes e = sample_episodes(*d.dataset, so, "synth", "test");
  std::vector<EpisodeTensors> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(to_tensors(episode_images(e, i, &*d.dataset)));
  const std::size_t P = m->params().size();
  std::vector<std::vector<float>> g(3, std::vector<float>(P));
  double loss = 0;
  for (int i = 0; i < 3; ++i) loss += m->loss_and_grad(batch[i], g[i].data()).loss;
  std::vector<float> scratch;
  const EpisodeResult r = meta_batch_gradient(*m, batch, scratch);
  CHECK(r.loss == doctest::Approx(loss / 3));
  CHECK(r.total == 45);
  int mismatches = 0;
  for (std::size_t i = 0; i < P; ++i)
    mismatches += m->params().grads()[i] != (g[0][i] + g[1][i] + g[2][i]) * (1.0f / 3.0f);
  CHECK(mismatches == 0);
}

TEST_CASE("meta-batch 1 is one episode per Adam step, as before; meta-batch B is thread-free") {
  const TrainingData d = small_data();
  fsh::test::TempDir dir;
  // Three episodes through train() ...
  Checkpoint ck = start_run(small_model(), small_train(3, 1), "synth", d);
  const std::vector<float> theta0 = ck.params;
  train(ck, d.dataset_ptr(), nullptr, quiet_run(dir, "a.h5"));
  // ... equal the protocol spelled out: episode e from the sampler's stream e, loss_and_grad,
  // Adam at lr(e).
  auto m = make_method(ck.model);
  std::copy(theta0.begin(), theta0.end(), m->params().values());
  Adam adam(m->params().size());
  SampleOptions so;
  so.n_way = 5;
  so.k_shot = 1;
  so.n_query = 3;
  so.seed = 11;
  so.part = PartChoice::train;
  EpisodeSampler sampler(*d.dataset, so, "synth", d.fingerprint);
  const StepDecay sched{1e-3, 3, 0.5};
  for (int64_t e = 0; e < 3; ++e) {
    const Episodes one = sampler.draw(e, 1);
    m->loss_and_grad(to_tensors(episode_images(one, 0, &*d.dataset)));
    adam.step(m->params().values(), m->params().grads(), sched.lr(e));
  }
  CHECK(std::vector<float>(m->params().values(), m->params().values() + m->params().size()) ==
        ck.params);
  CHECK(ck.episode == 3);
  CHECK(ck.optimizer.step == 3);

  // Meta-batch 4, 5 steps, with 1 and with 2 threads: the same bits.
  auto run = [&](int threads) {
    set_threads(threads);
    Checkpoint c = start_run(small_model(), small_train(20, 4), "synth", d);
    train(c, d.dataset_ptr(), nullptr, quiet_run(dir, "t.h5"));
    return c;
  };
  const Checkpoint c1 = run(1), c2 = run(2);
  set_threads(0);
  CHECK(c1.params == c2.params);
  CHECK(c1.optimizer.slots == c2.optimizer.slots);
  CHECK(c1.optimizer.step == 5);
  CHECK(c1.episode == 20);
  // A last, partial step: 10 episodes in meta-batches of 4 are steps of 4, 4 and 2.
  Checkpoint c3 = start_run(small_model(), small_train(10, 4), "synth", d);
  train(c3, d.dataset_ptr(), nullptr, quiet_run(dir, "p.h5"));
  CHECK(c3.optimizer.step == 3);
  CHECK(c3.episode == 10);
}

TEST_CASE("seeds by purpose: initialisation and validation draw no episode's stream") {
  const uint64_t seed = 1;
  // The old initialisation stream, Rng::stream(seed, 0xC0FFEE), was episode 12648430's.
  Rng init = purpose_rng(seed, SeedPurpose::initialisation);
  Rng episode = Rng::stream(seed, 0xC0FFEE);
  Rng first = Rng::stream(seed, 0);
  const uint64_t a = init.next_u64();
  CHECK(a != episode.next_u64());
  CHECK(a != first.next_u64());
  CHECK(derive_seed(seed, SeedPurpose::validation) != seed);
  CHECK(derive_seed(seed, SeedPurpose::validation) != derive_seed(seed + 1, SeedPurpose::validation));
  // start_run: θ from the initialisation stream, validation seed derived; same seed, same θ.
  const TrainingData d = small_data();
  const Checkpoint c1 = start_run(small_model(), small_train(1, 1), "synth", d);
  const Checkpoint c2 = start_run(small_model(), small_train(1, 1), "synth", d);
  CHECK(c1.params == c2.params);
  CHECK(c1.train.val_seed == derive_seed(11, SeedPurpose::validation));
  CHECK(c1.model.backbone.height == 28);
  ProtoNet p(c1.model);
  Rng r = purpose_rng(11, SeedPurpose::initialisation);
  p.init(r);
  CHECK(std::vector<float>(p.params().values(), p.params().values() + p.params().size()) ==
        c1.params);
  CHECK(resume_warnings(true, false).size() == 1);
  CHECK(resume_warnings(false, false).empty());
}

TEST_CASE("method settings: declared once, completed, validated, stored and read back") {
  fsh::test::register_finetune_method();
  // Defaults filled in; wrong names, types and ranges refused with the setting's name.
  const Settings s = complete_settings("finetune", {{"lr", 0.2}});
  CHECK(std::get<int64_t>(s.at("steps")) == 3);
  CHECK(std::get<double>(s.at("lr")) == 0.2);
  CHECK(std::get<double>(complete_settings("finetune", {{"lr", int64_t(1)}}).at("lr")) == 1.0);
  CHECK_THROWS_WITH_AS(complete_settings("finetune", {{"nope", int64_t(1)}}),
                       doctest::Contains("no setting 'nope'"), usage_error);
  CHECK_THROWS_WITH_AS(complete_settings("finetune", {{"steps", 0.5}}),
                       doctest::Contains("steps must be an integer"), usage_error);
  CHECK_THROWS_WITH_AS(complete_settings("finetune", {{"steps", int64_t(1000)}}),
                       doctest::Contains("outside [0, 100]"), usage_error);
  CHECK_THROWS_AS(complete_settings("protonet", {{"steps", int64_t(1)}}), usage_error);
  CHECK(describe_settings(method_info("finetune").settings, s) == "steps 3, lr 0.2");
  CHECK(describe_settings(method_info("protonet").settings, {}) == "(none)");

  // Through a checkpoint: written typed, read back equal; a tampered value is refused.
  const TrainingData d = small_data();
  ModelConfig m = small_model();
  m.method = "finetune";
  m.settings = {{"steps", int64_t(7)}};
  Checkpoint ck = start_run(m, small_train(1, 2), "synth", d);
  fsh::test::TempDir dir;
  auto method = load_method(ck, "memory");
  write_checkpoint(ck, method->params().layout(), dir.file("m.h5"), {"test", "0", "", 0, {}});
  const Checkpoint back = read_checkpoint(dir.file("m.h5"));
  CHECK(back.model.settings == ck.model.settings);
  CHECK(std::get<int64_t>(back.model.settings.at("steps")) == 7);
  CHECK(back.train.meta_batch == 2);
  CHECK(load_method(back, "m.h5")->setting_int("steps") == 7);
}

TEST_CASE("to_tensors: uint8 [B, H, W, C] -> float (B, C, H, W) / 255, by hand") {
  EpisodeImages e;
  e.n_way = 2;
  e.k_shot = 1;
  e.n_query = 1;
  e.channels = 3;
  e.height = 2;
  e.width = 3;
  const std::size_t per = 3 * 2 * 3;
  for (std::size_t i = 0; i < 2 * per; ++i) e.support.push_back(uint8_t(i * 7 % 256));
  for (std::size_t i = 0; i < 2 * per; ++i) e.query.push_back(uint8_t(255 - i));
  e.support_labels = {0, 1};
  e.query_labels = {1, 0};
  const EpisodeTensors t = to_tensors(e);
  REQUIRE(t.support.size() == 2 * per);
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) {
          const std::size_t src = ((std::size_t(b) * 2 + y) * 3 + x) * 3 + c;
          const std::size_t dst = ((std::size_t(b) * 3 + c) * 2 + y) * 3 + x;
          CHECK(t.support[dst] == e.support[src] * (1.0f / 255.0f));
          CHECK(t.query[dst] == e.query[src] * (1.0f / 255.0f));
        }
  CHECK(t.query_labels == e.query_labels);
  CHECK(t.image_size() == per);
}
