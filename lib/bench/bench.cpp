// The comparison (see bench.hpp).
#include "bench/bench.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <variant>

#include "backend/registry.hpp"
#include "bench/shard.hpp"
#include "data/fingerprint.hpp"
#include "methods/evaluate.hpp"
#include "methods/trainer.hpp"
#include "nn/optim.hpp"
#include "util/error.hpp"

namespace fsh::bench {

std::string ConfigSpec::key() const {
  return std::to_string(n_way) + "w" + std::to_string(k_shot) + "s";
}

std::string ConfigSpec::name() const {
  return std::to_string(n_way) + "-way " + std::to_string(k_shot) + "-shot";
}

ConfigSpec parse_config(const std::string& key, int64_t n_query) {
  ConfigSpec c;
  c.n_query = n_query;
  long long n = 0, k = 0;
  char w = 0, s = 0, extra = 0;
  if (std::sscanf(key.c_str(), "%lld%c%lld%c%c", &n, &w, &k, &s, &extra) != 4 || w != 'w' ||
      s != 's' || key.find_first_not_of("0123456789ws") != std::string::npos)
    throw usage_error("configuration '" + key + "' is not of the form NwKs (e.g. 5w1s: 5-way "
                      "1-shot)");
  if (n < 2 || n > 100000 || k < 1 || k > 100000)
    throw usage_error("configuration '" + key + "': ways must be in [2, 100000] and shots in "
                      "[1, 100000]");
  if (n_query < 1 || n_query > 100000)
    throw usage_error("queries per class must be in [1, 100000], got " + std::to_string(n_query));
  c.n_way = n;
  c.k_shot = k;
  return c;
}

std::vector<ConfigSpec> parse_configs(const std::string& list, int64_t n_query) {
  std::vector<ConfigSpec> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const ConfigSpec c = parse_config(list.substr(start, comma - start), n_query);
    for (const ConfigSpec& o : out)
      if (o.key() == c.key()) throw usage_error("configuration " + c.key() + " is listed twice");
    out.push_back(c);
    start = comma + 1;
  }
  return out;
}

bool fixed_head(const std::string& method) {
  for (const SettingSpec& spec : method_info(method).settings)
    if (spec.name == "ways") return true;
  return false;
}

int64_t head_ways(const ModelConfig& m) {
  if (!fixed_head(m.method)) return 0;
  auto it = m.settings.find("ways");
  if (it == m.settings.end() || !std::holds_alternative<int64_t>(it->second))
    throw usage_error(m.method + " model without an integer setting 'ways' (its head's classes)");
  return std::get<int64_t>(it->second);
}

int Entrant::model_for(int64_t n_way) const {
  for (std::size_t i = 0; i < models.size(); ++i)
    if (models[i].ways == 0 || models[i].ways == n_way) return int(i);
  return -1;
}

std::string Entrant::ways_text() const {
  std::string out;
  for (std::size_t i = 0; i < models.size(); ++i)
    out += std::string(i == 0 ? "" : i + 1 == models.size() ? " and " : ", ") +
           (models[i].ways ? std::to_string(models[i].ways) + "-way" : "any number of ways");
  return out;
}

