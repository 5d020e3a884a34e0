// fsh-episodes info: a summary of any fsh file (text, or JSON with --json). Logic: lib/io/info.
#include "io/info.hpp"
#include "methods/describe.hpp"

#include <iostream>

#include "common/subcommands.hpp"

namespace {

struct Options {
  std::string input, dataset;
  bool json = false;
};

std::function<int()> setup(CLI::App& sub, fsh::cli::ToolContext& ctx) {
  auto o = std::make_shared<Options>();
  sub.add_option("FILE", o->input, "any fsh file (- = stdin)")->required();
  sub.add_flag("--json", o->json, "print one JSON object instead of text");
  sub.add_option("--dataset", o->dataset,
                 "for an episodes file: check it against this dataset (fingerprint, labels)");
  return [o] {
    std::cout << fsh::file_info(o->input, o->json, o->dataset, fsh::describe_method_file);
    return 0;
  };
}

const fsh::cli::SubcommandRegistrar registrar({50, setup, "info",
                                               "Summarise any fsh file (text or --json)"});

}  // namespace
