// Shared by the HDF5 fuzz targets: the input bytes are opened as an in-memory HDF5 file image
// (io::Reader's memory constructor, what "-" does with stdin) and handed to one reader. A
// reader may refuse the input only with an fsh::error (one line naming the file); anything
// else -- a crash, a sanitizer report, another exception, a huge allocation -- is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/hdf5.hpp"
#include "util/error.hpp"

namespace fsh::fuzz {

// Runs read(reader) on the bytes; returns 0 (libFuzzer's "keep going"). A refusal must be one
// line naming the file ("fuzz.h5: ..."), or `other` when the reader compares it with another.
template <class Read>
int read_image(const uint8_t* data, std::size_t size, Read&& read, const std::string& other = "") {
  try {
    io::Reader r("fuzz.h5", data, size);
    read(r);
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    const bool named =
        what.rfind("fuzz.h5: ", 0) == 0 || (!other.empty() && what.rfind(other + ": ", 0) == 0);
    if (what.find('\n') != std::string::npos || !named) {
      std::fprintf(stderr, "refusal is not one line naming the file: %s\n", what.c_str());
      std::abort();
    }
  }
  return 0;
}

}  // namespace fsh::fuzz
