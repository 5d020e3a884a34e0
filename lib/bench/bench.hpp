// fsh-bench's comparison: every method on the same test episodes, with the figures that decide
// between them side by side (man 1 fsh-bench says what each figure means).
//
// A Section is one kind of data (one image shape): its test configurations (N-way K-shot with
// Q queries per class, the episodes of each drawn once) and the methods under test (trained
// models, any registered method; a method whose head is fixed to one way count, MAML, has one
// model per way count under one label). run_section puts every method through every
// configuration, each with its model that fits the configuration's ways:
//   accuracy       adapt_episodes + evaluate_adapted (methods/evaluate.hpp, what fsh-adapt and
//                  fsh-eval do), per episode; mean ± 95% CI (eval/stats.hpp)
//   Δ vs reference the per-episode differences method − reference on the same episodes,
//                  mean ± 95% CI of those differences (paired_difference_ci95)
//   adaptation     Method::adapt of one episode (support set in, adapted classifier out; the
//                  images already converted to tensors), timed warm, episode by episode, with
//                  one worker thread and with all: median and 95th percentile
//   meta-training  optimizer steps as fsh-train takes them (the model's meta-batch of the
//                  configuration's episodes: gather the images, convert, meta-gradient, the
//                  model's optimizer), on a copy of θ that is then discarded: tasks per second
//   memory         peak resident memory while the method adapted (the timed series: one
//                  episode at a time, each result dropped) and while it meta-trained (the
//                  timed steps), each with its growth over the memory held before
//                  (measure.hpp: PeakMemory); classifying the queries is the same for every
//                  method (fsh-eval's primary network) and is not part of either
//   size           θ's parameters and bytes (float32), the model file, and the bytes of one
//                  episode's adapted classifier as fsh-adapted stores it
// Nothing measured here feeds back into a result: accuracies are those fsh-eval prints for the
// same model and episodes, whatever the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/kernels.hpp"
#include "bench/measure.hpp"
#include "eval/stats.hpp"
#include "io/episodes_io.hpp"
#include "methods/checkpoint.hpp"

