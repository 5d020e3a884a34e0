// fsh-adapt: model + episodes -> one adapted, standalone classifier per episode (fsh-adapted);
// or model + a folder of class folders -> one classifier that carries the class names.
// The support sets are all it looks at (queries too only with --bn transductive).
#include "common/cli.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "methods/images.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/version.hpp"

using namespace fsh;

namespace {

int run(int argc, char** argv) {
  const std::string tool = "fsh-adapt";
  CLI::App app("Adapt a trained model to the support set of every episode, or to a folder of "
               "class folders of images; writes the adapted classifiers (fsh-adapted) that "
               "fsh-eval scores.",
               tool);
  app.set_version_flag("--version", cli::version_text(tool));
  cli::CommonOptions common;
  std::string model, episodes, support, dataset, output, bn;
  bool invert = false, no_invert = false, any_size = false;
  app.add_option("-m,--model", model, "trained model (fsh-model)")->required();
  auto* e_opt = app.add_option("-e,--episodes", episodes, "episodes to adapt to (fsh-episodes)");
  auto* s_opt = app.add_option("--support", support,
                               "a folder of class folders of PNG/JPEG images (ROOT/<class>/"
                               "<image>): adapt one classifier to them, with their class names");
  e_opt->excludes(s_opt);
  auto* d_opt = app.add_option("--dataset", dataset,
                               "the dataset the episodes index (default: embedded images or the "
                               "path recorded in the episodes file)");
  d_opt->excludes(s_opt);
  auto* i_opt = app.add_flag("--invert", invert,
                             "with --support: invert the images (255 - v), whatever the model "
                             "records about its training images");
  auto* n_opt = app.add_flag("--no-invert", no_invert,
                             "with --support: use the images' values as they are, whatever the "
                             "model records");
  i_opt->excludes(n_opt);
  auto* a_opt = app.add_flag("--any-size", any_size,
                             "with --support: accept images of different sizes, each resized "
                             "on its own");
  for (auto* o : {i_opt, n_opt, a_opt}) o->excludes(e_opt);
  app.add_option("-o,--output", output, "adapted classifiers to write (fsh-adapted)")->required();
  app.add_option("--bn", bn,
                 "normalisation statistics: support or transductive (default: the model's)");
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::add_provenance(app, common);
  cli::parse(app, argc, argv);
  cli::check_blas("fsh-adapt", common.verbosity, argv);
  set_threads(common.threads);
  if (episodes.empty() == support.empty())
    throw usage_error("give exactly one of --episodes or --support");

  Checkpoint ck = read_checkpoint(model);
  if (!bn.empty()) ck.model.bn = parse_bn_policy(bn);
  auto method = load_method(ck, model);
  const Provenance prov{tool, FSH_VERSION, common.provenance ? cli::command_line(argc, argv) : "",
                        0, {model, support.empty() ? episodes : support}};
  if (!support.empty()) {
    InputChoice choice;
    if (invert || no_invert) choice.invert = invert;
    choice.any_size = any_size;
    const SupportFolder f = read_support_folder(support, any_size);
    const AdaptedSet s = adapt_support_folder(*method, f, choice, model);
    write_adapted(s, output, prov);
    std::string names;
    for (const std::string& n : s.class_names) names += (names.empty() ? "" : ", ") + n;
    cli::message(tool, common.verbosity, 1,
                 "adapted to " + std::to_string(s.n_way) + " classes x " +
                     std::to_string(s.k_shot) + " images (" + names + ") with " +
                     ck.model.method + (s.model.input.inverted ? ", images inverted" : "") +
                     " -> " + output);
    return 0;
  }
  const EpisodeSet es = open_episodes(episodes, dataset);
  Progress progress(es.count(), "adapting episode", common.verbosity >= 1);
  const AdaptedSet s =
      adapt_episodes(*method, es, [&](int64_t i) { progress.update(i + 1); });
  progress.clear();
  write_adapted(s, output, prov);
  cli::message(tool, common.verbosity, 1,
               "adapted " + std::to_string(s.count()) + " " + std::to_string(s.n_way) +
                   "-way episodes with " + ck.model.method + " (batch norm: " +
                   to_string(ck.model.bn) + " statistics) -> " + output);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-adapt", argc, argv, run); }
