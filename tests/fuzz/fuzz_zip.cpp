// libFuzzer target: `fsh-episodes import omniglot` on a zip archive (libzip listing, entry
// reading and CRC checks, the Omniglot layout, then the image decoders). The importer opens
// archives by path, so each input is written to a temporary file first. A bad archive may be
// refused only with an fsh::error naming it; anything else is a finding.
// Seeds: tests/fuzz/corpus/fuzz_zip.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/import.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/fsh-fuzz-zip-" + std::to_string(getpid()) +
           ".zip";
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  try {
    fsh::ImportOptions o;
    o.height = 6;
    o.width = 6;
    o.threads = 1;
    fsh::import_omniglot({path}, o);
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    if (what.find('\n') != std::string::npos || what.find(path) == std::string::npos) {
      std::fprintf(stderr, "refusal is not one line naming the archive: %s\n", what.c_str());
      std::abort();
    }
  }
  std::remove(path.c_str());
  return 0;
}
