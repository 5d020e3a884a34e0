// Tests of the episode sampler (lib/data/episodes) and fsh-episodes files (lib/io/episodes_io):
// determinism (same seed -> identical, other seed -> different), shards equal the full run,
// the documented draw (episode e from Rng::stream(seed, e)), class-major order, uniform class
// use, part filtering, errors, embedding and the fingerprint check.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "data/episodes.hpp"
#include "data/fingerprint.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

using fsh::test::TempDir;

namespace {

// n_classes classes of `per` 4x4 images; image i is filled with (i * 7 + pixel) % 256.
fsh::Dataset make_dataset(int n_classes, int per) {
  fsh::Dataset d;
  d.height = d.width = 4;
  d.channels = 1;
  for (int c = 0; c < n_classes; ++c) {
    d.class_names.push_back("Alpha" + std::to_string(c / 5) + "/character" +
                            std::to_string(c % 5 + 1));
    d.class_group.push_back(c / 5);
  }
  for (int g = 0; g < (n_classes + 4) / 5; ++g)
    d.group_names.push_back("Alpha" + std::to_string(g));
  for (int i = 0; i < n_classes * per; ++i) {
    d.labels.push_back(i % n_classes);  // interleaved, so indices are not class-sorted
    for (int p = 0; p < 16; ++p) d.images.push_back(static_cast<uint8_t>((i * 7 + p) % 256));
  }
  return d;
}

fsh::SampleOptions opts(int64_t n, int64_t k, int64_t q, int64_t count, uint64_t seed) {
  fsh::SampleOptions o;
  o.n_way = n;
  o.k_shot = k;
  o.n_query = q;
  o.count = count;
  o.seed = seed;
  return o;
}

fsh::Provenance prov() { return fsh::make_provenance("test", "", 1, {}); }

}  // namespace

TEST_CASE("same seed gives identical episodes; another seed does not") {
  const fsh::Dataset d = make_dataset(20, 10);
  auto a = fsh::sample_episodes(d, opts(5, 2, 3, 50, 7), "d");
  auto b = fsh::sample_episodes(d, opts(5, 2, 3, 50, 7), "d");
  auto c = fsh::sample_episodes(d, opts(5, 2, 3, 50, 8), "d");
  CHECK(a.support == b.support);
  CHECK(a.query == b.query);
  CHECK(a.classes == b.classes);
  CHECK(a.support != c.support);
  CHECK(a.classes != c.classes);
  CHECK(a.count() == 50);
  CHECK(a.support.size() == 50 * 10);
  CHECK(a.query.size() == 50 * 15);
}

TEST_CASE("a shard drawn alone equals the same range of the full run") {
  const fsh::Dataset d = make_dataset(20, 10);
  auto full = fsh::sample_episodes(d, opts(5, 1, 4, 40, 3), "d");
  auto o = opts(5, 1, 4, 15, 3);
  o.first = 20;
  auto shard = fsh::sample_episodes(d, o, "d");
  CHECK(shard.first == 20);
  CHECK(std::equal(shard.support.begin(), shard.support.end(), full.support.begin() + 20 * 5));
  CHECK(std::equal(shard.query.begin(), shard.query.end(), full.query.begin() + 20 * 20));
  CHECK(std::equal(shard.classes.begin(), shard.classes.end(), full.classes.begin() + 20 * 5));
}

TEST_CASE("episode e follows the documented draw from Rng::stream(seed, e)") {
  // man 5 fsh-episodes: choose N of the eligible classes (in dataset order), then for each
  // episode class in turn choose K+Q of its images (in dataset order): first K support.
  const fsh::Dataset d = make_dataset(12, 6);
  auto e = fsh::sample_episodes(d, opts(3, 2, 1, 5, 11), "d");
  for (int64_t ep = 0; ep < 5; ++ep) {
    fsh::Rng rng = fsh::Rng::stream(11, static_cast<uint64_t>(ep));
    auto picks = rng.choose(12, 3);
    for (int c = 0; c < 3; ++c) {
      CHECK(e.classes[ep * 3 + c] == picks[c]);
      std::vector<int32_t> members;
      for (int32_t i = 0; i < d.size(); ++i)
        if (d.labels[i] == picks[c]) members.push_back(i);
      auto chosen = rng.choose(6, 3);
      CHECK(e.support[ep * 6 + c * 2] == members[chosen[0]]);
      CHECK(e.support[ep * 6 + c * 2 + 1] == members[chosen[1]]);
      CHECK(e.query[ep * 3 + c] == members[chosen[2]]);
    }
  }
}

