// Whole-file output for non-HDF5 results (PNG montages): "-" writes to stdout; any other path
// is written atomically -- to a temporary file in the destination folder, flushed, then renamed
// over the destination -- so a failure never leaves a partial or stale-looking output behind.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fsh {

// Throws io_error naming the path when the file cannot be written.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace fsh
