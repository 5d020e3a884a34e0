// The Vinyals et al. Omniglot split on the real archives (FSH_DATA_DIR): importing both
// archives gives 1623 characters in 50 alphabets; the trainval/test class lists with their
// rotations give 4800 and 1692 classes; 600 test episodes can be drawn from the result.
// Needs `fsh-episodes import omniglot` (the importer) in the build; skips, saying so, without
// FSH_DATA_DIR or without the importer.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "data/episodes.hpp"
#include "data/split.hpp"
#include "io/dataset_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

TEST_CASE("Vinyals split of the real Omniglot: 4800 trainval and 1692 test classes") {
  const auto data = fsh::test::data_dir();
  if (!data) {
    MESSAGE("skipped: FSH_DATA_DIR is not set (it should hold omniglot/images_*.zip)");
    return;
  }
  const std::string omni = *data + "/omniglot";
  const std::string tool = fsh::test::bin_dir() + "/fsh-episodes";
  if (std::system((tool + " --help 2>/dev/null | grep -qE '^ +import( |$)'").c_str()) != 0) {
    MESSAGE("skipped: this build's fsh-episodes has no import subcommand");
    return;
  }
  fsh::test::TempDir t;
  const std::string imported = t.file("omniglot.h5");
  REQUIRE(std::system((tool + " import omniglot " + omni + "/images_background.zip " + omni +
                       "/images_evaluation.zip -q -o " + imported)
                          .c_str()) == 0);
  const fsh::Dataset d = fsh::read_dataset(imported);
  CHECK(d.n_classes() == 964 + 659);
  CHECK(d.group_names.size() == 50);
  CHECK(d.size() == 32460);

  fsh::SplitOptions o;
  o.lists.push_back(fsh::read_class_list(omni + "/splits/vinyals/trainval.txt", fsh::Part::train));
  o.lists.push_back(fsh::read_class_list(omni + "/splits/vinyals/test.txt", fsh::Part::test));
  const fsh::Dataset s = fsh::split_dataset(d, o, imported);
  int64_t train = 0, test = 0;
  for (fsh::Part p : s.class_part) {
    train += p == fsh::Part::train;
    test += p == fsh::Part::test;
  }
  CHECK(train == 4800);
  CHECK(test == 1692);
  CHECK(s.size() == (4800 + 1692) * 20);
  // The output class names are exactly the lines of the lists.
  std::set<std::string> listed;
  for (const auto& l : o.lists)
    for (const auto& line : l.lines)
      if (!line.empty()) listed.insert(line);
  CHECK(std::set<std::string>(s.class_names.begin(), s.class_names.end()) == listed);
  // No character has rotations in both parts.
  std::map<std::string, std::set<fsh::Part>> parts;
  for (int64_t c = 0; c < s.n_classes(); ++c)
    parts[s.class_names[c].substr(0, s.class_names[c].rfind('/'))].insert(s.class_part[c]);
  // (Not a structured binding: doctest's CHECK captures it in a lambda, which C++17 forbids
  // and clang refuses.)
  for (const auto& character : parts)
    CHECK_MESSAGE(character.second.size() == 1, character.first);

  fsh::SampleOptions so;
  so.part = fsh::PartChoice::test;
  so.count = 600;
  const fsh::Episodes e = fsh::sample_episodes(s, so, "split");
  CHECK(e.count() == 600);
  for (int32_t c : e.classes) CHECK(s.class_part[c] == fsh::Part::test);
}
