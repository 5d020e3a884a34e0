// Subcommand registry and driver (see subcommands.hpp).
#include "common/subcommands.hpp"

#include <algorithm>
#include <iostream>

namespace fsh::cli {

std::vector<Subcommand>& subcommand_registry() {
  static std::vector<Subcommand> registry;
  return registry;
}

int run_subcommand_tool(const std::string& tool, const std::string& description, int argc,
                        char** argv) {
  return run_main(tool, argc, argv, [&](int ac, char** av) -> int {
    CLI::App app(description, tool);
    app.set_version_flag("--version", version_text(tool));
    app.require_subcommand(1);
    ToolContext ctx{tool, command_line(ac, av), {}};
    auto& reg = subcommand_registry();
    std::sort(reg.begin(), reg.end(),
              [](const Subcommand& a, const Subcommand& b) { return a.order < b.order; });
    std::vector<std::pair<CLI::App*, std::function<int()>>> runs;
    for (auto& s : reg) {
      CLI::App* sub = app.add_subcommand(s.name, s.description);
      runs.emplace_back(sub, s.setup(*sub, ctx));
    }
    parse(app, ac, av);
    for (auto& [sub, run] : runs)
      if (sub->parsed()) return run();
    return 2;
  });
}

}  // namespace fsh::cli
