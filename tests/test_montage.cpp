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

TEST_CASE("prediction montage: pairs, frames and the confused class's support image") {
  // N = 2, K = 1, Q = 2, images 4x4 gray: image j (support j = 0..1, queries j = 2..5) has all
  // pixels 10 + j except pixel (2, 2) = 100 + j.
  std::vector<uint8_t> s, q;
  for (int j = 0; j < 6; ++j) {
    std::vector<uint8_t> img(16, uint8_t(10 + j));
    img[2 * 4 + 2] = uint8_t(100 + j);
    (j < 2 ? s : q).insert((j < 2 ? s : q).end(), img.begin(), img.end());
  }
  // Queries in order: class 0 q0, q1; class 1 q0, q1. Class 0's q1 is taken for class 1.
  const fsh::Image m = fsh::prediction_montage(s, q, {0, 1, 1, 1}, 2, 1, 2, 4, 4, 1, 1);
  // gap 1, cells 4x4, cols = max(K, 2Q) = 4: width = 1 + 4 x 5 = 21; height = 1 + 10 + 3 + 10
  REQUIRE(m.width == 21);
  REQUIRE(m.height == 24);
  CHECK(m.channels == 3);
  CHECK(m.at(6, 1, 0) == 11);  // support class 1 at (6, 1), gray repeated over the channels
  CHECK(m.at(6, 1, 2) == 11);
  // Query rows: class 0 at y = 1 + 10 + 3 = 14, class 1 at y = 19. Class 0: q0 (right) at
  // x = 1, its second cell (x = 6) empty; q1 (wrong) at x = 11 framed red over its edge, and
  // beside it (x = 16) class 1's support image framed light red.
  CHECK(m.at(14, 1, 0) == 12);   // no frame on a right answer
  CHECK(m.at(15, 7, 1) == 190);  // and nothing beside it
  CHECK(m.at(14, 11, 0) == fsh::wrong_frame_rgb[0]);
  CHECK(m.at(17, 14, 1) == fsh::wrong_frame_rgb[1]);
  CHECK(m.at(15, 12, 0) == 13);   // q1's interior
  CHECK(m.at(16, 13, 2) == 103);  // its pixel (2, 2)
  CHECK(m.at(14, 16, 0) == fsh::confusion_frame_rgb[0]);
  CHECK(m.at(15, 17, 0) == 11);   // class 1's support image
  CHECK(m.at(16, 18, 1) == 101);
  CHECK(m.at(15, 15, 0) == 190);  // the gap between the pair stays a separator
  // Class 1's queries are both right: no frames, nothing beside them.
  CHECK(m.at(19, 1, 0) == 14);
  CHECK(m.at(20, 7, 0) == 190);
  CHECK(m.at(19, 11, 1) == 15);
  CHECK(m.at(20, 17, 0) == 190);

  CHECK_THROWS_AS(fsh::prediction_montage(s, q, {0, 1, 1}, 2, 1, 2, 4, 4, 1, 1),
                  fsh::shape_error);
  CHECK_THROWS_AS(fsh::prediction_montage(s, q, {0, 2, 1, 1}, 2, 1, 2, 4, 4, 1, 1),
                  fsh::shape_error);
  CHECK_THROWS_AS(fsh::prediction_montage(s, q, {0, -1, 1, 1}, 2, 1, 2, 4, 4, 1, 1),
                  fsh::shape_error);
}
