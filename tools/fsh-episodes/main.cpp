// fsh-episodes: datasets and episodes. Subcommands register themselves from their own files
// in this folder (import, synth, split, sample, info, show); all their logic is in lib/.
#include "common/subcommands.hpp"

int main(int argc, char** argv) {
  return fsh::cli::run_subcommand_tool(
      "fsh-episodes", "Import and synthesize datasets, split classes, sample N-way K-shot episodes",
      argc, argv);
}