TEST_CASE("episodes are class-major, distinct, and use classes uniformly") {
  const fsh::Dataset d = make_dataset(20, 10);
  auto e = fsh::sample_episodes(d, opts(5, 2, 3, 2000, 1), "d");
  std::vector<int> uses(20, 0);
  for (int64_t ep = 0; ep < e.count(); ++ep) {
    std::set<int32_t> cls, imgs;
    for (int c = 0; c < 5; ++c) {
      const int32_t k = e.classes[ep * 5 + c];
      cls.insert(k);
      ++uses[k];
      for (int s = 0; s < 2; ++s) {
        CHECK(d.labels[e.support[ep * 10 + c * 2 + s]] == k);
        imgs.insert(e.support[ep * 10 + c * 2 + s]);
      }
      for (int q = 0; q < 3; ++q) {
        CHECK(d.labels[e.query[ep * 15 + c * 3 + q]] == k);
        imgs.insert(e.query[ep * 15 + c * 3 + q]);
      }
    }
    CHECK(cls.size() == 5);
    CHECK(imgs.size() == 25);
  }
  // Each class is expected 2000 * 5 / 20 = 500 times (sd about 19).
  for (int u : uses) CHECK((u > 420 && u < 580));
  auto img = fsh::episode_images(e, 3, &d);
  CHECK(img.support.size() == 10 * 16);
  CHECK(img.support_labels == std::vector<int32_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4});
  CHECK(img.query_labels.size() == 15);
  CHECK(std::equal(img.query.begin(), img.query.begin() + 16, d.image(e.query[3 * 15])));
}

TEST_CASE("parts restrict the classes") {
  fsh::Dataset d = make_dataset(20, 10);
  d.class_part.assign(20, fsh::Part::train);
  for (int c : {2, 5, 11, 17}) d.class_part[c] = fsh::Part::test;
  d.class_part[0] = fsh::Part::none;
  auto o = opts(3, 1, 2, 200, 5);
  o.part = fsh::PartChoice::test;
  auto e = fsh::sample_episodes(d, o, "d");
  std::set<int32_t> used(e.classes.begin(), e.classes.end());
  CHECK(used == std::set<int32_t>{2, 5, 11, 17});
  o.part = fsh::PartChoice::all;
  e = fsh::sample_episodes(d, o, "d");
  CHECK(std::count(e.classes.begin(), e.classes.end(), 0) == 0);
}

TEST_CASE("sampling errors say what is wrong") {
  fsh::Dataset d = make_dataset(20, 10);
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, opts(21, 1, 1, 1, 1), "d.h5"),
                       "d.h5: N = 21 exceeds the 20 classes", fsh::usage_error);
  d.labels[0] = 1;  // class 0 now has 9 images
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, opts(5, 5, 5, 1, 1), "d.h5"),
                       doctest::Contains("class \"Alpha0/character1\" has 9 images; K+Q = 10"),
                       fsh::usage_error);
  auto o = opts(5, 1, 1, 1, 1);
  o.part = fsh::PartChoice::val;
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, o, "d.h5"), doctest::Contains("not a split"),
                       fsh::usage_error);
  d.class_part.assign(20, fsh::Part::train);
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, o, "d.h5"),
                       "d.h5: N = 5 exceeds the 0 classes of part val", fsh::usage_error);
  CHECK_THROWS_AS(fsh::sample_episodes(d, opts(0, 1, 1, 1, 1), "d"), fsh::usage_error);
  CHECK_THROWS_AS(fsh::sample_episodes(d, opts(2, 0, 1, 1, 1), "d"), fsh::usage_error);
  CHECK_THROWS_AS(fsh::sample_episodes(d, opts(2, 1, -1, 1, 1), "d"), fsh::usage_error);
  CHECK_THROWS_AS(fsh::sample_episodes(d, opts(2, 1, 1, 0, 1), "d"), fsh::usage_error);
  CHECK_THROWS_AS(fsh::parse_part_choice("tset"), fsh::usage_error);
}

