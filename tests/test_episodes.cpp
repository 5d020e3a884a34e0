// Tests of the episode sampler (lib/data/episodes) and fsh-episodes files (lib/io/episodes_io):
// determinism (same seed -> identical, other seed -> different), shards equal the full run,
// the documented draw (episode e from Rng::stream(seed, e)) and the man page's test vectors,
// class-major order, uniform class use, part filtering, within-group episodes, errors,
// embedding, the fingerprint check and the MUSTs of man 5 fsh-episodes. (The whole draw is
// also reproduced from the man page alone by tests/py/test_draw_spec.py.)
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
                       doctest::Contains("other.h5: not the dataset the episodes of"),
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
                       doctest::Contains("dataset_size is 50 but /support holds image index 50"),
                       fsh::format_error);
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

TEST_CASE("the generator matches the test vectors of man 5 fsh-episodes") {
  uint64_t x = 0;
  CHECK(fsh::splitmix64(x) == 0xe220a8397b1dcdafULL);
  CHECK(fsh::splitmix64(x) == 0x6e789e6aa1b965f4ULL);
  fsh::Rng r = fsh::Rng::stream(1, 0);
  CHECK(r.next_u64() == 0x3e7d890d2781d292ULL);
  CHECK(r.next_u64() == 0x726a7cde04ebbfc7ULL);
  CHECK(fsh::Rng::stream(1, 0).choose(10, 4) == std::vector<int64_t>{6, 8, 7, 2});
}

TEST_CASE("below(n) rejects exactly as man 5 fsh-episodes says: r < 2^64 - (2^64 mod n)") {
  // For n = 2^63 + 1, 2^64 mod n = 2^63 - 1: about half of all outputs are rejected, so the
  // rejection branch (probability < n / 2^64 for the small n of episodes) is exercised.
  for (const uint64_t n : {(uint64_t{1} << 63) + 1, uint64_t{3} << 62, uint64_t{10}}) {
    const uint64_t mod = (UINT64_MAX % n + 1) % n;  // 2^64 mod n
    fsh::Rng r = fsh::Rng::stream(5, 0), spec = r;
    int rejected = 0;
    for (int i = 0; i < 2000; ++i) {
      uint64_t v = spec.next_u64();
      while (mod != 0 && v >= 0 - mod) {  // 0 - mod is 2^64 - mod in uint64 arithmetic
        ++rejected;
        v = spec.next_u64();
      }
      REQUIRE(r.below(n) == v % n);
    }
    if (n == (uint64_t{1} << 63) + 1) CHECK(rejected > 700);
  }
}

namespace {

// The dataset of make_dataset(20, 10) with groups of 2, 6, 3 and 9 classes.
fsh::Dataset grouped_dataset() {
  fsh::Dataset d = make_dataset(20, 10);
  d.group_names = {"A", "B", "C", "D"};
  const int sizes[] = {2, 6, 3, 9};
  d.class_group.clear();
  for (int g = 0; g < 4; ++g) d.class_group.insert(d.class_group.end(), sizes[g], g);
  return d;
}

std::vector<int32_t> members_of(const fsh::Dataset& d, int32_t cls) {
  std::vector<int32_t> m;
  for (int32_t i = 0; i < d.size(); ++i)
    if (d.labels[i] == cls) m.push_back(i);
  return m;
}

}  // namespace

TEST_CASE("within-group episodes: one group per episode, drawn uniformly among large enough") {
  const fsh::Dataset d = grouped_dataset();
  auto o = opts(3, 1, 2, 3000, 4);
  o.within_group = true;
  const auto e = fsh::sample_episodes(d, o, "d");
  CHECK(e.within_group);
  std::vector<int> per_group(4, 0);
  for (int64_t ep = 0; ep < e.count(); ++ep) {
    const int32_t g = d.class_group[e.classes[ep * 3]];
    for (int c = 1; c < 3; ++c) CHECK(d.class_group[e.classes[ep * 3 + c]] == g);
    ++per_group[g];
  }
  // Groups B, C, D have >= 3 classes: each is expected 1000 times (sd about 26); A never.
  CHECK(per_group[0] == 0);
  for (int g = 1; g < 4; ++g) CHECK((per_group[g] > 880 && per_group[g] < 1120));
  // A shard equals that range of the full run.
  o.first = 1234;
  o.count = 10;
  const auto shard = fsh::sample_episodes(d, o, "d");
  CHECK(std::equal(shard.classes.begin(), shard.classes.end(), e.classes.begin() + 1234 * 3));
  CHECK(std::equal(shard.query.begin(), shard.query.end(), e.query.begin() + 1234 * 6));
  CHECK_FALSE(fsh::sample_episodes(d, opts(3, 1, 2, 5, 4), "d").within_group);
}

