// Typed exceptions of the fsh library. Messages name the file, the value and a hint; only a
// tool's main() catches them (tools/common/cli.hpp), prints "fsh-X: error: <what()>" once and
// returns a non-zero exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace fsh {

// Base of everything fsh throws on purpose.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A file could not be opened, read or written (missing, permissions, disk full, not HDF5).
struct io_error : error {
  using error::error;
};
// A file was read but does not follow its format (wrong name, newer version, bad dataset).
struct format_error : error {
  using error::error;
};
// Tensor or array shapes that do not fit together.
struct shape_error : error {
  using error::error;
};
// A request that cannot be honoured with the given data or options (N-way > classes, ...).
struct usage_error : error {
  using error::error;
};

}  // namespace fsh