namespace fsh::bench {

// One test configuration: N-way K-shot, Q queries per class.
struct ConfigSpec {
  int64_t n_way = 5, k_shot = 1, n_query = 15;
  std::string key() const;   // "5w1s"
  std::string name() const;  // "5-way 1-shot"
};
// "5w1s" (N "w" K "s") with n_query queries per class; usage_error otherwise.
ConfigSpec parse_config(const std::string& key, int64_t n_query);
// A comma-separated list of keys ("5w1s,5w5s,20w1s").
std::vector<ConfigSpec> parse_configs(const std::string& list, int64_t n_query);

// One trained model of an entrant.
struct EntrantModel {
  std::string path;  // the fsh-model file
  Checkpoint checkpoint;
  int64_t file_bytes = 0;
  // The way count its head is fixed to, for a method that declares a `ways` setting (MAML:
  // its classifier head has that many outputs, so it scores only episodes of that many ways);
  // 0 for a method that classifies any number of ways with one model.
  int64_t ways = 0;
  // How its training ended, when fsh-bench trained it ("episode budget" or "time budget");
  // "" for a model given as a file (its training record is the model's own).
  std::string stopped_by;
  PeakMemory::Reading training_memory;  // when fsh-bench trained it
  bool trained_here = false;
};

// A method under test, under one label: one model, or for a method whose head is fixed to one
// way count, one model per way count (e.g. maml trained 5-way and 20-way); each configuration
// is scored by the model that fits its ways.
struct Entrant {
  std::string label;   // the method's name unless the user gave one
  std::string method;  // every model's
  std::vector<EntrantModel> models;
  // The index in `models` of the model that scores n_way-way episodes: the model whose head
  // has n_way ways, or a way-agnostic method's only model; -1 when none fits.
  int model_for(int64_t n_way) const;
  // "5-way and 20-way" (the way counts of its fixed-head models).
  std::string ways_text() const;
};

// Whether `method`'s head is fixed to one way count: it declares a `ways` setting (maml), as
// start_run sees it. usage_error on an unknown method.
bool fixed_head(const std::string& method);
// The way count the head of a model of this configuration is fixed to (its `ways` setting
// when its method declares one), 0 when the method takes any number of ways.
int64_t head_ways(const ModelConfig& m);

// Reads "[LABEL=]PATH" (an fsh-model file) as an entrant with one model. Labels are non-empty
// and free of ',', '"', '<', '>', '&' and control characters (they appear in CSV, JSON and
// SVG).
Entrant load_entrant(const std::string& spec);
// Adds e to `entrants`, or when an entrant has e's label, adds e's models to it: allowed only
// for models of the same method with heads of different way counts. usage_error naming both
// files otherwise (two models of different methods, two with the same way count, or a method
// that takes any number of ways given twice), with the LABEL=PATH remedy.
void add_entrant(std::vector<Entrant>& entrants, Entrant e);
// The same checks on entrants assembled otherwise: labels distinct, each entrant's models of
// its method, with fixed heads of distinct way counts when there are several.
void check_labels(const std::vector<Entrant>& entrants);

// The test episodes of one configuration.
struct TestSet {
  ConfigSpec spec;
  Episodes episodes;
  std::string source;  // where the episodes come from (a file, or how they were sampled)
  std::string images;  // where their images come from
};

// One kind of data and everything run on it.
struct Section {
  std::string name;                // e.g. "28x28x1 glyphs"
  int64_t height = 0, width = 0, channels = 0;
  std::optional<Dataset> dataset;  // the images of every test set (unless embedded)
  std::vector<TestSet> tests;
  std::vector<Entrant> entrants;
};

// Adds the episodes of an fsh-episodes file (images: `dataset_path`, embedded, or the dataset
// recorded in it, as open_episodes finds them) to s as a test set. Every test set of a section
// must have the same image shape and, unless their images are embedded, the same dataset:
// usage_error otherwise.
void add_episodes_file(Section& s, const std::string& path, const std::string& dataset_path);

// Samples `count` episodes of each configuration from `part` of s.dataset, each with `seed`
// (so `fsh-episodes sample --seed` draws the same ones), and writes each to
// `dir`/<key>.h5 (without images; the dataset path recorded is `dataset_path`) unless dir is "".
void sample_tests(Section& s, const std::vector<ConfigSpec>& configs, PartChoice part,
                  int64_t count, uint64_t seed, bool within_group, const std::string& dataset_path,
                  const std::string& where, const std::string& dir, const Provenance& prov);

struct BenchOptions {
  std::string reference = "protonet";  // label of the reference method
  bool reference_required = false;     // false: fall back to the first method when absent
  int threads = 0;                     // all threads (0 = all cores)
  int64_t timing_episodes = 50;        // episodes whose adaptation is timed, per thread count
  int64_t timing_warmup = 2;           // untimed adaptations before each timed series
  double train_seconds = 2;            // meta-training timed per method and configuration
  std::function<void(const std::string&)> message;  // progress lines (may be empty)
};

// One method on one configuration.
struct Cell {
  std::string label;
  std::string model;                     // the file of the entrant's model that scored it
  std::size_t summary = 0;               // its entry in SectionResult::methods
  MeanCI accuracy;                       // fractions
  std::vector<double> episode_accuracy;  // per episode, in file order
  bool has_delta = false;                // false for the reference itself
  MeanCI delta;                          // method − reference, per episode (fractions)
  LatencyStats adapt_ms_1t, adapt_ms_nt;  // adaptation per episode, milliseconds
  double train_tasks_per_s = 0;          // measured meta-training throughput
  int64_t train_tasks_timed = 0;
  double train_seconds_timed = 0;
  int64_t meta_batch = 1;
  double adapted_bytes_per_episode = 0;  // what fsh-adapted stores per episode
  PeakMemory::Reading adapt_memory;      // during the timed adaptations
  PeakMemory::Reading train_memory;      // during the timed meta-training steps
};

struct ConfigResult {
  ConfigSpec spec;
  int64_t episodes = 0;
  std::string source;
  std::vector<Cell> cells;  // in entrant order
};

// Per model and section: what it is and what it cost (an entrant with one model per way
// count has one entry per model, under its label).
struct MethodSummary {
  std::string label, method, path, bn, settings;
  int64_t ways = 0;              // the head's way count, 0 when the method takes any
  bool several = false;          // its entrant has several models
  std::vector<std::string> configs;  // keys of the configurations it scored
  int64_t parameters = 0, param_bytes = 0, file_bytes = 0;
  int64_t trained_episodes = 0;  // the model's training record
  double trained_seconds = 0;
  std::string stopped_by;        // when fsh-bench trained it
  bool trained_here = false;
  // The highest peaks over its configurations, and of the training run when fsh-bench
  // trained it.
  PeakMemory::Reading adapt_memory, train_memory, training_memory;
};

struct SectionResult {
  std::string name;
  int64_t height = 0, width = 0, channels = 0;
  std::string reference;  // label of the reference method
  std::vector<MethodSummary> methods;  // in entrant order, each entrant's models in turn
  std::vector<ConfigResult> configs;
};

// Checks what run_section needs before anything is computed: at least one entrant, labels and
// models as check_labels wants them, the reference present when o.reference_required, every
// model taking s's image shape (usage_error naming the model otherwise), and for every
// configuration of `configs` a model of every entrant that fits its ways (usage_error naming
// the label, the configuration, the way counts it has and the remedy otherwise). Returns the
// reference's label (o.reference, or the first entrant's when that is absent and not
// required). The two-argument form checks the configurations of s's test sets.
std::string check_entrants(const Section& s, const BenchOptions& o,
                           const std::vector<ConfigSpec>& configs);
std::string check_entrants(const Section& s, const BenchOptions& o);

// What a merge of shards (bench/shard.hpp) gives run_section for one entrant on one test set
// instead of scoring the episodes: the per-episode accuracies and fsh-adapted's bytes per
// episode, exactly as the unsharded scoring computes them.
struct GivenCell {
  std::vector<double> episode_accuracy;
  double adapted_bytes_per_episode = 0;
};

// Runs every entrant of s through every test set (after check_entrants), each test set scored
// by the entrant's model that fits its ways. Leaves the thread count at o.threads. With
// `given` ([test set][entrant], from given_cells in bench/shard.hpp) the accuracies and adapted
// sizes are taken from it instead of adapting and scoring every episode; everything measured
// (times, memory) is measured as without it.
SectionResult run_section(Section& s, const BenchOptions& o,
                          const std::vector<std::vector<GivenCell>>* given = nullptr);

// The whole run, for the reports.
struct Report {
  std::string version, command_line;
  uint64_t seed = 0;
  int threads = 0;
  bool quick = false;
  std::vector<SectionResult> sections;
  KernelFigures kernels;
  double wall_seconds = 0, cpu_seconds = 0;  // of the whole fsh-bench run
  double load_start = -1, load_end = -1;      // load_average() at the start and the end
  int cpus = 0;                               // cpus_online()
  std::vector<std::string> notes;            // said under the tables
  struct Phase {
    std::string name;
    double wall_seconds = 0, cpu_seconds = 0;
  };
  std::vector<Phase> phases;  // where the run's time went
};

}  // namespace fsh::bench
