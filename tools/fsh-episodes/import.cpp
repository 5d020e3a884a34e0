// fsh-episodes import: image collections -> fsh-dataset. All work is in lib/data/import.
//   fsh-episodes import omniglot ZIP_OR_DIR... [--size 28] -o OUT
//   fsh-episodes import folder DIR [--size HxW] [--channels 1|3] [--invert] -o OUT
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/subcommands.hpp"
#include "data/import.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"

namespace {

// "28" -> 28x28, "84x84" / "32X48" -> HxW; each side in [1, 4096].
std::pair<int64_t, int64_t> parse_size(const std::string& s, const std::string& flag) {
  const std::string hint = flag + " must be N or HxW with sides in [1, 4096], got '" + s + "'";
  auto side = [&](const std::string& t) -> int64_t {
    if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos)
      throw fsh::usage_error(hint);
    const int64_t v = std::stoll(t);
    if (v < 1 || v > 4096) throw fsh::usage_error(hint);
    return v;
  };
  const auto x = s.find_first_of("xX");
  if (x == std::string::npos) {
    const int64_t v = side(s);
    return {v, v};
  }
  return {side(s.substr(0, x)), side(s.substr(x + 1))};
}

struct Args {
  std::string kind;
  std::vector<std::string> inputs;
  std::string size = "28";
  int64_t channels = 0;  // 0 = not given
  bool invert = false;
  std::string output;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto a = std::make_shared<Args>();
  sub.add_option("KIND", a->kind, "what to import: omniglot | folder")
      ->required()
      ->check(CLI::IsMember({"omniglot", "folder"}));
  sub.add_option("INPUT", a->inputs,
                 "omniglot: official archives (images_background.zip, images_evaluation.zip) or "
                 "extracted folders; folder: one ROOT holding <class>/ or <group>/<class>/ "
                 "folders of PNG/JPEG images")
      ->required();
  sub.add_option("--size", a->size, "output image size: N (square) or HxW, sides in [1, 4096]")
      ->capture_default_str();
  sub.add_option("--channels", a->channels, "folder only: 1 (gray, default) or 3 (RGB)")
      ->check(CLI::IsMember({1, 3}));
  sub.add_flag("--invert", a->invert,
               "folder only: store 255 - v (dark drawings on light paper -> bright ink)");
  sub.add_option("-o,--output", a->output, "output fsh-dataset file (- = stdout)")->required();
  fsh::cli::add_threads(sub, ctx.common);
  fsh::cli::add_verbosity(sub, ctx.common);
  fsh::cli::add_provenance(sub, ctx.common);
  return [a, &ctx]() -> int {
    fsh::ImportOptions o;
    const auto [h, w] = parse_size(a->size, "--size");
    o.height = h;
    o.width = w;
    o.threads = ctx.common.threads;
    const bool bar = ctx.common.verbosity >= 1 && ::isatty(STDERR_FILENO);
    if (bar)
      o.progress = [](int64_t done, int64_t total) {
        std::fprintf(stderr, "\rfsh-episodes import: %lld/%lld images", (long long)done,
                     (long long)total);
        if (done == total) std::fputc('\n', stderr);
      };
    fsh::Dataset d;
    if (a->kind == "omniglot") {
      if (a->channels != 0 || a->invert)
        throw fsh::usage_error(
            "--channels and --invert apply to 'import folder' only (Omniglot is always gray, "
            "ink bright)");
      d = fsh::import_omniglot(a->inputs, o);
    } else {
      if (a->inputs.size() != 1)
        throw fsh::usage_error("import folder takes one ROOT folder, got " +
                               std::to_string(a->inputs.size()) + " inputs");
      o.channels = a->channels ? a->channels : 1;
      o.invert = a->invert;
      d = fsh::import_folder(a->inputs[0], o);
    }
    const fsh::Provenance p = fsh::make_provenance(
        "fsh-episodes import", ctx.common.provenance ? ctx.command_line : "", 0, a->inputs);
    fsh::write_dataset(d, a->output, p);
    fsh::cli::message("fsh-episodes import", ctx.common.verbosity, 2,
                      "imported " + std::to_string(d.size()) + " images of " +
                          std::to_string(d.n_classes()) + " classes in " +
                          std::to_string(d.group_names.size()) + " groups (" +
                          std::to_string(d.height) + "x" + std::to_string(d.width) + "x" +
                          std::to_string(d.channels) + ") -> " + a->output);
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({10, setup, "import",
                                               "import Omniglot archives or a class-per-folder "
                                               "image tree as an fsh-dataset"});

}  // namespace
