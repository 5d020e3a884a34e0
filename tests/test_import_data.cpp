// Import of the real Omniglot archives (label "data"): needs FSH_DATA_DIR pointing at a folder
// with omniglot/images_background.zip and omniglot/images_evaluation.zip; skipped otherwise.
// Checks the published counts (964 + 659 characters, 30 + 20 alphabets, 20 drawings each),
// the 28x28 size and that ink is bright on a dark background.
#include <doctest/doctest.h>

#include <iostream>
#include <set>

#include "data/import.hpp"
#include "test_support.hpp"

namespace {

struct Counts {
  int64_t classes, groups, images;
};

void check_archive(const fsh::Dataset& d, Counts want) {
  CHECK(d.n_classes() == want.classes);
  CHECK(static_cast<int64_t>(d.group_names.size()) == want.groups);
  CHECK(d.size() == want.images);
  CHECK(d.height == 28);
  CHECK(d.width == 28);
  CHECK(d.channels == 1);
  std::vector<int> per_class(static_cast<std::size_t>(d.n_classes()), 0);
  for (auto l : d.labels) ++per_class[static_cast<std::size_t>(l)];
  for (int n : per_class) CHECK(n == 20);
  // Ink bright: strokes are thin, so most pixels are background (0) and the mean is low;
  // every drawing has some ink.
  int64_t zeros = 0, sum = 0;
  for (auto v : d.images) {
    zeros += v == 0;
    sum += v;
  }
  const double n = static_cast<double>(d.images.size());
  CHECK(zeros / n > 0.6);
  CHECK(sum / n < 60.0);
  for (int64_t i = 0; i < d.size(); ++i) {
    int peak = 0;
    for (int64_t p = 0; p < d.image_size(); ++p) peak = std::max<int>(peak, d.image(i)[p]);
    if (peak < 128) FAIL("drawing " << i << " (" << d.instance_names[i] << ") has no ink");
  }
  // Names look like the release: "<Alphabet>/characterNN".
  for (const auto& c : d.class_names) CHECK(c.find("/character") != std::string::npos);
}

}  // namespace

TEST_CASE("the official Omniglot archives import with their published counts") {
  const auto dir = fsh::test::data_dir();
  if (!dir) {
    std::cout << "test_import_data: FSH_DATA_DIR is not set; skipped (it needs "
                 "omniglot/images_background.zip and omniglot/images_evaluation.zip)\n";
    return;
  }
  const std::string bg = *dir + "/omniglot/images_background.zip";
  const std::string ev = *dir + "/omniglot/images_evaluation.zip";
  fsh::ImportOptions o;
  o.threads = 2;
  const fsh::Dataset b = fsh::import_omniglot({bg}, o);
  check_archive(b, {964, 30, 19280});
  const fsh::Dataset e = fsh::import_omniglot({ev}, o);
  check_archive(e, {659, 20, 13180});
  const fsh::Dataset all = fsh::import_omniglot({bg, ev}, o);
  check_archive(all, {1623, 50, 32460});
  CHECK(std::set<std::string>(all.group_names.begin(), all.group_names.end()).size() == 50);
}
