// libFuzzer target: the fsh-episodes reader (man 5 fsh-episodes) on an in-memory HDF5 file
// (see fuzz_hdf5.hpp): first alone (read_episodes: attributes, shapes, indices, the embedded
// fingerprint), then against its source dataset (check_source: fingerprint, dataset_size,
// labels, groups, embedded images), then every episode's images gathered as the tools do.
// The source is the dataset the seeds were drawn from (tests/fuzz/make_corpus.sh), read from the
// seed corpus.
#include "fuzz_hdf5.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const fsh::Dataset source =
      fsh::read_dataset(FSH_SOURCE_DIR "/tests/fuzz/corpus/fuzz_dataset/ds.h5");
  return fsh::fuzz::read_image(
      data, size,
      [](const fsh::io::Reader& r) {
        r.expect({"fsh-episodes"}, fsh::episodes_format_version);
        const fsh::Episodes alone = fsh::read_episodes(r);
        if (alone.embedded())
          for (int64_t i = 0; i < alone.count(); ++i) fsh::episode_images(alone, i);
        const fsh::Episodes e = fsh::read_episodes(r, &source, "source.h5");
        for (int64_t i = 0; i < e.count(); ++i) fsh::episode_images(e, i, &source);
      },
      "source.h5");
}
