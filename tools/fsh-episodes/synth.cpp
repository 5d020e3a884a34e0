// fsh-episodes synth: the built-in procedural glyph dataset (lib/data/synth) -> fsh-dataset.
//   fsh-episodes synth [--classes 400] [--instances 20] [--size 28] [--channels 1|3]
//                      [--per-group 20] [--seed 1] -o OUT
#include "common/subcommands.hpp"
#include "data/synth.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"

namespace {

struct Args {
  fsh::SynthOptions o;
  std::string output;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto a = std::make_shared<Args>();
  sub.add_option("--classes", a->o.classes, "number of glyph classes, in [1, 100000]")
      ->check(CLI::Range(int64_t(1), int64_t(100000)))
      ->capture_default_str();
  sub.add_option("--instances", a->o.instances, "drawings per class, in [1, 10000]")
      ->check(CLI::Range(int64_t(1), int64_t(10000)))
      ->capture_default_str();
  sub.add_option("--size", a->o.size, "image side in pixels, in [8, 1024]")
      ->check(CLI::Range(int64_t(8), int64_t(1024)))
      ->capture_default_str();
  sub.add_option("--channels", a->o.channels,
                 "1: gray glyphs, ink bright; 3: coloured glyphs on textured backgrounds")
      ->check(CLI::IsMember({int64_t(1), int64_t(3)}))
      ->capture_default_str();
  sub.add_option("--per-group", a->o.classes_per_group,
                 "classes per alphabet (a group sharing a stroke style), in [1, classes]; "
                 "default min(20, classes)")
      ->check(CLI::Range(int64_t(1), int64_t(100000)));
  sub.add_option("-o,--output", a->output, "output fsh-dataset file (- = stdout)")->required();
  fsh::cli::add_seed(sub, ctx.common, "random seed: the same seed gives the same bytes");
  fsh::cli::add_threads(sub, ctx.common);
  fsh::cli::add_verbosity(sub, ctx.common);
  fsh::cli::add_provenance(sub, ctx.common);
  return [a, &ctx]() -> int {
    a->o.seed = ctx.common.seed;
    a->o.threads = ctx.common.threads;
    if (a->o.classes_per_group > a->o.classes)
      throw fsh::usage_error("--per-group must be in [1, --classes = " +
                             std::to_string(a->o.classes) + "], got " +
                             std::to_string(a->o.classes_per_group));
    const fsh::Dataset d = fsh::synthesize(a->o);
    const fsh::Provenance p = fsh::make_provenance(
        "fsh-episodes synth", ctx.common.provenance ? ctx.command_line : "", ctx.common.seed, {});
    fsh::write_dataset(d, a->output, p);
    fsh::cli::message("fsh-episodes synth", ctx.common.verbosity, 2,
                      "synthesized " + std::to_string(d.n_classes()) + " classes x " +
                          std::to_string(a->o.instances) + " drawings in " +
                          std::to_string(d.group_names.size()) + " alphabets (" +
                          std::to_string(d.height) + "x" + std::to_string(d.width) + "x" +
                          std::to_string(d.channels) + ", seed " +
                          std::to_string(ctx.common.seed) + ") -> " + a->output);
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({20, setup, "synth",
                                               "generate the built-in procedural glyph dataset"});

}  // namespace
