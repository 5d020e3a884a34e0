// Shared command-line plumbing of the fsh tools (see cli.hpp).
#include "common/cli.hpp"

#include <H5public.h>
#include <cblas.h>
#include <png.h>
#include <zip.h>

#include <iostream>
#include <sstream>

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
    << "  " << openblas_get_config() << "\n"
    << "  CLI11 " << FSH_CLI11_VERSION << "\n"
    << "  libpng " << png_get_libpng_ver(nullptr) << "\n"
    << "  libzip " << zip_libzip_version() << "\n";
  return s.str();
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
