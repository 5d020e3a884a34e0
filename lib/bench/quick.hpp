// fsh-bench --quick: the whole comparison on fsh's built-in data, made in process, with every
// registered method trained on a small budget -- so that one command shows what fsh does and
// what each method costs, on any machine, in minutes.
//
// Two sections:
//   28x28x1   synth glyphs (400 classes by default), split by alphabet (80% train, 20% test,
//             4 rotations); every method trained the same way (start_run + train: Adam 1e-3,
//             20-way 1-shot 5-query episodes, meta-batch 1, support statistics, the method's
//             own default settings) -- a method whose head is fixed to one way count (MAML)
//             once per way count of the test configurations (5 and 20), on episodes of that
//             many ways -- each model for an equal share of the time budget; test episodes
//             5w1s and 5w5s with 15 queries per class, 20w1s with 5.
//   84x84x3   synth --channels 3 --size 84 (mini-ImageNet's shape, Conv-4 with 1600
//             features), small: a short training and a few 5-way 1-shot episodes, for the
//             per-episode training and adaptation times of that shape (its accuracies only
//             show that the path runs).
// Every method sees the same training episodes (the run's seed) and the same test episodes.
// Data, episodes and models are written under the output folder, so each step can be rerun
// with the other tools. Training stops at the episode budget or the time budget, whichever
// comes first; with a time budget the number of episodes, and so the accuracies, depend on
// the machine's speed (everything else depends only on the seed).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "bench/bench.hpp"

namespace fsh::bench {

struct QuickShape {
  int64_t size = 28, channels = 1;
  int64_t classes = 400, instances = 20, per_group = 20;
  int rotations = 4;
  double train_fraction = 0.8;            // of the alphabets; the rest is test
  std::vector<ConfigSpec> configs;        // test configurations
  int64_t episodes = 100;                 // test episodes per configuration
  int64_t train_way = 20, train_shot = 1, train_query = 5;
  double train_seconds = 90;              // time budget, shared equally by the models
  int64_t train_episodes = 0;             // episode budget per model (0 = none)
};

// The defaults of the two sections (see the header comment).
QuickShape quick_glyphs();
QuickShape quick_rgb();

struct QuickOptions {
  std::string dir;                   // output folder: data/, episodes/, models/ are made there
  uint64_t seed = 1;
  int threads = 0;
  std::vector<std::string> methods;  // default: every registered method
  bool progress = false;             // training progress lines on a terminal
  std::function<void(const std::string&)> message;
  Provenance provenance;             // tool and command line for the files written
};

// The way counts --quick trains `method` for on these configurations: for a method whose head
// is fixed to one way count (fixed_head: maml), one model per way count among the
// configurations, in their order (5 and 20 for 5w1s,5w5s,20w1s); for any other method none
// (one model, trained on train_way-way episodes). usage_error on an unknown method.
std::vector<int64_t> quick_head_ways(const std::string& method,
                                     const std::vector<ConfigSpec>& configs);
// The file name of such a model under models/: "maml-20w.h5" for a head of 20 ways,
// "protonet.h5" for a method that takes any (ways 0).
std::string quick_model_file(const std::string& method, int64_t ways);

// Synthesizes and splits the data// Synthesizes and splits the data, writes it (dir/data/glyphs.h5), samples and writes the
// test episodes (dir/episodes/<key>.h5), trains every method (dir/models/<method>.h5, or one
// model per way count, dir/models/<method>-<N>w.h5, for a method with a fixed head; each model
// for an equal share of the time budget, so that every model scored on a configuration had the
// same budget) and returns the section, ready for run_section.
Section make_quick_section(const std::string& name, const QuickShape& shape,
                           const QuickOptions& o);

}  // namespace fsh::bench