TEST_CASE("episodes files round-trip, embed images and check their dataset") {
  TempDir t;
  const fsh::Dataset d = make_dataset(20, 10);
  fsh::write_dataset(d, t.file("d.h5"), prov());
  auto e = fsh::sample_episodes(d, opts(4, 1, 2, 30, 9), t.file("d.h5"));
  fsh::write_episodes(e, t.file("e.h5"), prov());
  auto r = fsh::read_episodes(t.file("e.h5"));
  CHECK(r.support == e.support);
  CHECK(r.query == e.query);
  CHECK(r.classes == e.classes);
  CHECK(r.seed == 9);
  CHECK(r.n_query == 2);
  CHECK(r.dataset_fingerprint == fsh::dataset_fingerprint(d));
  CHECK(r.class_names == d.class_names);
  CHECK_FALSE(r.embedded());

  // Images through the recorded dataset path, and through embedded images: identical.
  auto set = fsh::open_episodes(t.file("e.h5"));
  REQUIRE(set.dataset);
  fsh::embed_images(e, d);
  CHECK(e.image_index.size() <= 30 * 12);
  fsh::write_episodes(e, t.file("emb.h5"), prov());
  std::filesystem::remove(t.file("d.h5"));
  auto alone = fsh::open_episodes(t.file("emb.h5"));
  CHECK_FALSE(alone.dataset);
  for (int64_t i : {0, 17, 29}) {
    auto a = set.images(i), b = alone.images(i);
    CHECK(a.support == b.support);
    CHECK(a.query == b.query);
  }
  CHECK_THROWS_WITH_AS(fsh::open_episodes(t.file("e.h5")), doctest::Contains("not embedded"),
                       fsh::io_error);

  // Another dataset (one pixel changed) is caught by the fingerprint.
  fsh::Dataset other = d;
  other.images[100] ^= 0xff;
  fsh::write_dataset(other, t.file("other.h5"), prov());
  CHECK_THROWS_WITH_AS(fsh::open_episodes(t.file("e.h5"), t.file("other.h5")),
                       doctest::Contains("not the dataset these episodes were drawn from"),
                       fsh::format_error);
  CHECK_THROWS_AS(fsh::episode_images(r, 30, nullptr), fsh::usage_error);
}

TEST_CASE("episodes readers reject inconsistent files") {
  TempDir t;
  const fsh::Dataset d = make_dataset(10, 5);
  auto e = fsh::sample_episodes(d, opts(2, 1, 1, 4, 1), "d");
  auto bad = e;
  bad.support[3] = 50;  // outside [0, 50)
  CHECK_THROWS_WITH_AS(fsh::write_episodes(bad, t.file("x.h5"), prov()),
                       doctest::Contains("support holds 50, outside [0, 50)"), fsh::format_error);
  CHECK_FALSE(std::filesystem::exists(t.file("x.h5")));
  {
    fsh::io::Writer w(t.file("v2.h5"), "fsh-episodes", 2, prov());
    w.commit();
  }
  CHECK_THROWS_WITH_AS(
      fsh::read_episodes(t.file("v2.h5")),
      doctest::Contains("this file is fsh-episodes version 2; this build reads up to 1"),
      fsh::format_error);
  {
    fsh::io::Writer w(t.file("shape.h5"), "fsh-episodes", 1, prov());
    w.attr("/", "n_way", int64_t{2});
    w.attr("/", "k_shot", int64_t{1});
    w.attr("/", "n_query", int64_t{1});
    w.attr("/", "dataset_fingerprint", fsh::dataset_fingerprint(d));
    w.attr("/", "dataset_size", int64_t{50});
    w.put("classes", e.classes, {4, 2});
    w.put("support", e.support, {2, 4});
    w.put("query", e.query, {4, 2});
    w.commit();
  }
  CHECK_THROWS_WITH_AS(fsh::read_episodes(t.file("shape.h5")),
                       doctest::Contains("/support has shape (2, 4); expected (4, 2)"),
                       fsh::format_error);
  fsh::write_dataset(d, t.file("d.h5"), prov());
  CHECK_THROWS_WITH_AS(
      fsh::read_episodes(t.file("d.h5")),
      doctest::Contains("not an fsh-episodes file (fsh_format is \"fsh-dataset\")"),
      fsh::format_error);
}
