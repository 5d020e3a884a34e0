// libFuzzer target: the fsh-model reader (man 5 fsh-model) on an in-memory HDF5 file (see
// fuzz_hdf5.hpp), then what fsh-adapt does with a model it has read: the method is built and
// its parameters loaded. Seeds: tests/fuzz/corpus/fuzz_model.
#include "fuzz_hdf5.hpp"
#include "methods/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  return fsh::fuzz::read_image(data, size, [](const fsh::io::Reader& r) {
    const fsh::Checkpoint c = fsh::read_checkpoint(r);
    fsh::load_method(c, r.display());
  });
}
