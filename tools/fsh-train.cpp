// fsh-train: meta-trains a few-shot method and writes an fsh-model checkpoint. All logic is in
// lib/methods (setup.hpp, trainer.hpp); this file maps flags to a configuration and reports the
// outcome.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "common/cli.hpp"
#include "dist/dist.hpp"
#include "methods/setup.hpp"
#include "methods/trainer.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/version.hpp"

using namespace fsh;

namespace {

// "model.h5" -> "model.best.h5"
std::string best_path(const std::string& out) {
  const auto dot = out.rfind(".h5");
  if (dot != std::string::npos && dot + 3 == out.size()) return out.substr(0, dot) + ".best.h5";
  return out + ".best";
}

int run(int argc, char** argv) {
  const std::string tool = "fsh-train";
  std::string methods;
  for (const auto& n : method_names()) methods += (methods.empty() ? "" : ", ") + n;
  CLI::App app("Meta-train a few-shot method (" + methods + ") on episodes drawn from a split "
               "dataset or taken from an episodes file; writes an fsh-model checkpoint.",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  TrainConfig t;
  ModelConfig m;
  TrainRun r;
  std::string data, dataset_for_episodes, resume, init_from;
  std::string part = "train", val_part = "val", bn = "support";
  std::string best;
  bool no_best = false;
  app.add_option("--method", m.method, "method: " + methods)->capture_default_str();
  app.add_option("--data", data,
                 "training data: an fsh-split/fsh-dataset file (episodes are sampled from it) "
                 "or an fsh-episodes file (its episodes are used in turn)");
  app.add_option("--dataset", dataset_for_episodes,
                 "the dataset an fsh-episodes --data file indexes (default: embedded images or "
                 "the path recorded in it)");
  app.add_option("--part", part, "split part to train on: train, val, test or all")
      ->capture_default_str();
  app.add_option("-N,--way", t.n_way, "classes per training episode (maml: 5, the width of its head)")->capture_default_str();
  app.add_option("-K,--shot", t.k_shot, "support images per class")->capture_default_str();
  app.add_option("-Q,--query", t.n_query, "query images per class")->capture_default_str();
  app.add_option("-n,--num-episodes", t.episodes, "total training episodes")
      ->capture_default_str();
  app.add_option("--meta-batch", t.meta_batch,
                 "episodes per optimizer step, their gradients averaged in episode order "
                 "(maml: 32)")
      ->capture_default_str();
  // Every registered method's settings become flags: --inner-lr for inner_lr.
  std::map<std::string, std::string> setting_text;  // setting name -> value as given
  std::map<std::string, CLI::Option*> setting_opt;
  for (const MethodInfo& info : registered_methods())
    for (const SettingSpec& spec : info.settings) {
      // A `ways` setting (a fixed-width head) is -N/--way itself (start_run sets it).
      if (spec.name == "ways") continue;
      if (setting_opt.count(spec.name)) {
        setting_opt[spec.name]->description(setting_opt[spec.name]->get_description() + ", " +
                                            info.name);
        continue;
      }
      std::string flag = "--" + spec.name;
      for (char& ch : flag) ch = ch == '_' ? '-' : ch;
      const std::string help = spec.help + " (default " + to_string(spec.default_value) +
                               "); method: " + info.name;
      if (spec.default_value.index() == 0)
        setting_opt[spec.name] = app.add_flag_callback(
            flag, [&setting_text, n = spec.name] { setting_text[n] = "true"; }, help);
      else
        setting_opt[spec.name] = app.add_option(flag, setting_text[spec.name], help);
    }
  app.add_option("--optimizer", t.optimizer, "adam or sgd")->capture_default_str();
  app.add_option("--lr", t.schedule.base_lr, "initial learning rate")->capture_default_str();
  app.add_option("--lr-step", t.schedule.step,
                 "multiply the learning rate by --lr-gamma every this many episodes (0 = never; "
                 "maml: 0)")
      ->capture_default_str();
  app.add_option("--lr-gamma", t.schedule.gamma, "learning-rate decay factor")
      ->capture_default_str();
  app.add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--hidden", m.backbone.hidden, "filters per Conv-4 layer")->capture_default_str();
  app.add_option("--bn", bn,
                 "normalisation statistics: support (support set only; each query on its own) "
                 "or transductive (support and queries together, as MAML did)")
      ->capture_default_str();
  app.add_option("--val-part", val_part, "split part for validation (none to disable)")
      ->capture_default_str();
  app.add_option("--val-every", t.val_every, "validate every this many episodes (0 = never)")
      ->capture_default_str();
  app.add_option("--val-episodes", t.val_count, "validation episodes")->capture_default_str();
  app.add_option("--val-way", t.val_way, "classes per validation episode (maml: -N)")->capture_default_str();
  app.add_option("--val-shot", t.val_shot, "support images per class in validation (default: --shot)");
  app.add_option("--val-query", t.val_query, "query images per class in validation")
      ->capture_default_str();
  app.add_option("--checkpoint-every", t.checkpoint_every,
                 "write the checkpoint every this many episodes (0 = only at the end)")
      ->capture_default_str();
  app.add_option("-o,--output", r.output, "checkpoint to write (fsh-model)")->required();
  app.add_option("--best", best, "where to keep the best-validation model (default: OUTPUT with "
                                 ".best.h5)");
  app.add_flag("--no-best", no_best, "do not keep a separate best-validation model");
  app.add_option("--resume", resume,
                 "continue training from this checkpoint (its configuration is used; "
                 "-n may raise the episode total)");
  app.add_option("--init-from", init_from,
                 "start from a trained model's parameters where this method has them too "
                 "(e.g. the backbone of a ProtoNet model)");
  app.add_option("--max-time", r.max_seconds,
                 "stop after this many seconds of training, writing the checkpoint (0 = none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log", r.log, "append training figures to this file (.csv: CSV, else JSON lines)");
  app.add_option("--log-every", r.log_every, "episodes per log record")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli::add_seed(app, common, "seed of the training and validation episodes and of the "
                             "initialisation");
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::add_provenance(app, common);
  {
    // Under mpirun every process parses the same flags; rank 0 alone prints what parsing
    // prints (--help, --version, a bad flag), so a job says it once.
    std::streambuf *out = nullptr, *err = nullptr;
    if (dist::launcher_rank() != 0) {
      out = std::cout.rdbuf(nullptr);
      err = std::cerr.rdbuf(nullptr);
    }
    auto restore = [&] {
      if (out) std::cout.rdbuf(out);
      if (err) std::cerr.rdbuf(err);
    };
    try {
      cli::parse(app, argc, argv);
    } catch (...) {
      restore();
      throw;
    }
    restore();
  }

  auto say = [&](const std::string& s) { cli::message(tool, common.verbosity, 1, s); };
  // Under mpirun, only rank 0 speaks (messages, warnings, progress); the others are quiet from
  // the start (the launcher's rank is known before MPI starts).
  if (dist::launcher_rank() != 0) common.verbosity = 0;
  cli::check_blas(tool, common.verbosity, argv);  // may restart the process: before MPI starts
  dist::init();
  // Processes sharing a node share its cores: by default each takes its share of them.
  if (common.threads == 0 && dist::local_size() > 1)
    common.threads = std::max(1, int(std::thread::hardware_concurrency()) / dist::local_size());
  set_threads(common.threads);
  if (dist::size() > 1)
    say("data-parallel over " + std::to_string(dist::size()) + " processes (MPI), " +
        std::to_string(dist::local_size()) + " on this node");
  r.message = say;
  r.progress = common.verbosity >= 1;
  r.best_output = no_best ? "" : (best.empty() ? best_path(r.output) : best);

  // Setting up (flags, data, checkpoint) happens on every rank alike; a failure on any of them
  // stops them all, with one message.
  Checkpoint ck;
  std::optional<TrainingData> training;
  dist::all_or_none([&] {
    // The method settings given on the command line, typed by their declaration.
    Settings given;
    for (auto& [name, opt] : setting_opt) {
      if (opt->count() == 0) continue;
      const MethodInfo& info = method_info(m.method);
      const SettingSpec* spec = nullptr;
      for (const SettingSpec& sp : info.settings)
        if (sp.name == name) spec = &sp;
      if (!spec)
        throw usage_error(opt->get_name() + " is a setting of another method, not of " + m.method);
      const std::string& text = setting_text[name];
      try {
        switch (spec->default_value.index()) {
          case 0: given[name] = true; break;
          case 1: given[name] = int64_t(std::stoll(text)); break;
          case 2: given[name] = std::stod(text); break;
          default: given[name] = text; break;
        }
      } catch (const std::logic_error&) {
        throw usage_error(opt->get_name() + ": '" + text + "' is not a valid value");
      }
    }

    if (!resume.empty() && !init_from.empty())
      throw usage_error("--init-from starts a new run; it cannot be combined with --resume");
    if (!resume.empty()) {
      ck = read_checkpoint(resume);
      if (app.count("--num-episodes")) {
        if (t.episodes < ck.episode)
          throw usage_error("--num-episodes " + std::to_string(t.episodes) + " is below the " +
                            std::to_string(ck.episode) + " episodes " + resume + " has done");
        ck.train.episodes = t.episodes;
      }
      if (data.empty()) data = ck.train.data;
      bool model_flags = !given.empty();
      for (const char* f : {"--method", "--way", "--shot", "--query", "--meta-batch", "--optimizer",
                            "--lr", "--lr-step", "--lr-gamma", "--momentum", "--hidden", "--bn",
                            "--part", "--val-part", "--val-every", "--val-episodes", "--val-way",
                            "--val-shot", "--val-query", "--checkpoint-every"})
        model_flags |= app.count(f) > 0;
      for (const std::string& w : resume_warnings(app.count("--seed") > 0, model_flags)) say(w);
      say("resuming " + resume + " at episode " + std::to_string(ck.episode) + " of " +
          std::to_string(ck.train.episodes));
    } else {
      if (data.empty()) throw usage_error("--data is required (or --resume a checkpoint)");
      if (!app.count("--val-shot")) t.val_shot = t.k_shot;
      t.seed = common.seed;
      t.part = parse_part_choice(part);
      if (val_part == "none") {
        t.val_every = 0;
      } else {
        t.val_part = parse_part_choice(val_part);
      }
      m.bn = parse_bn_policy(bn);
      m.settings = given;
      // The method's own protocol for the flags not given (e.g. MAML: meta-batch 32, 5-way,
      // a constant learning rate); a fixed-width head validates on episodes of its own ways.
      const MethodInfo& info = method_info(m.method);
      const TrainProtocol& proto = info.protocol;
      if (proto.meta_batch && !app.count("--meta-batch")) t.meta_batch = *proto.meta_batch;
      if (proto.n_way && !app.count("--way")) t.n_way = *proto.n_way;
      if (proto.lr_step && !app.count("--lr-step")) t.schedule.step = *proto.lr_step;
      for (const SettingSpec& sp : info.settings)
        if (sp.name == "ways" && !app.count("--val-way")) t.val_way = t.n_way;
    }

    training = open_training_data(data, dataset_for_episodes);
    if (resume.empty()) {
      std::string note;
      ck = start_run(m, t, data, *training, init_from, &note);
      if (!note.empty()) say(note);
    } else {
      check_resume_data(ck, *training, resume, data);
    }
  });

  r.provenance = {tool, FSH_VERSION, common.provenance ? cli::command_line(argc, argv) : "",
                  ck.train.seed, {data}};
  say(ck.model.method + ": " + std::to_string(ck.train.n_way) + "-way " +
      std::to_string(ck.train.k_shot) + "-shot " + std::to_string(ck.train.n_query) +
      "-query, " + std::to_string(ck.train.episodes) + " episodes in meta-batches of " +
      std::to_string(ck.train.meta_batch) + ", batch norm: " + to_string(ck.model.bn) +
      " statistics; settings: " +
      describe_settings(method_info(ck.model.method).settings, ck.model.settings));
  const TrainOutcome o = train(ck, training->dataset_ptr(), training->episodes_ptr(), r);
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f episodes/s",
                o.seconds_this_run > 0 ? o.episodes_this_run / o.seconds_this_run : 0.0);
  std::string summary = std::to_string(o.episodes_this_run) + " episodes in " +
                        format_duration(o.seconds_this_run) + " (" + rate + "); checkpoint " +
                        r.output + " at episode " + std::to_string(o.episodes_done);
  if (ck.best_episode >= 0) {
    char b[96];
    std::snprintf(b, sizeof b, "; best validation %.2f%% ± %.2f%% at episode %lld",
                  100 * ck.best_val, 100 * ck.best_val_ci95, static_cast<long long>(ck.best_episode));
    summary += b;
  }
  if (o.processes > 1 && o.steps_this_run > 0) {
    // Per optimizer step; the reduction's share is what limits scaling (fsh-train(1), SCALING).
    char b[320];
    std::snprintf(b, sizeof b,
                  "data-parallel over %d processes: per step %.3f ms computing (slowest rank), "
                  "%.3f ms waiting for the slowest, %.3f ms reducing (the chain and broadcast; "
                  "%zu bytes per hop)",
                  o.processes, 1e3 * o.compute_seconds / o.steps_this_run,
                  1e3 * o.wait_seconds / o.steps_this_run, 1e3 * o.reduce_seconds / o.steps_this_run,
                  o.bytes_per_hop);
    say(b);
  }
  switch (o.status) {
    case TrainStatus::finished:
      say("done: " + summary);
      return 0;
    case TrainStatus::time_limit:
      say("time limit reached: " + summary + "; continue with --resume " + r.output);
      return 0;
    case TrainStatus::diverged:
      if (dist::rank() != 0) return 1;  // every rank diverged alike; rank 0 says so
      throw error("training diverged: " + o.message + "; stopped after " +
                  std::to_string(o.episodes_done) + " episodes; " +
                  (o.last_checkpoint >= 0
                       ? r.output + " keeps the last good checkpoint, of episode " +
                             std::to_string(o.last_checkpoint)
                       : "this run wrote no checkpoint to " + r.output +
                             (resume.empty() ? std::string(" (--checkpoint-every 0)")
                                             : "; the last good one is " + resume)));
    case TrainStatus::interrupted:
      say("interrupted by signal " + std::to_string(o.signal) + ": " + summary +
          "; continue with --resume " + r.output);
      return 128 + o.signal;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int code = cli::run_main("fsh-train", argc, argv, [](int argc, char** argv) {
    try {
      return run(argc, argv);
    } catch (const dist::collective_error& e) {
      // Every rank failed together (dist.hpp): one of them says why.
      if (e.report) std::cerr << "fsh-train: error: " << e.what() << "\n";
      return e.code;
    } catch (const std::exception& e) {
      if (dist::size() == 1) throw;  // one process: run_main prints it
      // A failure only this rank knows of, while the others wait for it in the chain: say
      // which rank, and end the whole job (mpirun adds its own lines).
      std::cerr << "fsh-train: error (rank " << dist::rank() << " of " << dist::size()
                << "): " << e.what() << "\n";
      dist::abort(dynamic_cast<const usage_error*>(&e) ? 2 : 1);
    }
  });
  dist::finalize();
  return code;
}
