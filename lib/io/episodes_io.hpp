// Reading and writing fsh-episodes files (man 5 fsh-episodes), and opening episodes together
// with the images they index. Same guarantees as every lib/io writer and reader: "-" is
// stdin/stdout, writes are atomic and byte-for-byte deterministic, bad files are rejected with
// one line naming the file and the problem.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "data/dataset.hpp"
#include "data/episodes.hpp"
#include "io/hdf5.hpp"

namespace fsh {

// The version of fsh-episodes this build writes and reads (at most).
constexpr int64_t episodes_format_version = 1;

void write_episodes(const Episodes& e, const std::string& path, const Provenance& prov);

// Reads an fsh-episodes file; checks its internal consistency (validate_episodes) and the
// fingerprint of its embedded images when recorded (not the source dataset).
Episodes read_episodes(const std::string& path);
// The same from an opened file whose format the caller has checked. With `source`, the
// episodes are also checked against that dataset (check_source: identity before indices, so
// a wrong dataset_size is named as such); `source_where` names it in messages and
// `source_fingerprint` is its fingerprint when known ("" = compute it).
Episodes read_episodes(const io::Reader& r, const Dataset* source = nullptr,
                       const std::string& source_where = "",
                       const std::string& source_fingerprint = "");

// Episodes plus the images they index.
struct EpisodeSet {
  Episodes episodes;
  std::optional<Dataset> dataset;  // the source dataset, unless the images come embedded
  std::string source;              // where the images come from, for messages

  int64_t count() const { return episodes.count(); }
  EpisodeImages images(int64_t i) const {
    return episode_images(episodes, i, dataset ? &*dataset : nullptr);
  }
};

// Opens `episodes_path` and finds its images: from `dataset_path` when given; else the
// embedded images; else the dataset path recorded in the file (as given, then relative to the
// episodes file's folder). A dataset is checked against the episodes (check_source: the
// fingerprint, labels, groups, and the embedded images if any); io_error when no images can be
// found.
EpisodeSet open_episodes(const std::string& episodes_path, const std::string& dataset_path = "");

}  // namespace fsh
