// Helpers shared by the C++ tests (see test_support.hpp).
#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace fsh::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/fsh-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::optional<std::string> data_dir() {
  const char* d = std::getenv("FSH_DATA_DIR");
  if (!d || !*d || !std::filesystem::is_directory(d)) return std::nullopt;
  return std::string(d);
}

std::string source_dir() { return FSH_SOURCE_DIR; }
std::string bin_dir() { return FSH_BIN_DIR; }

}  // namespace fsh::test
