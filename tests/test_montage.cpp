// Tests of lib/data/montage: the episode montage geometry (computed by hand from the layout in
// montage.cpp's header: 1-cell gaps, a 3-gap divider, support rows above query rows), pixel
// placement, nearest-neighbour enlargement, RGB, and argument checks.
#include <doctest/doctest.h>

#include "data/montage.hpp"
#include "util/error.hpp"

namespace {

// N = 2 classes, K = 1, Q = 2, images 2x2 gray; image j has all pixels = 10 + j (support j = 0..1,
// query j = 2..5 in class-major order), except pixel (1, 1) = 100 + j.
void make(std::vector<uint8_t>& support, std::vector<uint8_t>& query) {
  support.clear();
  query.clear();
  for (int j = 0; j < 6; ++j) {
    std::vector<uint8_t> img = {uint8_t(10 + j), uint8_t(10 + j), uint8_t(10 + j), uint8_t(100 + j)};
    auto& dst = j < 2 ? support : query;
    dst.insert(dst.end(), img.begin(), img.end());
  }
}

}  // namespace

TEST_CASE("montage layout at scale 1") {
  std::vector<uint8_t> s, q;
  make(s, q);
  const fsh::Image m = fsh::episode_montage(s, q, 2, 1, 2, 2, 2, 1, 1);
  // width = 1 + 2 columns x (2 + 1) = 7; height = 1 + 2 x 3 + 3 + 2 x 3 = 16
  REQUIRE(m.width == 7);
  REQUIRE(m.height == 16);
  CHECK(m.channels == 1);
  CHECK(m.at(0, 0) == 190);  // border
  CHECK(m.at(1, 1) == 10);   // support class 0 at (1, 1)
  CHECK(m.at(2, 2) == 100);
  CHECK(m.at(4, 1) == 11);   // support class 1 one row (3 px) lower
  CHECK(m.at(5, 2) == 101);
  CHECK(m.at(1, 4) == 190);  // K = 1 < Q = 2: the second support column stays empty
  // Support rows occupy y = 1..2 and 4..5, each followed by a 1-px gap (y = 3, 6); then the
  // 3-px divider: two band rows (y = 7, 8) and one separator row (y = 9); queries from y = 10.
  CHECK(m.at(6, 3) == 190);
  CHECK(m.at(7, 3) == 235);
  CHECK(m.at(8, 3) == 235);
  CHECK(m.at(9, 3) == 190);
  CHECK(m.at(10, 1) == 12);  // query class 0: q0 at (10, 1), q1 at (10, 4)
  CHECK(m.at(10, 4) == 13);
  CHECK(m.at(13, 1) == 14);  // query class 1 at y = 13
  CHECK(m.at(14, 5) == 105);  // class 1, q1 = query image 3 -> j = 5, pixel (1, 1)
  CHECK(m.at(15, 5) == 190);  // bottom border
}

TEST_CASE("montage enlarges by nearest neighbour and keeps RGB") {
  std::vector<uint8_t> s, q;
  make(s, q);
  const fsh::Image m = fsh::episode_montage(s, q, 2, 1, 2, 2, 2, 1, 3);
  // gap 3, cells 6x6: width = 3 + 2 x 9 = 21; height = 3 + 18 + 9 + 18 = 48
  REQUIRE(m.width == 21);
  REQUIRE(m.height == 48);
  for (int y = 3; y < 6; ++y)
    for (int x = 3; x < 6; ++x) CHECK(m.at(y, x) == 10);
  for (int y = 6; y < 9; ++y)
    for (int x = 6; x < 9; ++x) CHECK(m.at(y, x) == 100);

  std::vector<uint8_t> rs(1 * 1 * 3 * 1, 0), rq(1 * 1 * 3 * 1, 0);
  rs = {1, 2, 3};
  rq = {4, 5, 6};
  const fsh::Image c = fsh::episode_montage(rs, rq, 1, 1, 1, 1, 1, 3, 1);
  CHECK(c.channels == 3);
  CHECK(c.at(1, 1, 0) == 1);
  CHECK(c.at(1, 1, 2) == 3);
  CHECK(c.at(c.height - 2, 1, 1) == 5);
}

TEST_CASE("montage rejects bad arguments") {
  std::vector<uint8_t> s, q;
  make(s, q);
  CHECK_THROWS_AS(fsh::episode_montage(s, q, 2, 1, 2, 2, 2, 1, 0), fsh::usage_error);
  CHECK_THROWS_AS(fsh::episode_montage(s, q, 2, 1, 3, 2, 2, 1, 1), fsh::shape_error);
  CHECK_THROWS_AS(fsh::episode_montage(s, q, 2, 1, 2, 2, 2, 2, 1), fsh::shape_error);
}
