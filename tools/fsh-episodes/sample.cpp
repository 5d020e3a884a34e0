// fsh-episodes sample: N-way K-shot Q-query episodes from a dataset or one part of a split.
// Logic: lib/data/episodes (sampler), lib/io/episodes_io (file).
#include "common/subcommands.hpp"
#include "data/episodes.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"

namespace {

struct Options {
  std::string input, output, part = "all";
  fsh::SampleOptions s;
  bool embed = false;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto o = std::make_shared<Options>();
  o->s.count = 600;
  sub.add_option("DATASET", o->input, "fsh-dataset or fsh-split file (- = stdin)")->required();
  sub.add_option("-o,--output", o->output, "output fsh-episodes file (- = stdout)")->required();
  sub.add_option("--part", o->part, "classes to draw from: train, val, test, or all")
      ->check(CLI::IsMember({"all", "train", "val", "test"}))
      ->capture_default_str();
  sub.add_option("-N,--ways", o->s.n_way, "classes per episode (N)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  sub.add_option("-K,--shots", o->s.k_shot, "support images per class (K)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  sub.add_option("-Q,--queries", o->s.n_query, "query images per class (Q)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();
  sub.add_option("--count", o->s.count, "number of episodes")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  sub.add_option("--first", o->s.first,
                 "number of the first episode (a shard: episodes FIRST..FIRST+COUNT-1 of the "
                 "same seed)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  sub.add_flag("--within-group", o->s.within_group,
               "draw every episode's N classes from one group (alphabet), chosen uniformly among "
               "the groups with at least N classes of the part");
  sub.add_flag("--embed", o->embed,
               "store the episodes' images in the file (it then stands alone)");
  fsh::cli::add_seed(sub, ctx.common, "seed of the episode draw (episode e uses stream e)");
  fsh::cli::add_verbosity(sub, ctx.common);
  fsh::cli::add_provenance(sub, ctx.common);
  return [o, &ctx] {
    o->s.part = fsh::parse_part_choice(o->part);
    o->s.seed = ctx.common.seed;
    std::string fingerprint;
    const fsh::Dataset d = fsh::read_dataset(o->input, &fingerprint);
    const std::string where = o->input == "-" ? "<stdin>" : o->input;
    fsh::Episodes e = fsh::sample_episodes(d, o->s, where, fingerprint);
    if (o->embed) fsh::embed_images(e, d);
    fsh::write_episodes(
        e, o->output,
        fsh::make_provenance("fsh-episodes sample", ctx.common.provenance ? ctx.command_line : "",
                             ctx.common.seed, {where + " fingerprint=" + e.dataset_fingerprint}));
    fsh::cli::message("fsh-episodes sample", ctx.common.verbosity, 2,
                      "sampled " + std::to_string(e.count()) + " episodes, " +
                          std::to_string(e.n_way) + "-way " + std::to_string(e.k_shot) + "-shot " +
                          std::to_string(e.n_query) + "-query" +
                          (e.within_group ? ", each within one group" : ""));
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({40, setup, "sample",
                                               "Sample N-way K-shot Q-query episodes"});

}  // namespace