TEST_CASE("within-group episode e follows the documented draw: the group first, then classes") {
  const fsh::Dataset d = grouped_dataset();
  auto o = opts(2, 2, 1, 20, 9);
  o.within_group = true;
  const auto e = fsh::sample_episodes(d, o, "d");
  // Groups with >= 2 classes, in group order: all four.
  const std::vector<std::vector<int32_t>> groups = {
      {0, 1}, {2, 3, 4, 5, 6, 7}, {8, 9, 10}, {11, 12, 13, 14, 15, 16, 17, 18, 19}};
  for (int64_t ep = 0; ep < 20; ++ep) {
    fsh::Rng rng = fsh::Rng::stream(9, static_cast<uint64_t>(ep));
    const auto& pool = groups[rng.below(4)];
    const auto picks = rng.choose(static_cast<int64_t>(pool.size()), 2);
    for (int c = 0; c < 2; ++c) {
      CHECK(e.classes[ep * 2 + c] == pool[picks[c]]);
      const auto members = members_of(d, pool[picks[c]]);
      const auto chosen = rng.choose(10, 3);
      CHECK(e.support[ep * 4 + c * 2] == members[chosen[0]]);
      CHECK(e.support[ep * 4 + c * 2 + 1] == members[chosen[1]]);
      CHECK(e.query[ep * 2 + c] == members[chosen[2]]);
    }
  }
}

TEST_CASE("within-group: parts restrict the groups' classes; no group with N classes is an error") {
  fsh::Dataset d = grouped_dataset();
  d.class_part.assign(20, fsh::Part::train);
  for (int c : {2, 3, 4, 11, 12}) d.class_part[c] = fsh::Part::test;  // B: 3 test, D: 2 test
  auto o = opts(3, 1, 1, 200, 2);
  o.within_group = true;
  o.part = fsh::PartChoice::test;
  const auto e = fsh::sample_episodes(d, o, "d.h5");
  std::set<int32_t> used(e.classes.begin(), e.classes.end());
  CHECK(used == std::set<int32_t>{2, 3, 4});
  o.n_way = 4;
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, o, "d.h5"),
                       "d.h5: within-group episodes need a group with N = 4 classes of part "
                       "test; the largest, \"B\", has 3",
                       fsh::usage_error);
  o.part = fsh::PartChoice::train;  // D has 7 train classes, the most
  o.n_way = 8;
  CHECK_THROWS_WITH_AS(fsh::sample_episodes(d, o, "d.h5"),
                       doctest::Contains("the largest, \"D\", has 7"), fsh::usage_error);
  o.n_way = 7;
  const auto train = fsh::sample_episodes(d, o, "d.h5");
  used = std::set<int32_t>(train.classes.begin(), train.classes.end());
  CHECK(used == std::set<int32_t>{13, 14, 15, 16, 17, 18, 19});
}

TEST_CASE("within_group, seed and part round-trip through the file; absent ones read as such") {
  TempDir t;
  const fsh::Dataset d = grouped_dataset();
  fsh::write_dataset(d, t.file("d.h5"), prov());
  auto o = opts(3, 1, 1, 5, 6);
  o.within_group = true;
  auto e = fsh::sample_episodes(d, o, t.file("d.h5"));
  fsh::write_episodes(e, t.file("e.h5"), prov());
  const auto r = fsh::read_episodes(t.file("e.h5"));
  CHECK(r.within_group);
  CHECK(r.seed_recorded);
  CHECK(r.part_recorded);
  CHECK(fsh::open_episodes(t.file("e.h5")).episodes.within_group);
  // A within_group file whose episode 0 mixes groups is caught against the dataset: classes
  // 0 (group A), 2 (B), 8 (C).
  const std::vector<int32_t> mixed = {0, 2, 8};
  for (int c = 0; c < 3; ++c) {
    const auto m = members_of(d, mixed[c]);
    e.classes[c] = mixed[c];
    e.support[c] = m[0];
    e.query[c] = m[1];
  }
  fsh::write_episodes(e, t.file("mixed.h5"), prov());
  CHECK_NOTHROW(fsh::read_episodes(t.file("mixed.h5")));
  CHECK_THROWS_WITH_AS(fsh::open_episodes(t.file("mixed.h5"), t.file("d.h5")),
                       doctest::Contains("within_group is 1 but episode 0 has classes of groups "
                                         "\"A\" and \"B\""),
                       fsh::format_error);
  // Without the attributes (as a hand-written file may be): within_group false, seed and part
  // unknown, and writing it back leaves them out.
  e = fsh::sample_episodes(d, opts(3, 1, 1, 5, 6), t.file("d.h5"));
  e.seed_recorded = e.part_recorded = false;
  fsh::write_episodes(e, t.file("bare.h5"), prov());
  const auto bare = fsh::read_episodes(t.file("bare.h5"));
  CHECK_FALSE(bare.within_group);
  CHECK_FALSE(bare.seed_recorded);
  CHECK_FALSE(bare.part_recorded);
  fsh::io::Reader reader(t.file("bare.h5"));
  CHECK_FALSE(reader.has_attr("/", "seed"));
  CHECK_FALSE(reader.has_attr("/", "part"));
  CHECK_FALSE(reader.has_attr("/", "within_group"));
}

