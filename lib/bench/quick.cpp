// fsh-bench --quick (see quick.hpp).
#include "bench/quick.hpp"

#include <algorithm>
#include <filesystem>

#include "data/fingerprint.hpp"
#include "data/split.hpp"
#include "data/synth.hpp"
#include "io/dataset_io.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "util/error.hpp"

namespace fsh::bench {

QuickShape quick_glyphs() {
  QuickShape s;
  // 20-way episodes with 5 queries per class: 100 queries, as many as 5-way with 15, which
  // keeps the run's cost (classifying the queries) within budget.
  s.configs = {{5, 1, 15}, {5, 5, 15}, {20, 1, 5}};
  return s;
}

QuickShape quick_rgb() {
  QuickShape s;
  s.size = 84;
  s.channels = 3;
  s.classes = 80;  // 4 alphabets: 3 to train on, 1 to test on
  s.instances = 6;
  s.rotations = 1;
  s.train_fraction = 0.75;
  s.configs = {{5, 1, 5}};
  s.episodes = 10;
  s.train_way = 5;
  s.train_shot = 1;
  s.train_query = 5;
  s.train_seconds = 20;
  return s;
}

namespace {

std::string fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

std::vector<int64_t> quick_head_ways(const std::string& method,
                                     const std::vector<ConfigSpec>& configs) {
  std::vector<int64_t> ways;
  if (!fixed_head(method)) return ways;
  for (const ConfigSpec& c : configs)
    if (std::find(ways.begin(), ways.end(), c.n_way) == ways.end()) ways.push_back(c.n_way);
  return ways;
}

std::string quick_model_file(const std::string& method, int64_t ways) {
  return method + (ways > 0 ? "-" + std::to_string(ways) + "w" : "") + ".h5";
}

Section make_quick_section(const std::string& name, const QuickShape& q, const QuickOptions& o) {
  namespace fs = std::filesystem;
  auto say = [&](const std::string& m) {
    if (o.message) o.message(m);
  };
  const std::vector<std::string> methods = o.methods.empty() ? method_names() : o.methods;
  if (q.train_seconds <= 0 && q.train_episodes <= 0)
    throw usage_error("quick training needs a time budget or an episode budget");
  // The models to train: one per method, or one per way count for a method with a fixed head.
  struct Job {
    std::string method;
    int64_t ways = 0;  // the head's, 0: the method takes any number of ways
  };
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < methods.size(); ++i) {
    if (std::find(methods.begin(), methods.begin() + i, methods[i]) != methods.begin() + i)
      throw usage_error("method " + methods[i] + " is listed twice");
    const std::vector<int64_t> ways = quick_head_ways(methods[i], q.configs);  // also: unknown
    if (ways.empty()) jobs.push_back({methods[i], 0});
    for (int64_t w : ways) jobs.push_back({methods[i], w});
  }
  const fs::path dir(o.dir);
  for (const char* sub : {"data", "episodes", "models"}) fs::create_directories(dir / sub);

  Stopwatch clock;
  SynthOptions so;
  so.classes = q.classes;
  so.instances = q.instances;
  so.size = q.size;
  so.channels = q.channels;
  so.classes_per_group = q.per_group;
  so.seed = o.seed;
  so.threads = o.threads;
  SplitOptions sp;
  sp.by = SplitBy::group;
  sp.fractions = {q.train_fraction, 0.0, 1.0 - q.train_fraction};
  sp.rotations = q.rotations;
  sp.seed = o.seed;
  Dataset data = split_dataset(synthesize(so), sp, "synth");
  // Recorded in the episodes and models as an absolute path, so they find it from anywhere.
  const std::string data_path = fs::absolute(dir / "data" / "glyphs.h5").lexically_normal().string();
  Provenance prov = o.provenance;
  prov.seed = o.seed;
  write_dataset(data, data_path, prov);
  say(name + ": synthesized " + std::to_string(q.classes) + " glyph classes x " +
      std::to_string(q.instances) + " (" + std::to_string(q.size) + "x" + std::to_string(q.size) +
      "x" + std::to_string(q.channels) + "), split by alphabet with " +
      std::to_string(q.rotations) + " rotation(s) in " + fixed(clock.seconds(), 1) + " s -> " +
      data_path);

  Section s;
  s.name = name;
  s.dataset = std::move(data);
  sample_tests(s, q.configs, PartChoice::test, q.episodes, o.seed, false, data_path, data_path,
               (dir / "episodes").string(), prov);

  // Training reads the dataset held by the section (start_run needs only its shape and
  // fingerprint; train() samples from it).
  TrainingData td;
  td.fingerprint = dataset_fingerprint(*s.dataset);
  // Every model has the same share, so every model scored on a configuration had the same
  // budget.
  const double seconds = q.train_seconds / double(jobs.size());
  for (const Job& job : jobs) {
    const std::string& method = job.method;
    ModelConfig mc;
    mc.method = method;
    TrainConfig t;
    t.part = PartChoice::train;
    t.n_way = job.ways > 0 ? job.ways : q.train_way;
    t.k_shot = q.train_shot;
    t.n_query = q.train_query;
    t.episodes = q.train_episodes > 0 ? q.train_episodes : int64_t(1) << 40;
    t.seed = o.seed;
    t.val_every = 0;
    t.checkpoint_every = 0;
    td.dataset = std::move(s.dataset);
    s.dataset.reset();
    Checkpoint ck = start_run(mc, t, data_path, td);
    TrainRun run;
    run.output = (dir / "models" / quick_model_file(method, job.ways)).string();
    run.max_seconds = seconds;
    run.progress = o.progress;
    run.provenance = prov;
    run.provenance.inputs = {data_path};
    const std::string what = method + (job.ways > 0 ? " " + std::to_string(job.ways) + "-way" : "");
    say(name + ": training " + what + " (" + std::to_string(t.n_way) + "-way " +
        std::to_string(q.train_shot) + "-shot " + std::to_string(q.train_query) + "-query" +
        (q.train_episodes > 0 ? ", " + std::to_string(q.train_episodes) + " episodes" : "") +
        (run.max_seconds > 0 ? ", at most " + fixed(run.max_seconds, 0) + " s" : "") + ")");
    PeakMemory memory;
    memory.start();
    const TrainOutcome out = train(ck, td.dataset_ptr(), nullptr, run);
    const PeakMemory::Reading mem = memory.read();
    s.dataset = std::move(td.dataset);
    td.dataset.reset();
    if (out.status == TrainStatus::diverged)
      throw error("training " + what + " diverged: " + out.message);
    if (out.status == TrainStatus::interrupted)
      throw error("interrupted by signal " + std::to_string(out.signal) + " while training " +
                  what);
    Entrant e = load_entrant(run.output);
    EntrantModel& m = e.models.front();
    m.trained_here = true;
    m.training_memory = mem;
    m.stopped_by = out.status == TrainStatus::time_limit ? "time budget" : "episode budget";
    say(name + ": " + what + " trained " + std::to_string(out.episodes_this_run) +
        " episodes in " + fixed(out.seconds_this_run, 1) + " s (" + m.stopped_by + ")");
    add_entrant(s.entrants, std::move(e));
  }
  return s;
}

}  // namespace fsh::bench
