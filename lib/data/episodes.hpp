// N-way K-shot Q-query episodes: the sampler and the in-memory form every trainer, adapter and
// evaluator uses. On disk this is the fsh-episodes format (man 5 fsh-episodes, lib/io/episodes_io).
//
// Guarantees:
// - Episode e is drawn from its own stream, Rng::stream(seed, e): the episodes of a run do not
//   depend on the thread count, and any subrange [first, first+count) (a shard) is drawn alone
//   with exactly the values of the full run. The whole draw is specified in man 5 fsh-episodes
//   (THE DRAW) and reproduced from that text alone by tests/py/test_draw_spec.py.
// - Ordering is class-major: support[e][c*K + k] and query[e][c*Q + q] are images of episode
//   class c, whose dataset class is classes[e][c]; episode label = c.
// - Indices point into the source dataset, whose fingerprint the Episodes carry; images come
//   from that dataset (checked against the fingerprint) or from images embedded in the file.
// - Every MUST of man 5 fsh-episodes that the file alone can show is checked by
//   validate_episodes (distinct classes; no image twice in an episode, support and query
//   together; index ranges); the rest (labels, groups, embedded images) by check_source.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace fsh {

// Which classes episodes are drawn from: one part of a split, or every class ("all").
enum class PartChoice { all, train, val, test };

// "all" | "train" | "val" | "test"; parse_part_choice throws usage_error on anything else.
std::string to_string(PartChoice p);
PartChoice parse_part_choice(const std::string& s);

struct SampleOptions {
  int64_t n_way = 5;     // N classes per episode
  int64_t k_shot = 1;    // K support images per class
  int64_t n_query = 15;  // Q query images per class
  int64_t count = 100;   // episodes to draw
  int64_t first = 0;     // index of the first episode (a shard starts here)
  uint64_t seed = 1;
  PartChoice part = PartChoice::all;
  // Every episode's N classes from one group (an alphabet: Lake et al. 2015's within-alphabet
  // 20-way task). The group is drawn uniformly among the groups with at least N classes of the
  // part; the sampler throws usage_error when there is none.
  bool within_group = false;
};

struct Episodes {
  int64_t n_way = 0, k_shot = 0, n_query = 0;
  int64_t first = 0;  // index of episode 0 of this object in its run (0 unless a shard)
  uint64_t seed = 0;
  PartChoice part = PartChoice::all;
  // False for a file without a seed (part) attribute: the value above is then not known.
  bool seed_recorded = true, part_recorded = true;
  bool within_group = false;     // each episode's classes share one group (SampleOptions)
  std::vector<int32_t> support;  // [E, N*K] dataset indices, class-major
  std::vector<int32_t> query;    // [E, N*Q] dataset indices, class-major
  std::vector<int32_t> classes;  // [E, N] dataset class of each episode class

  // The source dataset: its fingerprint, size M and class names (for display).
  std::string dataset_fingerprint;
  int64_t dataset_size = 0;
  std::vector<std::string> class_names;  // [n_classes] of the dataset; may be empty
  std::string dataset_path;              // the dataset file as given when sampling; may be ""

  // Embedded images (empty unless embedded): image_index[i] is the dataset index of row i of
  // images [U, H, W, C]; image_index is sorted ascending and holds every index used.
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> images;
  std::vector<int32_t> image_index;

  int64_t count() const { return n_way > 0 ? static_cast<int64_t>(classes.size()) / n_way : 0; }
  bool embedded() const { return !image_index.empty(); }
  int64_t support_size() const { return n_way * k_shot; }  // N*K
  int64_t query_size() const { return n_way * n_query; }   // N*Q
};

// The fingerprint of e's embedded images (man 5 fsh-episodes): the dataset fingerprint
// (fingerprint.hpp) of U images [U, H, W, C] with embedded/index in place of the labels.
std::string embedded_fingerprint(const Episodes& e);

// The sampler behind sample_episodes(), for callers that draw again and again from one
// dataset (a trainer draws one episode per step): the constructor checks the options and indexes
// the classes once; draw(first, count) gives exactly what sample_episodes would with that
// first/count. The dataset must outlive the sampler.
class EpisodeSampler {
 public:
  // o.first and o.count are ignored (draw() takes them). Throws as sample_episodes does.
  EpisodeSampler(const Dataset& d, const SampleOptions& o, const std::string& where,
                 const std::string& fingerprint = "");
  Episodes draw(int64_t first, int64_t count) const;

 private:
  const Dataset& d_;
  SampleOptions o_;
  std::string where_, fingerprint_;
  std::vector<int32_t> eligible_;              // classes of the part, in dataset order
  std::vector<std::vector<int32_t>> members_;  // [n_classes] image indices of each class
  // within_group: the part's classes of each group holding at least N of them, in group order
  std::vector<std::vector<int32_t>> groups_;
};

// Draws o.count episodes (numbers o.first ... o.first+o.count-1) from the classes of o.part.
// Throws usage_error when the part is empty or not split, when N exceeds its classes (with
// o.within_group: the classes of every group), or when K+Q exceeds a class's instances
// (naming the class). `where` names the dataset in messages
// (and is recorded as its path). `fingerprint`: d's fingerprint when the caller has it ("" =
// compute it; a pass over the images).
Episodes sample_episodes(const Dataset& d, const SampleOptions& o, const std::string& where,
                         const std::string& fingerprint = "");

// Copies the images the episodes use into e (so the file stands alone). d must be the dataset
// e was drawn from; only its size is checked here (check_source checks the fingerprint).
void embed_images(Episodes& e, const Dataset& d);

// Throws format_error unless d is the dataset e was drawn from, in this order: the same
// fingerprint (else "<dataset_where>: not the dataset the episodes of ... were drawn from") and
// size (else "<episodes_where>: dataset_size is ..."); then validate_episodes(e); then every
// image listed under its episode class carries that label, class_names (when present) are d's,
// a within_group file's episodes each use one group of d, and embedded images equal d's.
// `fingerprint`: d's fingerprint when the caller has it ("" = compute it).
void check_source(const Episodes& e, const std::string& episodes_where, const Dataset& d,
                  const std::string& dataset_where, const std::string& fingerprint = "");

// The images and labels of one episode, ready for a method.
struct EpisodeImages {
  int64_t n_way = 0, k_shot = 0, n_query = 0, height = 0, width = 0, channels = 0;
  std::vector<uint8_t> support;         // [N*K, H, W, C]
  std::vector<int32_t> support_labels;  // [N*K] episode labels in [0, N)
  std::vector<uint8_t> query;           // [N*Q, H, W, C]
  std::vector<int32_t> query_labels;    // [N*Q]
};

// Episode i (0-based within e) with images from `d` when given (it must be the source
// dataset: call check_source once), else from the embedded images (usage_error when there
// are none).
EpisodeImages episode_images(const Episodes& e, int64_t i, const Dataset* d = nullptr);

// Throws format_error("<where>: ...") unless e is self-consistent: sizes, index ranges (an
// index at or above dataset_size names dataset_size), the N classes of each episode distinct,
// no image twice in an episode (support and query together), embedded arrays consistent.
void validate_episodes(const Episodes& e, const std::string& where);

}  // namespace fsh
