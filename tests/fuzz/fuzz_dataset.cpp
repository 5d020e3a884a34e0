// libFuzzer target: the fsh-dataset / fsh-split reader (man 5 fsh-dataset, fsh-split) on an
// in-memory HDF5 file (see fuzz_hdf5.hpp). Seeds: tests/fuzz/corpus/fuzz_dataset.
#include "fuzz_hdf5.hpp"
#include "io/dataset_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return fsh::fuzz::read_image(data, size, [](const fsh::io::Reader& r) {
    r.expect({"fsh-dataset", "fsh-split"}, fsh::dataset_format_version);
    std::string fingerprint;
    fsh::read_dataset(r, &fingerprint);
  });
}
