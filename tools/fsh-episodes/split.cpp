// fsh-episodes split: class-level splits (by group or class fraction, or from class-list files)
// with optional rotation augmentation. Logic: lib/data/split.
#include "data/split.hpp"

#include <sstream>

#include "common/subcommands.hpp"
#include "data/fingerprint.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"

namespace {

struct Options {
  std::string input, output, by = "group", fraction = "0.8,0,0.2";
  std::vector<std::string> classes;
  int rotations = 1;
};

std::array<double, 3> parse_fractions(const std::string& s) {
  std::vector<double> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      v.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::logic_error&) {
      throw fsh::usage_error("--fraction \"" + s + "\": \"" + item + "\" is not a number");
    }
  }
  if (v.size() == 2) return {v[0], 0.0, v[1]};
  if (v.size() == 3) return {v[0], v[1], v[2]};
  throw fsh::usage_error("--fraction \"" + s + "\": expected TRAIN,TEST or TRAIN,VAL,TEST");
}

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto o = std::make_shared<Options>();
  sub.add_option("DATASET", o->input, "fsh-dataset file to split (- = stdin)")->required();
  sub.add_option("-o,--output", o->output, "output fsh-split file (- = stdout)")->required();
  sub.add_option("--by", o->by, "what --fraction counts: group (alphabets) or class")
      ->check(CLI::IsMember({"group", "class"}))
      ->capture_default_str();
  auto* fraction =
      sub.add_option("--fraction", o->fraction,
                     "TRAIN,VAL,TEST (or TRAIN,TEST) fractions of groups or classes; sum 1")
          ->capture_default_str();
  sub.add_option("--classes", o->classes,
                 "PART=FILE class lists (PART: train, trainval, val, test), comma-separated; "
                 "unlisted classes are dropped")
      ->delimiter(',')
      ->excludes(fraction);
  sub.add_option("--rotations", o->rotations,
                 "1, or 4 to add 90/180/270-degree rotations as new classes")
      ->check(CLI::IsMember({1, 4}))
      ->capture_default_str();
  fsh::cli::add_seed(sub, ctx.common, "seed of the fraction draw");
  fsh::cli::add_verbosity(sub, ctx.common);
  fsh::cli::add_provenance(sub, ctx.common);
  return [o, &ctx] {
    fsh::SplitOptions so;
    so.by = o->by == "group" ? fsh::SplitBy::group : fsh::SplitBy::klass;
    so.rotations = o->rotations;
    so.seed = ctx.common.seed;
    for (const std::string& spec : o->classes) {
      const std::size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw fsh::usage_error("--classes \"" + spec +
                               "\": expected PART=FILE, e.g. test=test.txt");
      so.lists.push_back(
          fsh::read_class_list(spec.substr(eq + 1), fsh::parse_part(spec.substr(0, eq))));
    }
    if (so.lists.empty()) so.fractions = parse_fractions(o->fraction);
    const fsh::Dataset d = fsh::read_dataset(o->input);
    const std::string where = o->input == "-" ? "<stdin>" : o->input;
    const fsh::Dataset s = fsh::split_dataset(d, so, where);
    std::vector<std::string> inputs{where + " fingerprint=" + fsh::dataset_fingerprint(d)};
    for (const auto& l : so.lists) inputs.push_back(l.source);
    fsh::write_dataset(
        s, o->output,
        fsh::make_provenance("fsh-episodes split", ctx.common.provenance ? ctx.command_line : "",
                             ctx.common.seed, inputs));
    std::ostringstream msg;
    msg << "split " << d.n_classes() << " classes into " << s.n_classes() << ":";
    for (fsh::Part p : {fsh::Part::train, fsh::Part::val, fsh::Part::test}) {
      int64_t n = 0;
      for (fsh::Part q : s.class_part) n += q == p;
      msg << " " << fsh::part_name(p) << " " << n;
    }
    msg << " (" << s.size() << " images)";
    fsh::cli::message("fsh-episodes split", ctx.common.verbosity, 1, msg.str());
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({30, setup, "split",
                                               "Split a dataset's classes into train/val/test"});

}  // namespace
