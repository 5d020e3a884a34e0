// fsh-episodes show: a PNG montage of one episode (support rows, then query rows); with
// --predictions (fsh-eval's per-query TSV) each wrong query is framed in red beside the support
// image of the class it was taken for.
// Logic: lib/io/episodes_io (finding the images), lib/eval/predictions (the TSV),
// lib/data/montage (layout), lib/data/image (PNG), lib/util/file (atomic write).
//   fsh-episodes show EPISODES [--dataset DATASET] [--episode E] [--scale S]
//                     [--predictions TSV] -o PNG
#include "common/subcommands.hpp"
#include "data/image.hpp"
#include "data/montage.hpp"
#include "eval/predictions.hpp"
#include "io/episodes_io.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

namespace {

struct Options {
  std::string input, dataset, output, predictions;
  int64_t episode = 0, scale = 2;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto o = std::make_shared<Options>();
  sub.add_option("EPISODES", o->input, "fsh-episodes file (- = stdin)")->required();
  sub.add_option("--dataset", o->dataset,
                 "the dataset the episodes index (default: the embedded images, else the "
                 "dataset path recorded in the file)");
  sub.add_option("--episode", o->episode, "which episode to draw: 0 = the first in the file")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  sub.add_option("--scale", o->scale, "enlarge each image by this integer factor, in [1, 32]")
      ->check(CLI::Range(int64_t{1}, int64_t{32}))
      ->capture_default_str();
  sub.add_option("--predictions", o->predictions,
                 "fsh-eval --predictions TSV of these episodes: frame each wrongly classified "
                 "query in red and draw beside it a support image of the class it was taken for");
  sub.add_option("-o,--output", o->output, "output PNG file (- = stdout)")->required();
  fsh::cli::add_verbosity(sub, ctx.common);
  return [o, &ctx] {
    const fsh::EpisodeSet set = fsh::open_episodes(o->input, o->dataset);
    const std::string where = o->input == "-" ? "<stdin>" : o->input;
    if (o->episode >= set.count())
      throw fsh::usage_error("--episode must be in [0, " + std::to_string(set.count() - 1) +
                             "]: " + where + " holds " + std::to_string(set.count()) +
                             " episodes, got " + std::to_string(o->episode));
    if (o->predictions == "-" && o->input == "-")
      throw fsh::usage_error("EPISODES and --predictions cannot both be standard input");
    const fsh::EpisodeImages ep = set.images(o->episode);
    std::string wrong;
    fsh::Image m;
    if (o->predictions.empty()) {
      m = fsh::episode_montage(ep.support, ep.query, ep.n_way, ep.k_shot, ep.n_query, ep.height,
                               ep.width, ep.channels, o->scale);
    } else {
      const std::string pwhere = o->predictions == "-" ? "<stdin>" : o->predictions;
      const std::vector<int32_t> pred = fsh::episode_predictions(
          fsh::read_predictions(o->predictions), set.episodes, o->episode, pwhere);
      int64_t n_wrong = 0;
      for (std::size_t q = 0; q < pred.size(); ++q)
        n_wrong += pred[q] != ep.query_labels[q];
      wrong = ", " + std::to_string(n_wrong) + " of " + std::to_string(pred.size()) +
              " queries wrong";
      m = fsh::prediction_montage(ep.support, ep.query, pred, ep.n_way, ep.k_shot, ep.n_query,
                                  ep.height, ep.width, ep.channels, o->scale);
    }
    fsh::write_file_atomic(o->output, fsh::encode_png(m));
    fsh::cli::message("fsh-episodes show", ctx.common.verbosity, 2,
                      "episode " + std::to_string(o->episode) + " (" + std::to_string(ep.n_way) +
                          "-way " + std::to_string(ep.k_shot) + "-shot " +
                          std::to_string(ep.n_query) + "-query, images from " + set.source +
                          wrong + ") -> " + o->output);
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({60, setup, "show",
                                               "Draw one episode as a PNG montage: support rows, "
                                               "then query rows"});

}  // namespace