Entrant load_entrant(const std::string& spec) {
  Entrant e;
  EntrantModel m;
  const std::size_t eq = spec.find('=');
  // "LABEL=PATH"; a '=' after a '/' belongs to the path.
  if (eq != std::string::npos && spec.substr(0, eq).find('/') == std::string::npos) {
    e.label = spec.substr(0, eq);
    m.path = spec.substr(eq + 1);
    if (e.label.empty()) throw usage_error("model '" + spec + "': the label before '=' is empty");
  } else {
    m.path = spec;
  }
  if (m.path.empty()) throw usage_error("model '" + spec + "': no file named");
  m.checkpoint = read_checkpoint(m.path);
  e.method = m.checkpoint.model.method;
  if (e.label.empty()) e.label = e.method;
  for (char c : e.label)
    if (c == ',' || c == '"' || c == '<' || c == '>' || c == '&' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20)
      throw usage_error("label '" + e.label + "' of " + m.path + ": labels may not hold , \" < > "
                        "& \\ or control characters");
  try {
    m.ways = head_ways(m.checkpoint.model);
  } catch (const usage_error& x) {
    throw usage_error(m.path + ": " + x.what());
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(m.path, ec);
  m.file_bytes = ec ? 0 : static_cast<int64_t>(size);
  e.models.push_back(std::move(m));
  return e;
}

namespace {

// Whether model m (of `method`) may join the first n models of entrant e under e's label:
// usage_error naming both files otherwise.
void check_joins(const Entrant& e, std::size_t n, const std::string& method,
                 const EntrantModel& m) {
  const std::string both = " (" + e.models.front().path + " and " + m.path + ")";
  const std::string remedy = "; name them apart with LABEL=PATH to compare them";
  if (method != e.method)
    throw usage_error("two models are labelled '" + e.label + "'" + both + " but are of "
                      "different methods (" + e.method + " and " + method + ")" + remedy);
  if (m.ways == 0)
    throw usage_error("two models are labelled '" + e.label + "'" + both + ": " + method +
                      " scores any number of ways with one model" + remedy);
  for (std::size_t i = 0; i < n; ++i)
    if (e.models[i].ways == m.ways)
      throw usage_error("two models labelled '" + e.label + "' have " + std::to_string(m.ways) +
                        "-way heads (" + e.models[i].path + " and " + m.path + "): one model "
                        "per way count" + remedy);
}

}  // namespace

void add_entrant(std::vector<Entrant>& entrants, Entrant e) {
  for (Entrant& o : entrants)
    if (o.label == e.label) {
      for (EntrantModel& m : e.models) {
        check_joins(o, o.models.size(), e.method, m);
        o.models.push_back(std::move(m));
      }
      return;
    }
  entrants.push_back(std::move(e));
}

void check_labels(const std::vector<Entrant>& entrants) {
  for (std::size_t i = 0; i < entrants.size(); ++i) {
    const Entrant& e = entrants[i];
    if (e.models.empty()) throw usage_error("'" + e.label + "' has no model");
    for (std::size_t j = 0; j < i; ++j)
      if (e.label == entrants[j].label)
        throw usage_error("two models are labelled '" + e.label + "' (" +
                          entrants[j].models.front().path + " and " + e.models.front().path +
                          "): name them with LABEL=PATH");
    // Each model against those before it, as add_entrant would have joined them.
    if (e.models.front().checkpoint.model.method != e.method)
      throw usage_error(e.models.front().path + " is a " +
                        e.models.front().checkpoint.model.method + " model, not " + e.method);
    for (std::size_t k = 1; k < e.models.size(); ++k)
      check_joins(e, k, e.models[k].checkpoint.model.method, e.models[k]);
  }
}

void add_episodes_file(Section& s, const std::string& path, const std::string& dataset_path) {
  EpisodeSet es = open_episodes(path, dataset_path);
  if (es.count() == 0) throw usage_error(path + ": holds no episodes");
  const Episodes& e = es.episodes;
  int64_t h = e.height, w = e.width, c = e.channels;
  if (es.dataset) h = es.dataset->height, w = es.dataset->width, c = es.dataset->channels;
  if (s.tests.empty() && s.height == 0) {
    s.height = h;
    s.width = w;
    s.channels = c;
  } else if (h != s.height || w != s.width || c != s.channels) {
    throw usage_error(path + ": images are " + std::to_string(h) + "x" + std::to_string(w) + "x" +
                      std::to_string(c) + ", the other test sets' " + std::to_string(s.height) +
                      "x" + std::to_string(s.width) + "x" + std::to_string(s.channels));
  }
  TestSet t;
  t.spec.n_way = e.n_way;
  t.spec.k_shot = e.k_shot;
  t.spec.n_query = e.n_query;
  t.source = path;
  t.images = es.source;
  if (es.dataset) {
    if (s.dataset) {
      // Test sets share one dataset in memory: they must index the same one.
      for (const TestSet& o : s.tests)
        if (!o.episodes.embedded() && o.episodes.dataset_fingerprint != e.dataset_fingerprint)
          throw usage_error(path + ": indexes another dataset (fingerprint " +
                            e.dataset_fingerprint + ") than " + o.source + " (" +
                            o.episodes.dataset_fingerprint + "); run fsh-bench once per dataset");
    } else {
      s.dataset = std::move(es.dataset);
    }
  }
  t.episodes = std::move(es.episodes);
  for (const TestSet& o : s.tests)
    if (o.spec.key() == t.spec.key() && o.spec.n_query == t.spec.n_query)
      throw usage_error(path + ": a second " + t.spec.name() + " test set (first: " + o.source +
                        ")");
  s.tests.push_back(std::move(t));
}

void sample_tests(Section& s, const std::vector<ConfigSpec>& configs, PartChoice part,
                  int64_t count, uint64_t seed, bool within_group, const std::string& dataset_path,
                  const std::string& where, const std::string& dir, const Provenance& prov) {
  if (!s.dataset) throw usage_error("sample_tests: no dataset");
  const std::string fingerprint = dataset_fingerprint(*s.dataset);
  s.height = s.dataset->height;
  s.width = s.dataset->width;
  s.channels = s.dataset->channels;
  for (const ConfigSpec& c : configs) {
    SampleOptions o;
    o.n_way = c.n_way;
    o.k_shot = c.k_shot;
    o.n_query = c.n_query;
    o.count = count;
    o.seed = seed;
    o.part = part;
    o.within_group = within_group;
    TestSet t;
    t.spec = c;
    // `dataset_path` is what the file records, `where` what messages call it.
    t.episodes = sample_episodes(*s.dataset, o, dataset_path, fingerprint);
    t.source = std::to_string(count) + " episodes sampled from " + where + ", part " +
               to_string(part) + (within_group ? " (within groups)" : "") + ", seed " +
               std::to_string(seed);
    t.images = where;
    s.tests.push_back(std::move(t));
  }
  // Written once every configuration could be drawn.
  if (!dir.empty()) std::filesystem::create_directories(dir);
  if (!dir.empty())
    for (std::size_t i = s.tests.size() - configs.size(); i < s.tests.size(); ++i) {
      TestSet& t = s.tests[i];
      const std::string file = (std::filesystem::path(dir) / (t.spec.key() + ".h5")).string();
      write_episodes(t.episodes, file, prov);
      t.source += " -> " + file;
    }
}

namespace {

// Lends a test set's episodes, and the section's dataset unless the images are embedded, to an
// EpisodeSet for the library's adapt/evaluate functions, and takes them back when done (one
// copy of the dataset in memory however many test sets share it).
class LentSet {
 public:
  LentSet(Section& s, TestSet& t) : s_(s), t_(t) {
    set_.episodes = std::move(t.episodes);
    if (!set_.episodes.embedded()) {
      if (!s.dataset) throw usage_error(t.source + ": no images for these episodes");
      set_.dataset = std::move(s.dataset);
      s.dataset.reset();
    }
    set_.source = t.images;
  }
  ~LentSet() {
    t_.episodes = std::move(set_.episodes);
    if (set_.dataset) s_.dataset = std::move(set_.dataset);
  }
  LentSet(const LentSet&) = delete;
  LentSet& operator=(const LentSet&) = delete;
  const EpisodeSet& get() const { return set_; }

 private:
  Section& s_;
  TestSet& t_;
  EpisodeSet set_;
};

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

std::string fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::vector<EpisodeTensors> timed_episodes(const EpisodeSet& es, int64_t n) {
  std::vector<EpisodeTensors> timed;
  for (int64_t k = 0; k < n; ++k) timed.push_back(to_tensors(es.images(k)));
  return timed;
}

// Adaptation of each of `episodes` by each of `methods` (ms; [method][episode]), after `warmup`
// untimed adaptations per method. Timed in turn, episode by episode -- episode k by every method,
// then episode k + 1 -- with the order of the methods rotated by one each episode: a change in
// the machine's load while the series runs falls on every method alike, so the ratios of the
// medians hold on a shared machine, and no method always follows the same one.
std::vector<std::vector<double>> time_in_turn(const std::vector<Method*>& methods,
                                              const std::vector<EpisodeTensors>& episodes,
                                              int64_t warmup) {
  const std::size_t M = methods.size();
  for (Method* m : methods)
    for (int64_t w = 0; w < warmup; ++w) m->adapt(episodes[std::size_t(w) % episodes.size()]);
  std::vector<std::vector<double>> ms(M);
  for (auto& v : ms) v.reserve(episodes.size());
  for (std::size_t k = 0; k < episodes.size(); ++k)
    for (std::size_t j = 0; j < M; ++j) {
      const std::size_t i = (j + k) % M;
      Stopwatch s;
      const AdaptedClassifier a = methods[i]->adapt(episodes[k]);
      ms[i].push_back(1e3 * s.seconds());
    }
  return ms;
}

// The adaptation-time columns of one configuration's cells: every model timed in turn
// (time_in_turn) with one thread, then with all.
void time_adaptations(const Section& s, const TestSet& t,
                      const std::vector<EpisodeTensors>& timed, const BenchOptions& o,
                      std::vector<Cell>& cells) {
  if (timed.empty()) return;
  std::vector<std::unique_ptr<Method>> owned;
  std::vector<Method*> methods;
  for (const Entrant& e : s.entrants) {
    const EntrantModel& model = e.models[std::size_t(e.model_for(t.spec.n_way))];
    owned.push_back(load_method(model.checkpoint, model.path));
    methods.push_back(owned.back().get());
  }
  set_threads(o.threads);
  const int all = threads();
  set_threads(1);
  const auto one = time_in_turn(methods, timed, o.timing_warmup);
  set_threads(o.threads);
  const auto many = all == 1 ? one : time_in_turn(methods, timed, o.timing_warmup);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells[i].adapt_ms_1t = latency_stats(one[i]);
    cells[i].adapt_ms_nt = latency_stats(many[i]);
  }
}

// Optimizer steps as fsh-train takes them, on a copy of the model's θ, over the test set's
// episodes in turn; one untimed step first. Fills the cell's training figures.
void time_training(const EntrantModel& e, const EpisodeSet& es, double seconds, Cell& cell) {
  const Checkpoint& ck = e.checkpoint;
  auto m = load_method(ck, e.path);
  const std::size_t n = m->params().size();
  std::unique_ptr<Optimizer> opt;
  if (ck.train.optimizer == "sgd")
    opt = std::make_unique<Sgd>(n, SgdConfig{ck.train.momentum, 0.0});
  else
    opt = std::make_unique<Adam>(n);
  const int64_t B = std::max<int64_t>(1, ck.train.meta_batch);
  const double lr = ck.train.schedule.lr(ck.episode);
  std::vector<EpisodeTensors> batch(static_cast<std::size_t>(B));
  std::vector<float> scratch;
  int64_t next = 0;
  auto step = [&] {
    for (auto& t : batch) t = to_tensors(es.images(next++ % es.count()));
    meta_batch_gradient(*m, batch, scratch);
    opt->step(m->params().values(), m->params().grads(), lr);
  };
  step();
  Stopwatch s;
  int64_t steps = 0;
  do {
    step();
    ++steps;
  } while (s.seconds() < seconds);
  cell.meta_batch = B;
  cell.train_seconds_timed = s.seconds();
  cell.train_tasks_timed = steps * B;
  cell.train_tasks_per_s = double(cell.train_tasks_timed) / cell.train_seconds_timed;
}

// One model on one test set: accuracy (or, with `given`, the accuracies a merge of shards
// gives), training timing, memory (adaptation is timed by time_adaptations, every method
// together, on `timed`).
Cell run_cell(const EntrantModel& e, const EpisodeSet& es, const std::vector<EpisodeTensors>& timed,
              const BenchOptions& o, const GivenCell* given) {
  set_threads(o.threads);
  const int all = threads();
  Cell cell;
  cell.model = e.path;
  std::unique_ptr<Method> m;
  if (given) {
    cell.adapted_bytes_per_episode = given->adapted_bytes_per_episode;
    cell.episode_accuracy = given->episode_accuracy;
  } else {
    m = load_method(e.checkpoint, e.path);
    const AdaptedSet a = adapt_episodes(*m, es);
    cell.adapted_bytes_per_episode =
        adapted_bytes_per_episode(adapted_floats(a) + a.convs.size(), a.count());
    const Evaluation ev = evaluate_adapted(a, es, false, e.path);
    cell.episode_accuracy = ev.accuracy;
  }
  cell.accuracy = mean_ci95(cell.episode_accuracy);
  m.reset();
  if (!timed.empty()) {
    // Memory of the adaptations that are timed (time_in_turn, later, with every method of the
    // configuration): a fresh instance, so that the stretch sees its workspaces grow from
    // nothing, adapting with one thread, then with all. Every episode of a configuration has
    // the same shapes, so the workspaces have their size after the first: the warm-up's
    // number of episodes (at least one) is all the stretch adapts, not the whole timed set
    // again.
    const std::size_t n =
        std::min(timed.size(), std::size_t(std::max<int64_t>(1, o.timing_warmup)));
    PeakMemory memory;
    memory.start();
    m = load_method(e.checkpoint, e.path);
    set_threads(1);
    for (std::size_t k = 0; k < n; ++k) m->adapt(timed[k]);
    set_threads(o.threads);
    if (all > 1)
      for (std::size_t k = 0; k < n; ++k) m->adapt(timed[k]);
    cell.adapt_memory = memory.read();
  }
  m.reset();
  if (o.train_seconds > 0) {
    PeakMemory memory;
    memory.start();
    time_training(e, es, o.train_seconds, cell);
    cell.train_memory = memory.read();
  }
  return cell;
}

}  // namespace

