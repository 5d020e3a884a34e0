// In-memory image dataset: the one structure that importers, the synthesizer, splits, the
// episode sampler and the trainers share. Images are uint8, row-major [M, H, W, C], ink/object
// bright (255 = full ink for Omniglot-style data). Class c belongs to group class_group[c].
// On disk it is the fsh-dataset format (man 5 fsh-dataset), read and written by lib/io.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fsh {

// Which part of a split a class belongs to. Values are stored on disk (fsh-split): keep them.
enum class Part : int8_t { none = -1, train = 0, val = 1, test = 2 };

// How image files became a dataset's images, so that a model trained on it can prepare new
// pictures the same way (fsh-adapt --support, fsh-eval --images). The importers and the
// synthesizer record it; a dataset written without it (h5py, older fsh) leaves it unknown.
struct ImagePreparation {
  bool known = false;
  bool inverted = false;        // the files' samples were inverted (255 - v: dark ink -> bright)
  std::string resize = "area";  // "area": files resized to H×W by area averaging;
                                // "none": drawn at H×W (synthesized, no files)
};

struct Dataset {
  int64_t height = 0, width = 0, channels = 0;  // H, W, C of every image
  std::vector<uint8_t> images;                  // [M, H, W, C]
  std::vector<int32_t> labels;                  // [M] class index in [0, n_classes)
  std::vector<std::string> instance_names;      // [M] source file name or ""; may be empty
  std::vector<std::string> class_names;         // [n_classes], e.g. "Latin/character01/rot090"
  std::vector<int32_t> class_group;             // [n_classes] index into group_names
  std::vector<std::string> group_names;         // [n_groups], e.g. alphabets
  std::vector<Part> class_part;                 // [n_classes] split part; empty if not split
  ImagePreparation preparation;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t n_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t image_size() const { return height * width * channels; }
  const uint8_t* image(int64_t i) const { return images.data() + i * image_size(); }
  uint8_t* image(int64_t i) { return images.data() + i * image_size(); }
};

}  // namespace fsh
