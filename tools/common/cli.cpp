// Shared command-line plumbing of the fsh tools (see cli.hpp).
#include "common/cli.hpp"

#include <H5public.h>
#include <png.h>
#include <zip.h>

#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include "backend/cpu/blas_info.hpp"
#include "dist/dist.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace fsh::cli {

void add_threads(CLI::App& app, CommonOptions& o) {
  app.add_option("--threads", o.threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024));
}

void add_seed(CLI::App& app, CommonOptions& o, const std::string& help) {
  // A seed is unsigned 64-bit; CLI11 would read "-1" as 2^64 - 1 without a word.
  const CLI::Validator unsigned_only(
      [](std::string& s) {
        return s.find('-') == std::string::npos ? std::string()
                                                : "Value " + s + " is not a non-negative integer";
      },
      "");
  app.add_option("--seed", o.seed, help)->capture_default_str()->check(unsigned_only);
}

void add_verbosity(CLI::App& app, CommonOptions& o) {
  app.add_flag_callback("-q,--quiet", [&o] { o.verbosity = 0; }, "print nothing but errors");
  app.add_flag_callback("-v,--verbose", [&o] { o.verbosity = 2; }, "print more detail on stderr");
}

void add_provenance(CLI::App& app, CommonOptions& o) {
  app.add_flag_callback("--no-provenance", [&o] { o.provenance = false; },
                        "do not record the command line in the output's provenance");
}

std::string version_text(const std::string& tool) {
  std::ostringstream s;
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  s << tool << " (fsh) " << FSH_VERSION << "\n"
    << "  HDF5 " << maj << "." << min << "." << rel << "\n"
    << "  xtensor " << FSH_XTENSOR_VERSION << ", xtensor-blas " << FSH_XTENSOR_BLAS_VERSION << "\n"
    << "  " << blas_runtime().config << "\n"
    << "  BLAS " << blas_kernel_summary() << "\n"
    << "  CLI11 " << FSH_CLI11_VERSION << "\n"
    << "  libpng " << png_get_libpng_ver(nullptr) << "\n"
    << "  libzip " << zip_libzip_version() << "\n"
    << "  build: " << build_target() << "\n"
    << "  " << dist::description() << "\n";
  return s.str();
}

namespace {

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

bool same_core(const std::string& a, const std::string& b) {
  return a.size() == b.size() && strncasecmp(a.c_str(), b.c_str(), a.size()) == 0;
}

// Replaces this process by a fresh run of the same program with the same arguments, so that
// OpenBLAS, which reads OPENBLAS_CORETYPE only when it loads, sees the environment set here.
// Returns only when that fails.
void restart(char** argv) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
}

}  // namespace

