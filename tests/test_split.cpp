// Tests of class splits and rotation augmentation (lib/data/split): rotations against
// hand-worked examples (they agree with numpy.rot90), splits by group / class fraction, seeded
// determinism, Vinyals-style class lists on Omniglot-like names, and the error cases.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>

#include "data/split.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using fsh::test::TempDir;

namespace {

// Omniglot-like: `groups` alphabets of `per_group` characters, `per` images of 3x3 each.
fsh::Dataset omniglot_like(int groups, int per_group, int per) {
  fsh::Dataset d;
  d.height = d.width = 3;
  d.channels = 1;
  for (int g = 0; g < groups; ++g) {
    d.group_names.push_back("Script" + std::to_string(g));
    for (int k = 0; k < per_group; ++k) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "/character%02d", k + 1);
      d.class_names.push_back(d.group_names.back() + buf);
      d.class_group.push_back(g);
    }
  }
  const int64_t n = d.n_classes();
  for (int64_t c = 0; c < n; ++c)
    for (int i = 0; i < per; ++i) {
      d.labels.push_back(static_cast<int32_t>(c));
      d.instance_names.push_back("img" + std::to_string(c) + "_" + std::to_string(i));
      for (int p = 0; p < 9; ++p) d.images.push_back(static_cast<uint8_t>(c * 10 + i + p * 20));
    }
  return d;
}

std::vector<uint8_t> rot(const std::vector<uint8_t>& src, int64_t h, int64_t w, int turns) {
  std::vector<uint8_t> out(src.size());
  fsh::rotate_image(src.data(), out.data(), h, w, 1, turns);
  return out;
}

std::string write_list(const TempDir& t, const std::string& name,
                       const std::vector<std::string>& lines) {
  std::ofstream out(t.file(name));
  for (const auto& l : lines) out << l << "\n";
  return t.file(name);
}

}  // namespace

TEST_CASE("rotation is counter-clockwise, exact, and composes to the identity") {
  // [[1,2],[3,4]]: numpy.rot90 gives [[2,4],[1,3]], k=2 [[4,3],[2,1]], k=3 [[3,1],[4,2]].
  const std::vector<uint8_t> a{1, 2, 3, 4};
  CHECK(rot(a, 2, 2, 1) == std::vector<uint8_t>{2, 4, 1, 3});
  CHECK(rot(a, 2, 2, 2) == std::vector<uint8_t>{4, 3, 2, 1});
  CHECK(rot(a, 2, 2, 3) == std::vector<uint8_t>{3, 1, 4, 2});
  CHECK(rot(a, 2, 2, 0) == a);
  // Non-square, 2x3 [[1,2,3],[4,5,6]] -> 3x2 [[3,6],[2,5],[1,4]].
  CHECK(rot({1, 2, 3, 4, 5, 6}, 2, 3, 1) == std::vector<uint8_t>{3, 6, 2, 5, 1, 4});
  // Channels move together: a 1x2 RGB image rotated twice swaps its two pixels.
  std::vector<uint8_t> rgb{1, 2, 3, 4, 5, 6}, out(6);
  fsh::rotate_image(rgb.data(), out.data(), 1, 2, 3, 2);
  CHECK(out == std::vector<uint8_t>{4, 5, 6, 1, 2, 3});
  std::vector<uint8_t> big(25);
  for (int i = 0; i < 25; ++i) big[i] = static_cast<uint8_t>(i * 3);
  CHECK(rot(rot(rot(rot(big, 5, 5, 1), 5, 5, 1), 5, 5, 1), 5, 5, 1) == big);
  CHECK(rot(rot(big, 5, 5, 1), 5, 5, 3) == big);
}

TEST_CASE("split by group keeps each group in one part, with seeded fractions") {
  const fsh::Dataset d = omniglot_like(10, 4, 3);
  fsh::SplitOptions o;
  o.fractions = {0.6, 0.2, 0.2};
  o.seed = 4;
  const fsh::Dataset s = fsh::split_dataset(d, o, "d");
  REQUIRE(s.n_classes() == 40);
  std::map<int32_t, std::set<fsh::Part>> parts_of_group;
  std::map<fsh::Part, int> groups_in_part;
  for (int64_t c = 0; c < 40; ++c) parts_of_group[s.class_group[c]].insert(s.class_part[c]);
  for (auto& [g, parts] : parts_of_group) {
    CHECK(parts.size() == 1);
    ++groups_in_part[*parts.begin()];
  }
  CHECK(groups_in_part[fsh::Part::train] == 6);
  CHECK(groups_in_part[fsh::Part::val] == 2);
  CHECK(groups_in_part[fsh::Part::test] == 2);
  CHECK(s.images == d.images);  // no rotation: same images, same order
  CHECK(s.class_names == d.class_names);
  CHECK(fsh::split_dataset(d, o, "d").class_part == s.class_part);
  bool differs = false;
  for (uint64_t seed = 5; seed < 10 && !differs; ++seed) {
    o.seed = seed;
    differs = fsh::split_dataset(d, o, "d").class_part != s.class_part;
  }
  CHECK(differs);
}

