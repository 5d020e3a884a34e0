// fsh-adapt: model + episodes -> one adapted, standalone classifier per episode (fsh-adapted);
// or model + a folder of class folders -> one classifier that carries the class names.
// The support sets are all it looks at (queries too only with --bn transductive).
#include "common/cli.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "methods/images.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/shard.hpp"
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
  std::string model, episodes, support, dataset, output, bn, shard_text;
  std::vector<std::string> merge;
  bool invert = false, no_invert = false, any_size = false;
  auto* m_opt = app.add_option("-m,--model", model, "trained model (fsh-model)");
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
  auto* b_opt = app.add_option(
      "--bn", bn, "normalisation statistics: support or transductive (default: the model's)");
  auto* sh_opt = app.add_option("--shard", shard_text,
                                "i/n: adapt only shard i of n (from 0) of the episodes, a "
                                "contiguous block, and write a partial file for --merge");
  sh_opt->excludes(s_opt);
  auto* mg_opt = app.add_option("--merge", merge,
                                "merge the partial files of every shard of one --shard run "
                                "into the file one unsharded run writes")
                     ->expected(1, -1);
  for (auto* o : {m_opt, e_opt, s_opt, d_opt, i_opt, n_opt, a_opt, b_opt, sh_opt})
    mg_opt->excludes(o);
  cli::add_threads(app, common);
  cli::add_verbosity(app, common);
  cli::add_provenance(app, common);
  cli::parse(app, argc, argv);
  cli::check_blas("fsh-adapt", common.verbosity, argv);
  set_threads(common.threads);
  if (!merge.empty()) {
    // Every part read and checked before anything is written.
    std::vector<AdaptedSet> parts;
    for (const std::string& p : merge) parts.push_back(read_adapted(p));
    const AdaptedSet s = merge_adapted(parts, merge);
    write_adapted(s, output,
                  {tool + " --merge", FSH_VERSION,
                   common.provenance ? cli::command_line(argc, argv) : "", 0, merge});
    cli::message(tool, common.verbosity, 1,
                 "merged " + std::to_string(parts.size()) + " shards: " +
                     std::to_string(s.count()) + " " + std::to_string(s.n_way) +
                     "-way episodes of " + s.model.method + " -> " + output);
    return 0;
  }
  if (model.empty()) throw usage_error("--model is required (or --merge PART...)");
  if (episodes.empty() == support.empty())
    throw usage_error("give exactly one of --episodes or --support");
  const std::optional<Shard> shard =
      shard_text.empty() ? std::nullopt : std::optional<Shard>(parse_shard(shard_text));

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
  const EpisodeRange range = shard ? shard_range(*shard, es.count()) : EpisodeRange{0, es.count()};
  Progress progress(range.size(), "adapting episode", common.verbosity >= 1);
  auto tick = [&](int64_t j) { progress.update(j + 1); };
  const AdaptedSet s = shard ? adapt_shard(*method, es, *shard, tick)
                             : adapt_episodes(*method, es, tick);
  progress.clear();
  write_adapted(s, output, prov);
  cli::message(tool, common.verbosity, 1,
               "adapted " + std::to_string(s.count()) + " " + std::to_string(s.n_way) +
                   "-way episodes" +
                   (shard ? " (shard " + to_string(*shard) + ": " +
                                describe_range(range, es.count()) + ")"
                          : "") +
                   " with " + ck.model.method + " (batch norm: " + to_string(ck.model.bn) +
                   " statistics) -> " + output);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main("fsh-adapt", argc, argv, run); }
