// fsh-episodes export: a dataset, or one episode, as class folders of PNG files -- the tree
// that `import folder` and `fsh-adapt --support` read. Logic: lib/data/export.
//   fsh-episodes export DATASET -o DIR [--as-stored]
//   fsh-episodes export EPISODES [--episode E] [--dataset DATASET] -o DIR [--as-stored]
#include "common/subcommands.hpp"
#include "data/export.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"
#include "util/error.hpp"

namespace {

struct Options {
  std::string input, dataset, output;
  int64_t episode = 0;
  bool as_stored = false;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto o = std::make_shared<Options>();
  sub.add_option("FILE", o->input, "an fsh-dataset, fsh-split or fsh-episodes file")->required();
  sub.add_option("-o,--output", o->output,
                 "output folder (must not exist, or be empty); written whole or not at all")
      ->required();
  sub.add_option("--episode", o->episode,
                 "episodes file: which episode (0 = the first); written as DIR/support/ and "
                 "DIR/query/")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  sub.add_option("--dataset", o->dataset,
                 "episodes file: the dataset it indexes (default: the embedded images, else the "
                 "dataset path recorded in the file)");
  sub.add_flag("--as-stored", o->as_stored,
               "write the stored pixel values, even when the dataset records that its files "
               "were inverted on import");
  fsh::cli::add_verbosity(sub, ctx.common);
  return [o, &ctx] {
    if (o->input == "-") throw fsh::usage_error("export reads a file; stdin (-) is not supported");
    std::string format;
    {
      fsh::io::Reader probe(o->input);
      format = probe.format();
    }
    std::string what;
    if (format == "fsh-episodes") {
      const fsh::EpisodeSet set = fsh::open_episodes(o->input, o->dataset);
      if (o->episode >= set.count())
        throw fsh::usage_error("--episode must be in [0, " + std::to_string(set.count() - 1) +
                               "]: " + o->input + " holds " + std::to_string(set.count()) +
                               " episodes, got " + std::to_string(o->episode));
      const fsh::Episodes& e = set.episodes;
      std::vector<std::string> names;
      if (!e.class_names.empty())
        for (int64_t c = 0; c < e.n_way; ++c)
          names.push_back(e.class_names.at(std::size_t(e.classes[o->episode * e.n_way + c])));
      // Embedded images alone do not say how they were made: written as stored.
      const fsh::ImagePreparation prep =
          set.dataset ? set.dataset->preparation : fsh::ImagePreparation{};
      const fsh::EpisodeImages ep = set.images(o->episode);
      fsh::export_episode(ep, names, prep, o->output, o->as_stored);
      what = "episode " + std::to_string(o->episode) + " (" + std::to_string(ep.n_way) +
             "-way " + std::to_string(ep.k_shot) + "-shot " + std::to_string(ep.n_query) +
             "-query)";
    } else {
      if (!o->dataset.empty())
        throw fsh::usage_error("--dataset applies to episodes files; " + o->input + " is " +
                               (format.empty() ? "not an fsh file" : format));
      if (o->episode != 0)
        throw fsh::usage_error("--episode applies to episodes files; " + o->input + " is " +
                               (format.empty() ? "not an fsh file" : format));
      const fsh::Dataset d = fsh::read_dataset(o->input);
      fsh::export_dataset(d, o->output, o->as_stored);
      what = std::to_string(d.size()) + " images of " + std::to_string(d.n_classes()) +
             " classes";
    }
    fsh::cli::message("fsh-episodes export", ctx.common.verbosity, 2,
                      "wrote " + what + " as PNG files -> " + o->output);
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({55, setup, "export",
                                               "Write a dataset, or one episode's support and "
                                               "query images, as class folders of PNG files"});

}  // namespace