TEST_CASE("split by class with rotations materializes rotated classes in their source's part") {
  const fsh::Dataset d = omniglot_like(2, 5, 2);
  fsh::SplitOptions o;
  o.by = fsh::SplitBy::klass;
  o.fractions = {0.7, 0.0, 0.3};
  o.rotations = 4;
  const fsh::Dataset s = fsh::split_dataset(d, o, "d");
  REQUIRE(s.n_classes() == 40);
  CHECK(s.size() == 80);
  int train = 0;
  for (int64_t c = 0; c < 40; ++c) {
    CHECK(s.class_part[c] == s.class_part[c - c % 4]);
    train += s.class_part[c] == fsh::Part::train;
  }
  CHECK(train == 7 * 4);
  CHECK(s.class_names[0] == "Script0/character01/rot000");
  CHECK(s.class_names[5] == "Script0/character02/rot090");
  CHECK(s.class_names[39] == "Script1/character05/rot270");
  // Class 6 = source class 1 rotated by 180; its images are the source's, rotated.
  for (int i = 0; i < 2; ++i) {
    const int64_t out_row = 6 * 2 + i, src_row = 1 * 2 + i;
    std::vector<uint8_t> src(d.image(src_row), d.image(src_row) + 9);
    CHECK(std::vector<uint8_t>(s.image(out_row), s.image(out_row) + 9) == rot(src, 3, 3, 2));
    CHECK(s.labels[out_row] == 6);
    CHECK(s.instance_names[out_row] == d.instance_names[src_row]);
  }
}

TEST_CASE("Vinyals-style class lists pick classes and rotations; unlisted classes are dropped") {
  TempDir t;
  const fsh::Dataset d = omniglot_like(3, 3, 2);
  fsh::SplitOptions o;
  o.lists.push_back(fsh::read_class_list(
      write_list(
          t, "trainval.txt",
          {"Script0/character01/rot000", "Script0/character01/rot090", "Script0/character01/rot180",
           "Script0/character01/rot270", "", "Script1/character03/rot180"}),
      fsh::parse_part("trainval")));
  o.lists.push_back(fsh::read_class_list(
      write_list(t, "test.txt", {"# comment", "Script2/character02"}), fsh::Part::test));
  const fsh::Dataset s = fsh::split_dataset(d, o, "d");
  REQUIRE(s.n_classes() == 6);
  CHECK(s.class_names ==
        std::vector<std::string>{"Script0/character01/rot000", "Script0/character01/rot090",
                                 "Script0/character01/rot180", "Script0/character01/rot270",
                                 "Script1/character03/rot180", "Script2/character02"});
  CHECK(s.class_part == std::vector<fsh::Part>{fsh::Part::train, fsh::Part::train, fsh::Part::train,
                                               fsh::Part::train, fsh::Part::train,
                                               fsh::Part::test});
  CHECK(s.size() == 12);
  // With --rotations 4, a plain class name expands to its four rotations.
  o.rotations = 4;
  CHECK(fsh::split_dataset(d, o, "d").n_classes() == 9);
}

TEST_CASE("split errors name the file, line and value") {
  TempDir t;
  const fsh::Dataset d = omniglot_like(2, 2, 2);
  fsh::SplitOptions o;
  o.lists.push_back(fsh::read_class_list(
      write_list(t, "l.txt", {"Script0/character01", "Script9/character01/rot090"}),
      fsh::Part::train));
  CHECK_THROWS_WITH_AS(
      fsh::split_dataset(d, o, "d.h5"),
      doctest::Contains("l.txt:2: class \"Script9/character01/rot090\" is not in d.h5"),
      fsh::usage_error);
  o.lists[0] = fsh::read_class_list(
      write_list(t, "dup.txt", {"Script0/character01/rot000", "Script0/character01"}),
      fsh::Part::train);
  CHECK_THROWS_WITH_AS(fsh::split_dataset(d, o, "d.h5"),
                       doctest::Contains("dup.txt:2: class \"Script0/character01\" was already "
                                         "listed at"),
                       fsh::usage_error);
  o.lists[0] = fsh::read_class_list(write_list(t, "r.txt", {"Script0/character01/rot045"}),
                                    fsh::Part::train);
  CHECK_THROWS_WITH_AS(fsh::split_dataset(d, o, "d.h5"), doctest::Contains("not a multiple of 90"),
                       fsh::usage_error);
  CHECK_THROWS_AS(fsh::read_class_list(t.file("absent.txt"), fsh::Part::test), fsh::io_error);
  CHECK_THROWS_AS(fsh::parse_part("dev"), fsh::usage_error);

  fsh::SplitOptions f;
  f.fractions = {0.5, 0.2, 0.2};
  CHECK_THROWS_WITH_AS(fsh::split_dataset(d, f, "d.h5"), doctest::Contains("must sum to 1"),
                       fsh::usage_error);
  f.fractions = {1.5, -0.5, 0.0};
  CHECK_THROWS_AS(fsh::split_dataset(d, f, "d.h5"), fsh::usage_error);
  f.fractions = {0.5, 0, 0.5};
  f.rotations = 3;
  CHECK_THROWS_AS(fsh::split_dataset(d, f, "d.h5"), fsh::usage_error);
  fsh::Dataset wide = d;
  wide.height = 1;
  wide.width = 9;
  f.rotations = 4;
  CHECK_THROWS_WITH_AS(fsh::split_dataset(wide, f, "d.h5"),
                       doctest::Contains("needs square images"), fsh::usage_error);
}
