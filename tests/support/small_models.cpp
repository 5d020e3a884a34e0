#include "small_models.hpp"

#include <doctest/doctest.h>

#include <utility>

#include "data/split.hpp"
#include "data/synth.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"

namespace fsh::test {

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

std::string train_small(const std::string& method, Dataset& d, const TempDir& dir, uint64_t seed,
                        int64_t n_way, std::string file) {
  ModelConfig m;
  m.method = method;
  m.backbone.hidden = 8;
  TrainConfig t;
  t.n_way = n_way;
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
  run.output = dir.file(file.empty() ? method + ".h5" : file);
  run.progress = false;
  const TrainOutcome out = train(ck, td.dataset_ptr(), nullptr, run);
  REQUIRE(out.status == TrainStatus::finished);
  d = std::move(*td.dataset);
  return run.output;
}

}  // namespace fsh::test
