// libFuzzer target: the fsh-adapted reader (man 5 fsh-adapted) on an in-memory HDF5 file (see
// fuzz_hdf5.hpp), then every episode's classifier rebuilt as fsh-eval does.
// Seeds: tests/fuzz/corpus/fuzz_adapted.
#include "fuzz_hdf5.hpp"
#include "methods/adapted.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return fsh::fuzz::read_image(data, size, [](const fsh::io::Reader& r) {
    const fsh::AdaptedSet s = fsh::read_adapted(r);
    for (int64_t e = 0; e < s.count(); ++e) s.episode(e);
  });
}
