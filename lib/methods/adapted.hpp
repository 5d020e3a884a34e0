// Adapted classifiers for a whole episodes file, and their file format (man 5 fsh-adapted).
// What every episode's primary network shares is stored once: the base convolutions (weights
// and biases before folding). What varies is stored per episode: for each conv block the
// per-channel (scale, shift) that folds that episode's normalisation (and whatever per-channel
// modulation the method applied) into it, the linear head, and -- only for methods that change
// the convolutions themselves (MAML's fine-tuning) -- the episode's own convolutions, which
// then replace the base. Episode e's conv block i is apply_fold(convs_e or base, scale[e,i],
// shift[e,i]) (nn/conv4.hpp, the one folding), used alike when adapting in memory and when
// reading a file, so both classify identically.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "methods/method.hpp"
#include "util/shard.hpp"

namespace fsh {

// Version 2 added per-episode convolutions (/episodes/conv<i>.weight, .bias) and
// /config/settings; version-1 files read as sets without them. Optional fields added since
// (class names, source image size, the /config input attributes) keep version 2: readers
// take their absence for "not recorded".
constexpr int64_t adapted_format_version = 2;

// What a partial set (fsh-adapt --shard i/n) records so that its parts merge into exactly the
// complete set and nothing else: which shard it is, where its episodes sit in the episodes
// file, and fingerprints of that whole file's episodes and of the model (evaluate.hpp).
struct AdaptedShard {
  Shard shard;                       // i of n
  int64_t begin = 0;                 // the episodes file's index of this set's episode 0
  int64_t total = 0;                 // episodes in the episodes file
  std::string episodes_fingerprint;  // episodes_fingerprint() of the whole episodes file
  std::string model_fingerprint;     // model_fingerprint() of the model adapted

  EpisodeRange range(int64_t count) const { return {begin, begin + count}; }
};

struct AdaptedSet {
  ModelConfig model;
  int n_way = 0;
  // The episodes these classifiers were adapted to (checked by fsh-eval).
  int64_t k_shot = 0, n_query = 0, first = 0;
  uint64_t episodes_seed = 0;
  std::string dataset_fingerprint;
  std::vector<float> base;         // conv_layout(model.backbone)
  std::vector<float> scale;        // [E, depth, K]
  std::vector<float> shift;        // [E, depth, K]
  std::vector<float> head_weight;  // [E, N, F]
  std::vector<float> head_bias;    // [E, N]
  std::vector<float> convs;        // [E, conv_layout size], or empty: every episode uses base
  // Optional. Class names, [E*N] episode-major (entry e*N + c names class c of episode e), or
  // empty: classes are then known by number only.
  std::vector<std::string> class_names;
  // Optional. The size (H, W) of the image files the support sets were read from, when they
  // were (fsh-adapt --support): fsh-eval --images expects files of this size. 0: any size.
  int64_t source_height = 0, source_width = 0;
  // Set for a partial set: the classifiers of one shard's episodes only (episode j of this set
  // is episode part->begin + j of the episodes file). Unset: every episode of the file.
  std::optional<AdaptedShard> part;

  int64_t count() const;
  // The episodes of the episodes file this set holds: [0, count()) unless partial.
  EpisodeRange range() const { return part ? part->range(count()) : EpisodeRange{0, count()}; }
  bool per_episode_convs() const { return !convs.empty(); }
  // Appends one episode's classifier. shape_error when its size or ways differ from the set's;
  // usage_error when its conv blocks are not exactly its convs (or the base) folded with its
  // scale and shift -- a classifier this format cannot represent is refused, never stored
  // approximately.
  void add(const AdaptedClassifier& a);
  // Episode e's full classifier.
  AdaptedClassifier episode(int64_t e) const;
  // Episode e's N class names: the recorded ones, else "0", "1", ...
  std::vector<std::string> episode_class_names(int64_t e) const;
};

void write_adapted(const AdaptedSet& s, const std::string& path, const Provenance& prov);
// read_adapted checks a partial set's shard attributes (all or none; the shard's range per
// util/shard.hpp equal to shard_begin and count; fingerprints spelled as such).
AdaptedSet read_adapted(const std::string& path);
// For readers that already opened the file (info).
AdaptedSet read_adapted(const io::Reader& r);

// A fingerprint (16 hex digits) of everything a set holds that fsh-eval scores: the /config
// method, normalisation and backbone, the base, and every episode's scale, shift, head and
// convolutions. Equal for equal classifiers, whatever the file's provenance.
std::string adapted_fingerprint(const AdaptedSet& s);

// The complete set that the partial sets `parts` (named by `names` in messages, in any order)
// are shards of: exactly the set one unsharded adaptation makes, episode for episode (each part
// episode appended with add(), as adapt_episodes does). format_error, one line naming the file,
// for a part that is not partial, parts of different shard counts, episodes files or models
// (different fingerprints, episode shapes or /config), a shard given twice, a shard missing,
// or class names recorded by some parts only.
AdaptedSet merge_adapted(const std::vector<AdaptedSet>& parts,
                         const std::vector<std::string>& names);

}  // namespace fsh