TEST_CASE("validate_episodes enforces the MUSTs of one episode") {
  const fsh::Dataset d = make_dataset(10, 5);
  const auto good = fsh::sample_episodes(d, opts(2, 2, 1, 3, 1), "d");
  CHECK_NOTHROW(fsh::validate_episodes(good, "x.h5"));
  auto bad = good;
  bad.query[2 * 2] = bad.support[2 * 4 + 1];  // episode 2: a support image also as a query
  CHECK_THROWS_WITH_AS(fsh::validate_episodes(bad, "x.h5"),
                       ("x.h5: episode 2 uses image " + std::to_string(bad.query[4]) +
                        " both as support and as query")
                           .c_str(),
                       fsh::format_error);
  bad = good;
  bad.support[1] = bad.support[0];
  CHECK_THROWS_WITH_AS(
      fsh::validate_episodes(bad, "x.h5"),
      ("x.h5: episode 0 uses image " + std::to_string(good.support[0]) + " twice in the support")
          .c_str(),
      fsh::format_error);
  bad = good;
  bad.classes[3] = bad.classes[2];
  CHECK_THROWS_WITH_AS(
      fsh::validate_episodes(bad, "x.h5"),
      doctest::Contains(
          ("x.h5: episode 1 lists class " + std::to_string(good.classes[2]) + " twice").c_str()),
      fsh::format_error);
  bad = good;
  bad.dataset_size = 10;
  CHECK_THROWS_WITH_AS(fsh::validate_episodes(bad, "x.h5"),
                       doctest::Contains("x.h5: dataset_size is 10 but /"), fsh::format_error);
  bad = good;
  bad.classes[0] = -1;
  CHECK_THROWS_WITH_AS(fsh::validate_episodes(bad, "x.h5"), "x.h5: /classes holds class -1",
                       fsh::format_error);
}

TEST_CASE("embedded images carry a fingerprint and are checked against a given dataset") {
  TempDir t;
  const fsh::Dataset d = make_dataset(10, 5);
  fsh::write_dataset(d, t.file("d.h5"), prov());
  auto e = fsh::sample_episodes(d, opts(2, 1, 1, 3, 1), t.file("d.h5"));
  fsh::embed_images(e, d);
  fsh::write_episodes(e, t.file("e.h5"), prov());
  {
    fsh::io::Reader r(t.file("e.h5"));
    CHECK(r.attr_string("embedded", "fingerprint") == fsh::embedded_fingerprint(e));
  }
  // It is the dataset fingerprint of the embedded images labelled by their indices.
  fsh::Dataset as_dataset;
  as_dataset.height = e.height;
  as_dataset.width = e.width;
  as_dataset.channels = e.channels;
  as_dataset.images = e.images;
  as_dataset.labels = e.image_index;
  CHECK(fsh::embedded_fingerprint(e) == fsh::dataset_fingerprint(as_dataset));

  // Wrong from the start (the writer computes a fingerprint that matches the wrong copy): only
  // the dataset shows it.
  e.images[0] ^= 1;
  fsh::write_episodes(e, t.file("wrong.h5"), prov());
  CHECK_NOTHROW(fsh::open_episodes(t.file("wrong.h5")));
  CHECK_THROWS_WITH_AS(
      fsh::open_episodes(t.file("wrong.h5"), t.file("d.h5")),
      doctest::Contains(("embedded image 0 (dataset index " + std::to_string(e.image_index[0]) +
                         ") differs from that image of")
                            .c_str()),
      fsh::format_error);
}

TEST_CASE("a dataset_size that disagrees with the dataset is named, before any index") {
  TempDir t;
  const fsh::Dataset d = make_dataset(10, 5);
  fsh::write_dataset(d, t.file("d.h5"), prov());
  auto e = fsh::sample_episodes(d, opts(2, 1, 1, 3, 1), t.file("d.h5"));
  e.dataset_size = 51;  // one too many: every index is still in range
  fsh::write_episodes(e, t.file("e.h5"), prov());
  CHECK_THROWS_WITH_AS(fsh::open_episodes(t.file("e.h5"), t.file("d.h5")),
                       (t.file("e.h5") + ": dataset_size is 51 but " + t.file("d.h5") +
                        ", whose fingerprint it records, has 50 images")
                           .c_str(),
                       fsh::format_error);
  e.dataset_size = 20;  // too small: without the dataset, named beside the largest index
  CHECK_THROWS_WITH_AS(fsh::write_episodes(e, t.file("small.h5"), prov()),
                       doctest::Contains("small.h5: dataset_size is 20 but /"), fsh::format_error);
}
