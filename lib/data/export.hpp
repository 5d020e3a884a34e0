// Writing images out as class folders of PNG files -- the tree that `fsh-episodes import
// folder` and `fsh-adapt --support` read -- so that fsh's own data (synthetic glyphs, an
// episode's support and query images) can be used like a user's pictures.
//
// Pixels are written as the dataset's files had them: when the dataset records that its
// importer inverted the files (Omniglot: ink made bright), they are inverted back, so that
// importing the folder with the dataset's options gives the same bytes. `as_stored` writes the
// stored values instead. Images are lossless 8-bit gray or RGB PNGs.
//
// The output folder is built under a temporary name beside it and renamed into place at the
// end: it must not exist, or be empty; a failure leaves nothing behind.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/episodes.hpp"

namespace fsh {

// DIR/<class>/<n>.png for every image, n its number within the class (0-based, zero-padded
// to one width, so that name order is dataset order). A class name "group/class" becomes two
// folder levels when every class name has that form (as import folder names depth-2 classes),
// so importing DIR gives the same class names and groups; otherwise each '/' becomes '_'.
// usage_error for a class name that cannot be a folder name (empty, ".", "..", hidden).
void export_dataset(const Dataset& d, const std::string& dir, bool as_stored = false);

// One episode: DIR/support/<c>-<name>/<k>.png and DIR/query/<c>-<name>/<q>.png, c the
// episode class number (zero-padded, so that folder order is episode order) and <name> the
// dataset class name with '/' -> '_' (omitted when `class_names` is empty). `class_names`: the
// N names of the episode's classes, or empty. With no queries, DIR/query is not written.
void export_episode(const EpisodeImages& ep, const std::vector<std::string>& class_names,
                    const ImagePreparation& prep, const std::string& dir, bool as_stored = false);

}  // namespace fsh
