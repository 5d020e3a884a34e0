// Class-level splits and rotation augmentation: turns a dataset into an fsh-split dataset whose
// classes each belong to one part (train, val, test). Rotated classes are materialized as new
// classes (their own images, named "<class>/rot090" etc.), so a split file stands alone.
//
// Guarantees: the same dataset, options and seed give the same split on every platform (the
// seeded draws use fsh::Rng). Output classes are ordered by (source class, rotation); images
// by output class, then source order. A rotation never crosses parts: all rotations of a
// character land in the part of the character (fraction splits).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace fsh {

enum class SplitBy { group, klass };

// One class-list file: the classes of one part, one per line. A line is either a class name of
// the dataset or "<class>/rotDDD" (DDD in 000, 090, 180, 270): that class rotated by DDD
// degrees counter-clockwise (the Vinyals et al. format, e.g. "Latin/character01/rot090").
struct ClassList {
  Part part = Part::train;
  std::string source;              // file name, for messages
  std::vector<std::string> lines;  // one class per entry (blank lines and #comments dropped)
};

// Reads a class-list file (io_error when it cannot be read).
ClassList read_class_list(const std::string& path, Part part);

// "train" (also "trainval"), "val", "test" -> Part; usage_error otherwise.
Part parse_part(const std::string& s);
const char* part_name(Part p);  // "train", "val", "test", "none"

struct SplitOptions {
  // With class lists, exactly the listed classes are kept (in their list's part) and the
  // fractions are ignored. Without, every class is kept and parts are drawn by fraction.
  std::vector<ClassList> lists;
  SplitBy by = SplitBy::group;                     // unit the fractions count
  std::array<double, 3> fractions{0.8, 0.0, 0.2};  // train, val, test; sum to 1
  int rotations = 1;                               // 1 (none) or 4 (0/90/180/270)
  uint64_t seed = 1;
};

// The split. `where` names the dataset in messages. Throws usage_error for bad fractions, a
// list entry that names no class of d (file:line), a class listed twice, rotations of
// non-square images, or an empty result.
Dataset split_dataset(const Dataset& d, const SplitOptions& o, const std::string& where);

// Rotates one image counter-clockwise by quarter_turns * 90 degrees.
// src: (H, W, C); dst: (W, H, C) for odd turns, (H, W, C) otherwise.
void rotate_image(const uint8_t* src, uint8_t* dst, int64_t h, int64_t w, int64_t c,
                  int quarter_turns);

}  // namespace fsh
