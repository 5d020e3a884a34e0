// What every fsh executable shares: the common flags (spelled the same in every tool), the
// version text, and the main() wrapper that turns fsh exceptions into one line on stderr
// ("fsh-X: error: ...") and an exit code. Results go to stdout, diagnostics to stderr.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fsh::cli {

// Flags shared by all tools. Which of them a tool offers is its choice; the spelling is not.
struct CommonOptions {
  int threads = 0;          // --threads: 0 = the library default (all cores)
  uint64_t seed = 1;        // --seed
  int verbosity = 1;        // --quiet -> 0, default 1, --verbose -> 2
  bool provenance = true;   // --no-provenance clears it
};

void add_threads(CLI::App& app, CommonOptions& o);
void add_seed(CLI::App& app, CommonOptions& o, const std::string& help = "random seed");
void add_verbosity(CLI::App& app, CommonOptions& o);
void add_provenance(CLI::App& app, CommonOptions& o);

// The text --version prints: fsh and every dependency's version, what the build targets, and
// the BLAS kernels running (and who chose them).
std::string version_text(const std::string& tool);

// For the compute tools (fsh-train, fsh-adapt, fsh-eval, benchmarks), after parsing and before
// any BLAS work. Once per process: when OpenBLAS runs older kernels than the processor
// supports, says so on stderr with the remedy (a warning; only a --verbose note when
// OPENBLAS_CORETYPE was set explicitly; nothing with --quiet). With FSH_BLAS_CORETYPE=auto in
// the environment (and OPENBLAS_CORETYPE unset) it instead restarts the program (same argv)
// with OPENBLAS_CORETYPE set to the best kernels for the processor, checks them
// (blas_self_test) and goes back to OpenBLAS's own choice if they fail. See README, "BLAS
// kernels". Throws usage_error for a FSH_BLAS_CORETYPE other than "auto".
void check_blas(const std::string& tool, int verbosity, char** argv);

// The full command line as one string (for provenance records).
std::string command_line(int argc, char** argv);

// Thrown to leave main() early with an exit code, after the message has been printed.
struct exit_request {
  int code;
};

// Parses argv into app. --help and --version print to stdout and exit 0; a bad flag prints
// "<tool>: error: ..." and a hint on stderr and exits 2 (both by throwing exit_request).
void parse(CLI::App& app, int argc, char** argv);

// Runs body(argc, argv) and maps its outcome to an exit code: exit_request -> its code;
// fsh::usage_error -> "<tool>: error: <what>" on stderr, exit 2;
// other exceptions -> "<tool>: error: <what>" on stderr, exit 1.
int run_main(const std::string& tool, int argc, char** argv,
             const std::function<int(int, char**)>& body);

// Prints "<tool>: <msg>" on stderr when verbosity >= level.
void message(const std::string& tool, int verbosity, int level, const std::string& msg);

}  // namespace fsh::cli