std::string check_entrants(const Section& s, const BenchOptions& o,
                           const std::vector<ConfigSpec>& configs) {
  if (s.entrants.empty()) throw usage_error("no methods to compare");
  check_labels(s.entrants);
  std::string reference = s.entrants.front().label;
  bool found = false;
  for (const Entrant& e : s.entrants) found |= e.label == o.reference;
  if (found) {
    reference = o.reference;
  } else if (o.reference_required) {
    std::string labels;
    for (const Entrant& e : s.entrants) labels += (labels.empty() ? "" : ", ") + e.label;
    throw usage_error("reference '" + o.reference + "' is not among the methods (" + labels +
                      ")");
  }
  for (const Entrant& e : s.entrants)
    for (const EntrantModel& m : e.models) {
      const Conv4Config& b = m.checkpoint.model.backbone;
      if (b.in_channels != s.channels || b.height != s.height || b.width != s.width)
        throw usage_error(m.path + ": the model takes " + std::to_string(b.height) + "x" +
                          std::to_string(b.width) + "x" + std::to_string(b.in_channels) +
                          " images, the test episodes have " + std::to_string(s.height) + "x" +
                          std::to_string(s.width) + "x" + std::to_string(s.channels));
    }
  // A method whose head is fixed to one way count scores only configurations of that many ways.
  for (const ConfigSpec& c : configs)
    for (const Entrant& e : s.entrants)
      if (e.model_for(c.n_way) < 0) {
        std::string files;
        for (const EntrantModel& m : e.models) files += (files.empty() ? "" : ", ") + m.path;
        const std::string n = std::to_string(c.n_way);
        throw usage_error(e.label + " has no model for " + c.name() + ": " +
                          (e.models.size() > 1 ? "its models' heads are " : "its model's head is ") +
                          e.ways_text() + " (" + files + "); give one trained " + n +
                          "-way as well (fsh-train --method " + e.method + " -N " + n +
                          ", then -m " + e.label + "=FILE)");
      }
  return reference;
}

