// fsh-eval: scores adapted classifiers (or a model, adapted on the fly) on the query sets of
// episodes: per-episode accuracy, mean ± 95% CI (1.96·sd/√n), as a table or --json; per-query
// predictions as TSV on request. With --adapted it classifies with nothing but that file.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common/cli.hpp"
#include "eval/stats.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"

using namespace fsh;

namespace {

// Per-query predictions as TSV: to stdout for "-", else atomically (util/file.hpp).
void write_predictions(const std::string& path, const Evaluation& ev) {
  std::ostringstream out;
  out << "episode\tquery\timage\tlabel\tpredicted\tcorrect\n";
  for (const auto& p : ev.predictions)
    out << p.episode << '\t' << p.query << '\t' << p.image << '\t' << p.label << '\t'
        << p.predicted << '\t' << (p.label == p.predicted ? 1 : 0) << '\n';
  const std::string text = out.str();
  if (path == "-")
    std::cout << text;
  else
    write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()));
}

int run(int argc, char** argv) {
  const std::string tool = "fsh-eval";
  CLI::App app("Score adapted classifiers (or a model, adapted on the fly) on episodes' query "
               "sets: accuracy, mean ± 95% confidence interval, predictions.",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  std::string adapted, model, episodes, dataset, predictions, bn;
  bool json = false;
  auto* a_opt = app.add_option("-a,--adapted", adapted, "adapted classifiers (fsh-adapted)");
  auto* m_opt = app.add_option("-m,--model", model, "a trained model (fsh-model), adapted to "
                                                    "each episode in memory");
  a_opt->excludes(m_opt);
  app.add_option("-e,--episodes", episodes, "the episodes (fsh-episodes)")->required();
  app.add_option("--dataset", dataset,
                 "the dataset the episodes index (default: embedded images or the path "
                 "recorded in the episodes file)");
  app.add_option("--bn", bn, "with --model: support or transductive (default: the model's)");
  app.add_flag("--json", json, "print the summary as JSON");
  app.add_option("--predictions", predictions,
                 "write per-query predictions as TSV to this file (- = stdout)");
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::parse(app, argc, argv);
  cli::check_blas("fsh-eval", common.verbosity, argv);
  set_threads(common.threads);
  if (adapted.empty() == model.empty()) throw usage_error("give exactly one of --adapted or --model");
  if (!bn.empty() && model.empty()) throw usage_error("--bn needs --model (an adapted file's "
                                                      "normalisation is already fixed)");

  const EpisodeSet es = open_episodes(episodes, dataset);
  AdaptedSet a;
  Progress progress(es.count(), model.empty() ? "episode" : "adapting episode",
                    common.verbosity >= 1);
  if (!model.empty()) {
    Checkpoint ck = read_checkpoint(model);
    if (!bn.empty()) ck.model.bn = parse_bn_policy(bn);
    auto method = load_method(ck, model);
    a = adapt_episodes(*method, es, [&](int64_t i) { progress.update(i + 1); });
    progress.clear();
  } else {
    a = read_adapted(adapted);
  }
  Progress progress2(es.count(), "episode", common.verbosity >= 1);
  const Evaluation ev = evaluate_adapted(a, es, !predictions.empty(),
                                         model.empty() ? adapted : model,
                                         [&](int64_t i) { progress2.update(i + 1); });
  progress2.clear();
  if (!predictions.empty()) write_predictions(predictions, ev);
  const MeanCI s = mean_ci95(ev.accuracy);
  const Episodes& e = es.episodes;
  if (json) {
    std::printf("{\"method\":\"%s\",\"bn\":\"%s\",\"episodes\":%ld,\"n_way\":%lld,\"k_shot\":%lld,"
                "\"n_query\":%lld,\"accuracy\":%.6f,\"ci95\":%.6f,\"sd\":%.6f}\n",
                a.model.method.c_str(), to_string(a.model.bn).c_str(), s.n,
                static_cast<long long>(e.n_way), static_cast<long long>(e.k_shot),
                static_cast<long long>(e.n_query), s.mean, s.ci95, s.sd);
  } else if (predictions != "-") {
    std::printf("method\t%s\nbn\t%s statistics\nepisodes\t%ld (%lld-way %lld-shot, %lld queries "
                "per class)\naccuracy\t%.2f%% ± %.2f%% (95%% CI)\n",
                a.model.method.c_str(), to_string(a.model.bn).c_str(), s.n,
                static_cast<long long>(e.n_way), static_cast<long long>(e.k_shot),
                static_cast<long long>(e.n_query), 100 * s.mean, 100 * s.ci95);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-eval", argc, argv, run); }