// FSH_BLAS_CHOSEN carries the restart's state to the new process: "<core>" = fsh asked for
// these kernels; "!<core> failed fsh's check (<why>)" = they did, back to OpenBLAS's choice.
// Every path restarts at most once more, and none when OPENBLAS_CORETYPE was set by the user.
void check_blas(const std::string& tool, int verbosity, char** argv) {
  static bool checked = false;
  if (checked) return;
  checked = true;
  const auto mode = env_value("FSH_BLAS_CORETYPE");
  if (mode && *mode != "auto")
    throw usage_error("FSH_BLAS_CORETYPE must be 'auto' or unset, got '" + *mode +
                      "' (to name the kernels yourself, set OPENBLAS_CORETYPE)");
  const BlasRuntime rt = blas_runtime();
  const CpuFeatures cpu = cpu_features();
  const auto coretype = env_value("OPENBLAS_CORETYPE");
  const auto chosen = env_value("FSH_BLAS_CHOSEN");
  auto warn = [&](const std::string& m) { message(tool, verbosity, 1, "warning: " + m); };

  // The restarted process (unless OPENBLAS_CORETYPE changed since: then it is the user's).
  if (mode && chosen && (*chosen)[0] == '!') {
    warn("FSH_BLAS_CORETYPE=auto: the BLAS kernels " + chosen->substr(1) +
         "; running OpenBLAS's own choice, " + rt.corename + ", instead");
    return;
  }
  if (mode && chosen && coretype && same_core(*coretype, *chosen)) {
    // Whatever runs now (OpenBLAS may substitute kernels it lacks) runs because fsh asked:
    // check it before any result depends on it.
    const std::string failure = blas_self_test_isolated();
    if (failure.empty()) {
      if (same_core(rt.corename, *chosen))
        message(tool, verbosity, 2,
                "BLAS kernels " + rt.corename +
                    " chosen by FSH_BLAS_CORETYPE=auto; sgemm and dgemm checked against a "
                    "reference sum");
      else
        warn("FSH_BLAS_CORETYPE=auto: asked OpenBLAS for its " + *chosen +
             " kernels but it runs " + rt.corename + " (this OpenBLAS may not have them)");
      return;
    }
    // Wrong results: these kernels must not run. Back to OpenBLAS's own choice.
    setenv("FSH_BLAS_CHOSEN",
           ("!" + rt.corename + " failed fsh's check (" + failure + ")").c_str(), 1);
    unsetenv("OPENBLAS_CORETYPE");
    restart(argv);
    throw std::runtime_error("FSH_BLAS_CORETYPE=auto: the BLAS kernels " + rt.corename +
                             " compute wrongly (" + failure +
                             ") and fsh could not restart without them: " +
                             std::strerror(errno));
  }

  const BlasAdvice advice = blas_advice(rt.corename, rt.dynamic_arch, cpu, coretype);
  if (mode && !coretype && !chosen && rt.dynamic_arch && !advice.better_core.empty() &&
      blas_core_tier(rt.corename) < cpu_blas_tier(cpu)) {
    setenv("OPENBLAS_CORETYPE", advice.better_core.c_str(), 1);
    setenv("FSH_BLAS_CHOSEN", advice.better_core.c_str(), 1);
    restart(argv);
    const int err = errno;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("FSH_BLAS_CHOSEN");
    warn("FSH_BLAS_CORETYPE=auto: could not restart with OPENBLAS_CORETYPE=" +
         advice.better_core + " (" + std::strerror(err) + ")");
  }
  if (mode && coretype && !chosen)
    message(tool, verbosity, 2,
            "FSH_BLAS_CORETYPE=auto leaves the kernels alone: OPENBLAS_CORETYPE=" + *coretype +
                " is set");
  if (advice.level == BlasAdvice::warning) warn(advice.text);
  if (advice.level == BlasAdvice::note) message(tool, verbosity, 2, advice.text);
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i) out += ' ';
    std::string a = argv[i];
    // The tool by its name only: the same command must record the same bytes wherever fsh is
    // installed.
    if (i == 0 && a.rfind('/') != std::string::npos) a = a.substr(a.rfind('/') + 1);
    const bool quote = a.empty() || a.find_first_of(" \t\"'$\\") != std::string::npos;
    if (!quote) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'') out += "'\\''";
        else out += c;
      }
      out += '\'';
    }
  }
  return out;
}

void parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e, std::cout, std::cerr);
      throw exit_request{0};
    }
    std::string name = app.get_name();
    for (const CLI::App* p = app.get_parent(); p; p = p->get_parent()) name = p->get_name();
    std::cerr << name << ": error: " << e.what() << "\n"
              << "Run '" << name << " --help' for usage.\n";
    throw exit_request{2};
  }
}

int run_main(const std::string& tool, int argc, char** argv,
             const std::function<int(int, char**)>& body) {
  try {
    return body(argc, argv);
  } catch (const exit_request& e) {
    return e.code;
  } catch (const fsh::usage_error& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return 1;
  }
}

void message(const std::string& tool, int verbosity, int level, const std::string& msg) {
  if (verbosity >= level) std::cerr << tool << ": " << msg << "\n";
}

}  // namespace fsh::cli