std::string check_entrants(const Section& s, const BenchOptions& o) {
  std::vector<ConfigSpec> configs;
  for (const TestSet& t : s.tests) configs.push_back(t.spec);
  return check_entrants(s, o, configs);
}

SectionResult run_section(Section& s, const BenchOptions& o,
                          const std::vector<std::vector<GivenCell>>* given) {
  if (s.tests.empty()) throw usage_error("no test episodes");
  if (given && given->size() != s.tests.size())
    throw shape_error("run_section: given cells for " + std::to_string(given->size()) +
                      " test sets, the section has " + std::to_string(s.tests.size()));
  const std::string reference = check_entrants(s, o);
  auto say = [&](const std::string& m) {
    if (o.message) o.message(m);
  };
  SectionResult r;
  r.name = s.name;
  r.height = s.height;
  r.width = s.width;
  r.channels = s.channels;
  r.reference = reference;
  std::vector<std::size_t> first_summary;  // per entrant: its first model's entry in r.methods
  for (const Entrant& e : s.entrants) {
    first_summary.push_back(r.methods.size());
    for (const EntrantModel& x : e.models) {
      MethodSummary m;
      m.label = e.label;
      m.method = e.method;
      m.path = x.path;
      m.ways = x.ways;
      m.several = e.models.size() > 1;
      m.bn = to_string(x.checkpoint.model.bn);
      m.settings = describe_settings(method_info(m.method).settings, x.checkpoint.model.settings);
      m.parameters = static_cast<int64_t>(x.checkpoint.params.size());
      m.param_bytes = m.parameters * int64_t(sizeof(float));
      m.file_bytes = x.file_bytes;
      m.trained_episodes = x.checkpoint.episode;
      m.trained_seconds = x.checkpoint.elapsed_seconds;
      m.stopped_by = x.stopped_by;
      m.trained_here = x.trained_here;
      m.training_memory = x.training_memory;
      r.methods.push_back(m);
    }
  }

  set_threads(o.threads);
  const int all = threads();
  for (std::size_t ti = 0; ti < s.tests.size(); ++ti) {
    TestSet& t = s.tests[ti];
    LentSet lent(s, t);
    const EpisodeSet& es = lent.get();
    // The timed episodes' tensors, converted once for the memory stretches and the timing.
    const std::vector<EpisodeTensors> timed =
        timed_episodes(es, std::max<int64_t>(0, std::min<int64_t>(o.timing_episodes, es.count())));
    ConfigResult cr;
    cr.spec = t.spec;
    cr.episodes = es.count();
    cr.source = t.source;
    for (std::size_t i = 0; i < s.entrants.size(); ++i) {
      const Entrant& e = s.entrants[i];
      const int k = e.model_for(t.spec.n_way);  // >= 0 (check_entrants)
      const EntrantModel& model = e.models[std::size_t(k)];
      say(s.name + ", " + t.spec.name() + ": " + e.label +
          (e.models.size() > 1 ? " (" + model.path + ")" : "") + " on " +
          std::to_string(es.count()) + " episodes");
      const GivenCell* g = nullptr;
      if (given) {
        if ((*given)[ti].size() != s.entrants.size())
          throw shape_error("run_section: given cells for " +
                            std::to_string((*given)[ti].size()) + " entrants, the section has " +
                            std::to_string(s.entrants.size()));
        g = &(*given)[ti][i];
        if (static_cast<int64_t>(g->episode_accuracy.size()) != es.count())
          throw shape_error("run_section: given accuracies for " +
                            std::to_string(g->episode_accuracy.size()) + " episodes of " +
                            std::to_string(es.count()));
      }
      Cell cell;
      try {
        cell = run_cell(model, es, timed, o, g);
      } catch (const usage_error& x) {
        throw usage_error(e.label + " on " + t.spec.name() + ": " + x.what());
      } catch (const std::exception& x) {
        throw error(e.label + " on " + t.spec.name() + ": " + x.what());
      }
      cell.label = e.label;
      cell.summary = first_summary[i] + std::size_t(k);
      MethodSummary& ms = r.methods[cell.summary];
      ms.configs.push_back(t.spec.key());
      if (cell.adapt_memory.peak_mib > ms.adapt_memory.peak_mib) ms.adapt_memory = cell.adapt_memory;
      if (cell.train_memory.peak_mib > ms.train_memory.peak_mib) ms.train_memory = cell.train_memory;
      say("  " + pct(cell.accuracy.mean) + " ± " + pct(cell.accuracy.ci95) +
          (o.train_seconds > 0 ? "; meta-training " + fixed(cell.train_tasks_per_s, 1) + " tasks/s"
                               : std::string()));
      cr.cells.push_back(std::move(cell));
    }
    if (!timed.empty()) {
      say(s.name + ", " + t.spec.name() + ": adaptation timed in turn, " +
          std::to_string(timed.size()) + " episodes, every method");
      try {
        time_adaptations(s, t, timed, o, cr.cells);
      } catch (const usage_error& x) {
        throw usage_error(t.spec.name() + ", timing: " + x.what());
      } catch (const std::exception& x) {
        throw error(t.spec.name() + ", timing: " + x.what());
      }
      for (const Cell& c : cr.cells)
        say("  " + c.label + ": " + fixed(c.adapt_ms_1t.median, 2) + " ms (1 thread), " +
            fixed(c.adapt_ms_nt.median, 2) + " ms (" + std::to_string(all) +
            (all == 1 ? " thread)" : " threads)"));
    }
    const Cell* ref = nullptr;
    for (const Cell& c : cr.cells)
      if (c.label == r.reference) ref = &c;
    for (Cell& c : cr.cells)
      if (&c != ref) {
        c.delta = paired_difference_ci95(c.episode_accuracy, ref->episode_accuracy);
        c.has_delta = true;
      }
    r.configs.push_back(std::move(cr));
  }
  set_threads(o.threads);
  return r;
}

