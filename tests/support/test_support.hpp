// Helpers shared by the C++ tests: temporary folders, paths to the tools and to optional data.
#pragma once
#include <optional>
#include <string>

namespace fsh::test {

// A fresh folder under $TMPDIR, removed (recursively) when the object goes out of scope.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// $FSH_DATA_DIR if set and existing; otherwise nullopt (tests then skip, saying so).
std::optional<std::string> data_dir();

// Source tree and built-tools folders (compile-time definitions from CMake).
std::string source_dir();
std::string bin_dir();

}  // namespace fsh::test
