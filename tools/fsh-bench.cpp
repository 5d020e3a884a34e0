// fsh-bench: every method on the same test episodes -- accuracy ± 95% CI, the paired
// difference with a reference method, adaptation time, meta-training throughput, memory, model
// size, and the kernel figures that bound them -- as markdown (also on stdout), CSV, JSON and
// an SVG plot. With --quick it makes its own data and trains every registered method first.
// All logic is in lib/bench; this file maps flags to it and writes the outputs.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include "bench/bench.hpp"
#include "bench/quick.hpp"
#include "bench/report.hpp"
#include "bench/shard.hpp"
#include "common/cli.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"
#include "util/shard.hpp"
#include "util/version.hpp"

using namespace fsh;
using namespace fsh::bench;

namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  write_file_atomic(path.string(), std::vector<uint8_t>(text.begin(), text.end()));
}

int run(int argc, char** argv) {
  const std::string tool = "fsh-bench";
  const Stopwatch wall;
  std::string methods_list, fixed_list;
  for (const auto& n : method_names()) {
    methods_list += (methods_list.empty() ? "" : ", ") + n;
    if (fixed_head(n)) fixed_list += (fixed_list.empty() ? "" : ", ") + n;
  }
  CLI::App app("Compare few-shot methods on the same test episodes: accuracy ± 95% CI, paired "
               "differences, adaptation time, meta-training throughput, memory, model size and "
               "kernel rates, as markdown, CSV, JSON and SVG. Methods in this build: " +
                   methods_list + "." +
                   (fixed_list.empty()
                        ? std::string()
                        : " Heads fixed to one way count (one model per way count, under one "
                          "label): " +
                              fixed_list + ".") +
                   " --quick trains every one, a method with a fixed head once per way count of "
                   "the configurations, each model for an equal share of the time budget: every "
                   "model scored on a configuration had the same budget.",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  std::vector<std::string> models, episode_files;
  std::string data, dataset, part = "test", configs = "5w1s,5w5s,20w1s", output = "bench-results";
  std::string reference = "protonet", quick_methods, shard_text;
  std::vector<std::string> merge_parts;
  int64_t n_query = 15, count = 600;
  bool within_group = false, quick = false, no_rgb = false;
  BenchOptions bo;
  double kernel_seconds = 0.3;
  QuickShape glyphs = quick_glyphs(), rgb = quick_rgb();

  app.add_option("-m,--model", models,
                 "a trained model, [LABEL=]FILE (fsh-model; any method); repeat for each method "
                 "(the label defaults to the method's name); a method with a fixed head takes "
                 "one model per way count under one label, each configuration scored by the "
                 "model of its ways");
  app.add_option("--data", data,
                 "dataset or split (fsh-dataset/fsh-split) to sample the test episodes from");
  app.add_option("--part", part, "with --data: the part to sample from: train, val, test or all")
      ->capture_default_str();
  app.add_option("--configs", configs,
                 "test configurations NwKs, comma-separated (each sampled once, shared by every "
                 "method)")
      ->capture_default_str();
  app.add_option("-Q,--queries", n_query, "query images per class in the sampled episodes")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--count", count,
                 "test episodes per configuration (--quick: " + std::to_string(glyphs.episodes) +
                     ", and at most " + std::to_string(rgb.episodes) + " of 84x84x3)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(100000000)));
  app.add_flag("--within-group", within_group,
               "draw each episode's classes from one group (alphabet), as fsh-episodes sample "
               "--within-group");
  app.add_option("-e,--episodes", episode_files,
                 "test episodes files (fsh-episodes) instead of --data; one configuration each");
  app.add_option("--dataset", dataset, "with --episodes: the dataset they index (default: "
                                       "embedded images or the path recorded in the file)");
  app.add_option("--reference", reference,
                 "label of the method the others are compared with, episode by episode "
                 "(default protonet, else the first model)");
  app.add_option("--timing-episodes", bo.timing_episodes,
                 "episodes whose adaptation is timed, per method, configuration and thread count "
                 "(--quick: 30)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1000000)));
  app.add_option("--train-timing", bo.train_seconds,
                 "seconds of meta-training timed per method and configuration, 0 = none "
                 "(--quick: 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--kernel-seconds", kernel_seconds, "seconds per kernel figure")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
  app.add_flag("--quick", quick,
               "make the built-in data, train every registered method on a small budget, and "
               "compare them (models and episodes are written under --output)");
  app.add_option("--methods", quick_methods,
                 "--quick: the methods to train, comma-separated (default: every registered one)");
  app.add_option("--train-seconds", glyphs.train_seconds,
                 "--quick: training time budget of the 28x28 section, shared equally by the "
                 "models (a method with a fixed head has one per way count)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("--train-episodes", glyphs.train_episodes,
                 "--quick: training episodes per model (0 = as many as the time budget allows)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  app.add_option("--classes", glyphs.classes, "--quick: glyph classes to synthesize (20 per "
                                              "alphabet; 80% of the alphabets train)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(100), int64_t(100000)));
  app.add_flag("--no-rgb", no_rgb, "--quick: leave out the 84x84x3 section");
  app.add_option("--rgb-train-seconds", rgb.train_seconds,
                 "--quick: training time budget of the 84x84x3 section, shared equally by the "
                 "models")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  auto* shard_opt = app.add_option(
      "--shard", shard_text,
      "i/n: score every method on shard i of n (from 0) of each configuration's episodes, a "
      "contiguous block, and write OUTPUT/shard-i-of-n.json for --merge (nothing is timed)");
  app.add_option("--merge", merge_parts,
                 "the shard files of every shard of one --shard run: the comparison with the "
                 "same models and episodes, its accuracies taken from them (exactly the "
                 "unsharded run's), its times measured here")
      ->excludes(shard_opt);
  app.add_option("-o,--output", output,
                 "output folder: bench.md, bench.csv, bench.json, bench.svg (and, with --quick "
                 "or --data, the data, episodes and models used)")
      ->capture_default_str();
  cli::add_seed(app, common, "seed of the sampled test episodes (and with --quick of the data, "
                             "training episodes and initialisation)");
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::add_provenance(app, common);
  cli::parse(app, argc, argv);

  set_threads(common.threads);
  bo.threads = common.threads;
  bo.reference = reference;
  bo.reference_required = app.count("--reference") > 0;
  bo.message = [&](const std::string& s) { cli::message(tool, common.verbosity, 1, s); };
  const std::string command = cli::command_line(argc, argv);
  const Provenance prov = make_provenance(tool, common.provenance ? command : "", common.seed, {});
  namespace fs = std::filesystem;
  const fs::path out(output);

  Report report;
  report.version = FSH_VERSION;
  report.command_line = command;
  report.seed = common.seed;
  report.quick = quick;
  report.load_start = load_average();
  report.cpus = cpus_online();
  // Times each phase of the run (wall and CPU) into the report.
  auto phase = [&](const std::string& name, const std::function<void()>& work) {
    const Stopwatch w;
    const double cpu = process_cpu_seconds();
    work();
    report.phases.push_back({name, w.seconds(), process_cpu_seconds() - cpu});
  };
  std::vector<Conv4Config> shapes;
  auto note_shape = [&](const SectionResult& r) {
    Conv4Config c;
    c.in_channels = int(r.channels);
    c.height = int(r.height);
    c.width = int(r.width);
    for (const Conv4Config& s : shapes)
      if (s.in_channels == c.in_channels && s.height == c.height && s.width == c.width) return;
    shapes.push_back(c);
  };

  if (quick) {
    for (const char* f : {"--model", "--data", "--episodes", "--dataset", "--part",
                          "--within-group", "--shard", "--merge"})
      if (app.count(f)) throw usage_error(std::string(f) + " does not apply to --quick (it makes "
                                                           "its own data and models)");
    if (!app.count("--timing-episodes")) bo.timing_episodes = 30;
    if (!app.count("--train-timing")) bo.train_seconds = 1;
    if (app.count("--configs") || app.count("--queries"))
      glyphs.configs = parse_configs(configs, n_query);
    if (app.count("--count")) {
      glyphs.episodes = count;
      rgb.episodes = std::min(rgb.episodes, count);
    }
    QuickOptions qo;
    qo.dir = output;
    qo.seed = common.seed;
    qo.threads = common.threads;
    qo.progress = common.verbosity >= 1;
    qo.message = bo.message;
    qo.provenance = prov;
    if (!quick_methods.empty()) {
      std::size_t start = 0;
      while (start <= quick_methods.size()) {
        const std::size_t comma = std::min(quick_methods.find(',', start), quick_methods.size());
        qo.methods.push_back(quick_methods.substr(start, comma - start));
        start = comma + 1;
      }
    }
    rgb.train_episodes = glyphs.train_episodes;
    {
      Section s;
      phase("28x28x1: data and training", [&] { s = make_quick_section("glyphs", glyphs, qo); });
      phase("28x28x1: comparison", [&] { report.sections.push_back(run_section(s, bo)); });
    }
    if (!no_rgb) {
      qo.dir = (out / "rgb").string();
      Section s;
      phase("84x84x3: data and training",
            [&] { s = make_quick_section("RGB glyphs", rgb, qo); });
      phase("84x84x3: comparison", [&] { report.sections.push_back(run_section(s, bo)); });
      report.notes.push_back(
          "The RGB glyphs section exercises mini-ImageNet's input shape (84x84x3, Conv-4 with "
          "1600 features) with a short training: its times are the point, its accuracies only "
          "show that the path runs.");
    }
    report.notes.push_back(
        "--quick: every method trained the same way (Adam 1e-3, " +
        std::to_string(glyphs.train_way) + "-way " + std::to_string(glyphs.train_shot) +
        "-shot " + std::to_string(glyphs.train_query) +
        "-query episodes, meta-batch 1, the method's default settings; a method whose head is "
        "fixed to one way count, once per way count of the configurations, on episodes of "
        "that many ways), each model for an equal share of the budget, so that every model "
        "scored on a configuration had the same budget; a small budget, not each method's "
        "published protocol. With a time budget the episodes trained, and so the accuracies, "
        "depend on the machine's speed.");
  } else {
    if (models.empty()) throw usage_error("give the models to compare (-m FILE ...) or --quick");
    if (data.empty() == episode_files.empty())
      throw usage_error("give exactly one of --data (test episodes sampled from it) or "
                        "--episodes (test episodes files)");
    for (const char* f : {"--methods", "--train-seconds", "--train-episodes", "--classes",
                          "--no-rgb", "--rgb-train-seconds"})
      if (app.count(f)) throw usage_error(std::string(f) + " applies to --quick only");
    const std::optional<Shard> shard =
        shard_text.empty() ? std::nullopt : std::optional<Shard>(parse_shard(shard_text));
    // The parts are read (and checked against each other) before any work.
    std::optional<bench::BenchShard> whole;
    if (!merge_parts.empty()) {
      std::vector<BenchShard> parts;
      for (const std::string& p : merge_parts) parts.push_back(read_bench_shard(p));
      whole = merge_bench_shards(parts, merge_parts);
    }
    // Everything is checked before the episodes are sampled and written.
    Section s;
    for (const std::string& m : models) add_entrant(s.entrants, load_entrant(m));
    if (!data.empty()) {
      if (app.count("--dataset")) throw usage_error("--dataset applies to --episodes only");
      const std::vector<ConfigSpec> specs = parse_configs(configs, n_query);
      const PartChoice p = parse_part_choice(part);
      s.name = fs::path(data).filename().string();
      s.dataset = read_dataset(data);
      s.height = s.dataset->height;
      s.width = s.dataset->width;
      s.channels = s.dataset->channels;
      check_entrants(s, bo, specs);
      // A shard draws the episodes but leaves writing them to the merge (or the unsharded run).
      sample_tests(s, specs, p, count, common.seed, within_group,
                   fs::absolute(data).lexically_normal().string(), data,
                   shard ? "" : (out / "episodes").string(), prov);
    } else {
      for (const char* f : {"--part", "--configs", "--queries", "--count", "--within-group"})
        if (app.count(f)) throw usage_error(std::string(f) + " applies to --data only (the "
                                                             "episodes files fix them)");
      for (const std::string& f : episode_files) add_episodes_file(s, f, dataset);
      s.name = fs::path(s.tests.front().images).filename().string();
    }
    if (shard) {
      const BenchShard b = score_shard(s, bo, *shard);
      fs::create_directories(out);
      const fs::path file =
          out / ("shard-" + std::to_string(shard->index) + "-of-" + std::to_string(shard->count) +
                 ".json");
      write_text(file, bench_shard_json(b));
      bo.message("wrote " + file.string() + " in " + format_duration(wall.seconds()) + " (" +
                 format_duration(process_cpu_seconds()) + " CPU)");
      return 0;
    }
    if (whole) {
      const auto given = given_cells(*whole, s, merge_parts.front());
      phase("comparison (accuracies from " + std::to_string(merge_parts.size()) + " shards)",
            [&] { report.sections.push_back(run_section(s, bo, &given)); });
    } else {
      phase("comparison", [&] { report.sections.push_back(run_section(s, bo)); });
    }
  }
  for (const SectionResult& r : report.sections) note_shape(r);
  bo.message("kernel figures (sgemm, Conv-4 forward and backward)");
  phase("kernel figures",
        [&] { report.kernels = measure_kernels(shapes, 78400, common.threads, kernel_seconds); });
  report.threads = report.kernels.threads;
  report.load_end = load_average();
  report.wall_seconds = wall.seconds();
  report.cpu_seconds = process_cpu_seconds();

  fs::create_directories(out);
  const std::string md = report_markdown(report);
  write_text(out / "bench.md", md);
  write_text(out / "bench.csv", report_csv(report));
  write_text(out / "bench.json", report_json(report));
  write_text(out / "bench.svg", report_svg(report));
  std::cout << md;
  bo.message("wrote " + (out / "bench.md").string() + ", bench.csv, bench.json, bench.svg in " +
             format_duration(report.wall_seconds) + " (" +
             format_duration(report.cpu_seconds) + " CPU)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-bench", argc, argv, run); }