BenchShard score_shard(Section& s, const BenchOptions& o, const Shard& shard) {
  if (s.tests.empty()) throw usage_error("no test episodes");
  check_entrants(s, o);
  BenchShard b;
  b.shard = shard;
  set_threads(o.threads);
  for (TestSet& t : s.tests) {
    LentSet lent(s, t);
    const EpisodeSet& es = lent.get();
    ShardConfig c;
    c.spec = t.spec;
    c.total = es.count();
    const EpisodeRange range = shard_range(shard, es.count());
    c.begin = range.begin;
    c.episodes_fingerprint = episodes_fingerprint(es.episodes);
    for (const Entrant& e : s.entrants) {
      const EntrantModel& model = e.models[std::size_t(e.model_for(t.spec.n_way))];
      if (o.message)
        o.message(s.name + ", " + t.spec.name() + ": " + e.label +
                  (e.models.size() > 1 ? " (" + model.path + ")" : "") + ", shard " +
                  to_string(shard) + ": " + describe_range(range, es.count()));
      ShardCell cell;
      cell.label = e.label;
      cell.method = e.method;
      cell.model = model.path;
      try {
        auto m = load_method(model.checkpoint, model.path);
        cell.model_fingerprint = model_fingerprint(*m);
        const AdaptedSet a = adapt_shard(*m, es, shard);
        cell.adapted_floats = static_cast<int64_t>(adapted_floats(a));
        cell.per_episode_convs = a.per_episode_convs();
        cell.conv_floats = static_cast<int64_t>(a.base.size());
        const Evaluation ev = evaluate_adapted(a, es, false, model.path, {}, shard);
        cell.correct = ev.correct;
        cell.queries = t.spec.n_way * t.spec.n_query;
      } catch (const usage_error& x) {
        throw usage_error(e.label + " on " + t.spec.name() + ": " + x.what());
      } catch (const std::exception& x) {
        throw error(e.label + " on " + t.spec.name() + ": " + x.what());
      }
      c.cells.push_back(std::move(cell));
    }
    b.configs.push_back(std::move(c));
  }
  set_threads(o.threads);
  return b;
}

}  // namespace fsh::bench
