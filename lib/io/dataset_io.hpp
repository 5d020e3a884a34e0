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
#include "io/hdf5.hpp"  // fsh::Provenance, io::Reader, io::Writer

namespace fsh {

// The versions of fsh-dataset and fsh-split this build writes and reads (at most).
constexpr int64_t dataset_format_version = 1;

// Writes d as fsh-dataset, or as fsh-split when d.class_part is non-empty.
void write_dataset(const Dataset& d, const std::string& path, const Provenance& prov);

// Reads an fsh-dataset or fsh-split file.
Dataset read_dataset(const std::string& path);
// The same, also giving the dataset's fingerprint (data/fingerprint.hpp), which reading
// computes anyway: callers that need it (the sampler) save a pass over the images.
Dataset read_dataset(const std::string& path, std::string* fingerprint);

// Reads the dataset part of an already opened file (for readers of other formats that embed
// one, and for info). The caller has checked the format.
Dataset read_dataset(const io::Reader& r, std::string* fingerprint = nullptr);

// Throws fsh::format_error("<where>: ...") unless d is self-consistent: array sizes match
// M, H, W, C and the class count, labels and groups are in range, parts are valid values.
void validate_dataset(const Dataset& d, const std::string& where);

}  // namespace fsh
