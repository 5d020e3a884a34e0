// Subcommand registry for multi-command tools (fsh-episodes import|synth|split|sample|info|show).
// Each subcommand lives in its own file and registers itself with a static FSH_SUBCOMMAND
// object, so adding one touches no other file. Registration order is irrelevant: subcommands
// are listed in the order of their `order` key.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "common/cli.hpp"

namespace fsh::cli {

struct ToolContext {
  std::string tool;          // "fsh-episodes"
  std::string command_line;  // full argv, for provenance
  CommonOptions common;
};

struct Subcommand {
  int order;
  // Adds the subcommand's options to `sub` and returns the function that runs it (called
  // after parsing, only when this subcommand was chosen). Returns the process exit code.
  std::function<std::function<int()>(CLI::App& sub, ToolContext& ctx)> setup;
  std::string name;
  std::string description;
};

std::vector<Subcommand>& subcommand_registry();

struct SubcommandRegistrar {
  SubcommandRegistrar(Subcommand s) { subcommand_registry().push_back(std::move(s)); }
};

// Builds the app from the registry, parses, runs the chosen subcommand.
int run_subcommand_tool(const std::string& tool, const std::string& description, int argc,
                        char** argv);

}  // namespace fsh::cli
