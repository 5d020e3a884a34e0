// Importers that turn image collections into an fsh::Dataset (uint8 [M, H, W, C]).
//
// Omniglot (import_omniglot): the official archives images_background.zip /
// images_evaluation.zip, read straight from the zip (libzip) or from an extracted folder. Every
// `<Alphabet>/<characterNN>/<file>.png` below a source is one drawing (the last three path
// components count, so `images_background/...` prefixes are fine). Images are made ink bright
// (255 - v: Omniglot draws black ink on white paper) and then resized by area averaging.
// class = "Alphabet/characterNN", group = alphabet, instance name = file name.
//
// Class folders (import_folder): ROOT/<class>/<image> or ROOT/<group>/<class>/<image>, where an
// image is *.png, *.jpg or *.jpeg (any case). Class folders are those that directly hold images;
// they must all sit at the same depth: depth 1 gives classes "<class>" in one group named after
// ROOT, depth 2 gives classes "<group>/<class>" grouped by their parent. Images of any size, gray
// or RGB, are converted to `channels` and resized by area averaging. Other files are ignored.
//
// Both: hidden entries (".*") and "__MACOSX" are skipped; classes, groups and instances are sorted
// by name (byte order), so the result does not depend on argument order, on the file system's
// listing order or on the thread count. The first bad file in that order is the one reported.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/image.hpp"

namespace fsh {

struct ImportOptions {
  int64_t height = 28, width = 28;  // output size, each in [1, 4096]
  int64_t channels = 1;             // import_folder only: 1 (gray) or 3 (RGB)
  bool invert = false;              // import_folder only: 255 - v (dark-on-light -> bright)
  int threads = 0;                  // decoding threads; 0 = all cores
  // Called (serialised, from any thread) as images complete: done of total.
  std::function<void(int64_t done, int64_t total)> progress;
};

// Throws io_error (missing/unreadable source), format_error (not a zip, corrupt image, no
// images found, a class present in two sources) or usage_error (bad options).
Dataset import_omniglot(const std::vector<std::string>& sources, const ImportOptions& opt = {});

Dataset import_folder(const std::string& root, const ImportOptions& opt = {});

// A support set given as class folders (fsh-adapt --support): the tree import_folder reads,
// ROOT/<class>/<image> (or ROOT/<group>/<class>/<image>, classes "<group>/<class>"), read
// strictly, since every image of a few-shot support set matters: format_error with one line
// naming the file or folder for a file that is not *.png/*.jpg/*.jpeg, a class folder without
// images, a folder holding both images and folders, images directly in ROOT or at mixed depths,
// fewer than 2 classes, classes with different numbers of images (methods adapt to K-shot
// sets), an image that does not decode, or -- unless `any_size` -- images of different sizes.
// Hidden entries (".*") and "__MACOSX" are skipped. Classes and images are sorted by name.
struct SupportFolder {
  std::string root;                      // as given
  std::vector<std::string> class_names;  // [N], byte order
  int64_t k_shot = 0;                    // images per class
  std::vector<std::string> paths;        // [N*K], class-major
  std::vector<Image> images;             // [N*K], decoded as the files store them
};
SupportFolder read_support_folder(const std::string& root, bool any_size = false);

// Image files below `dir` (*.png, *.jpg, *.jpeg, any case; other files ignored; hidden entries
// and "__MACOSX" skipped), recursively, in byte order of their paths: what fsh-eval --images
// classifies in a folder. io_error when `dir` is missing, format_error when it has no image.
std::vector<std::string> list_image_files(const std::string& dir);

}  // namespace fsh
