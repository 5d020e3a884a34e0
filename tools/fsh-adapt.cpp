// fsh-adapt: model + episodes -> one adapted, standalone classifier per episode (fsh-adapted).
// The support sets are all it looks at (queries too only with --bn transductive).
#include "common/cli.hpp"
#include "methods/evaluate.hpp"
#include "methods/checkpoint.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/version.hpp"

using namespace fsh;

namespace {

int run(int argc, char** argv) {
  const std::string tool = "fsh-adapt";
  CLI::App app("Adapt a trained model to the support set of every episode; writes the adapted "
               "classifiers (fsh-adapted) that fsh-eval scores.",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  std::string model, episodes, dataset, output, bn;
  app.add_option("-m,--model", model, "trained model (fsh-model)")->required();
  app.add_option("-e,--episodes", episodes, "episodes to adapt to (fsh-episodes)")->required();
  app.add_option("--dataset", dataset,
                 "the dataset the episodes index (default: embedded images or the path "
                 "recorded in the episodes file)");
  app.add_option("-o,--output", output, "adapted classifiers to write (fsh-adapted)")->required();
  app.add_option("--bn", bn,
                 "normalisation statistics: support or transductive (default: the model's)");
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::add_provenance(app, common);
  cli::parse(app, argc, argv);
  cli::check_blas("fsh-adapt", common.verbosity, argv);
  set_threads(common.threads);

  Checkpoint ck = read_checkpoint(model);
  if (!bn.empty()) ck.model.bn = parse_bn_policy(bn);
  auto method = load_method(ck, model);
  const EpisodeSet es = open_episodes(episodes, dataset);
  Progress progress(es.count(), "adapting episode", common.verbosity >= 1);
  const AdaptedSet s =
      adapt_episodes(*method, es, [&](int64_t i) { progress.update(i + 1); });
  progress.clear();
  write_adapted(s, output,
                {tool, FSH_VERSION, common.provenance ? cli::command_line(argc, argv) : "", 0,
                 {model, episodes}});
  cli::message(tool, common.verbosity, 1,
               "adapted " + std::to_string(s.count()) + " " + std::to_string(s.n_way) +
                   "-way episodes with " + ck.model.method + " (batch norm: " +
                   to_string(ck.model.bn) + " statistics) -> " + output);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-adapt", argc, argv, run); }
