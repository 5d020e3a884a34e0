// Reading and writing datasets (fsh-dataset, and fsh-split: a dataset whose classes carry a
// split part). Formats: man/man5/fsh-dataset.5, man/man5/fsh-split.5.
// Paths: "-" reads HDF5 from stdin / writes it to stdout. Writers are atomic (temporary file in
// the destination folder, then rename): no half-written output is ever left behind.
// Readers throw fsh::io_error / fsh::format_error with one line naming the file and the problem.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace fsh {

// How a file was made (stored in every file's /provenance group; see man 5 fsh-formats).
struct Provenance {
  std::string tool;                 // e.g. "fsh-episodes import"
  std::string version;              // fsh version
  std::string command_line;         // full command line, "" with --no-provenance
  uint64_t seed = 0;
  std::vector<std::string> inputs;  // input paths (and their fingerprints where known)
};

// Writes d as fsh-dataset, or as fsh-split when d.class_part is non-empty.
void write_dataset(const Dataset& d, const std::string& path, const Provenance& prov);

// Reads an fsh-dataset or fsh-split file.
Dataset read_dataset(const std::string& path);

}  // namespace fsh
