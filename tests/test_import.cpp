// Tests of lib/data/import on small trees and zips that the test writes itself (libpng, libjpeg,
// libzip): class-folder layouts (depth 1 and 2), channel conversion, resize values calculated by
// hand, Omniglot zips and folders (ink bright, names, groups, sorting), thread-count
// independence, and bad inputs (each a typed error naming the file).
#include <doctest/doctest.h>

#include <filesystem>

#include "data/import.hpp"
#include "image_writers.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using fsh::test::TempDir;
using fsh::test::write_file;

namespace {

// 8x8 gray image: columns 0..3 = left, 4..7 = right.
std::vector<uint8_t> halves(uint8_t left, uint8_t right, int c = 1) {
  std::vector<uint8_t> px(64 * c);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int k = 0; k < c; ++k) px[(y * 8 + x) * c + k] = x < 4 ? left : right;
  return px;
}

// 105x105 1-bit Omniglot-style drawing: 1 = paper (white), 0 = ink in columns [0, ink_cols).
std::vector<uint8_t> omniglot_png(int ink_cols) {
  std::vector<uint8_t> bits(105 * 105, 1);
  for (int y = 0; y < 105; ++y)
    for (int x = 0; x < ink_cols; ++x) bits[y * 105 + x] = 0;
  return fsh::test::write_png1(105, 105, bits);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fsh::error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("class folders at depth 1: sorted classes, one group, hand-checked resize") {
  TempDir t;
  const std::string root = t.file("train");
  fs::create_directories(root + "/b");
  fs::create_directories(root + "/a");
  fs::create_directories(root + "/.hidden");
  write_file(root + "/b/2.png", fsh::test::write_png8(8, 8, 1, halves(200, 0)));
  write_file(root + "/b/1.PNG", fsh::test::write_png8(8, 8, 1, halves(0, 100)));
  write_file(root + "/a/x.png", fsh::test::write_png8(8, 8, 3, halves(10, 50, 3)));
  write_file(root + "/a/notes.txt", {'h', 'i'});
  write_file(root + "/.hidden/z.png", {'b', 'a', 'd'});

  fsh::ImportOptions o;
  o.height = 4;
  o.width = 4;
  fsh::Dataset d = fsh::import_folder(root, o);
  REQUIRE(d.size() == 3);
  CHECK(d.height == 4);
  CHECK(d.width == 4);
  CHECK(d.channels == 1);
  CHECK(d.class_names == std::vector<std::string>{"a", "b"});
  CHECK(d.group_names == std::vector<std::string>{"train"});
  CHECK(d.class_group == std::vector<int32_t>{0, 0});
  CHECK(d.labels == std::vector<int32_t>{0, 1, 1});
  CHECK(d.instance_names == std::vector<std::string>{"x.png", "1.PNG", "2.png"});
  // 8 -> 4 halves each side: columns 0,1 come from the left half, 2,3 from the right.
  for (int y = 0; y < 4; ++y) {
    CHECK(d.image(0)[y * 4 + 0] == 10);  // RGB (10,10,10) -> luma 10
    CHECK(d.image(0)[y * 4 + 3] == 50);
    CHECK(d.image(1)[y * 4 + 1] == 0);
    CHECK(d.image(1)[y * 4 + 2] == 100);
    CHECK(d.image(2)[y * 4 + 0] == 200);
    CHECK(d.image(2)[y * 4 + 3] == 0);
  }
  // 8 -> 3 (ratio 8/3): column 1 covers [8/3, 16/3), 4/3 left + 4/3 right -> mean of the two.
  o.height = 3;
  o.width = 3;
  o.invert = true;
  d = fsh::import_folder(root, o);
  CHECK(d.image(2)[1] == 255 - 100);  // inverted: left 55, right 255 -> 155
  CHECK(d.image(2)[0] == 55);
}

TEST_CASE("class folders: RGB output, JPEG input, depth 2 gives groups") {
  TempDir t;
  const std::string root = t.path;
  fs::create_directories(root + "/g2/cat");
  fs::create_directories(root + "/g1/dog");
  std::vector<uint8_t> rgb(16 * 16 * 3);
  for (int p = 0; p < 256; ++p) {
    rgb[p * 3] = 200;
    rgb[p * 3 + 1] = 100;
    rgb[p * 3 + 2] = 30;
  }
  write_file(root + "/g2/cat/c.jpeg", fsh::test::write_jpeg(16, 16, 3, rgb));
  write_file(root + "/g1/dog/d.png", fsh::test::write_png8(8, 8, 1, halves(60, 60)));
  fsh::ImportOptions o;
  o.height = 2;
  o.width = 2;
  o.channels = 3;
  fsh::Dataset d = fsh::import_folder(root, o);
  REQUIRE(d.size() == 2);
  CHECK(d.class_names == std::vector<std::string>{"g1/dog", "g2/cat"});
  CHECK(d.group_names == std::vector<std::string>{"g1", "g2"});
  CHECK(d.class_group == std::vector<int32_t>{0, 1});
  CHECK(d.channels == 3);
  for (int k = 0; k < 12; ++k) CHECK(d.image(0)[k] == 60);  // gray replicated
  for (int p = 0; p < 4; ++p) {                              // JPEG: within a few levels
    CHECK(std::abs(int(d.image(1)[p * 3]) - 200) <= 3);
    CHECK(std::abs(int(d.image(1)[p * 3 + 1]) - 100) <= 3);
    CHECK(std::abs(int(d.image(1)[p * 3 + 2]) - 30) <= 3);
  }
}

TEST_CASE("class folders: bad trees give errors naming the file or folder") {
  TempDir t;
  fs::create_directories(t.file("empty"));
  CHECK(contains(message_of([&] { fsh::import_folder(t.file("empty")); }),
                 "empty: no images"));
  CHECK_THROWS_AS(fsh::import_folder(t.file("missing")), fsh::io_error);

  fs::create_directories(t.file("mixed/a"));
  fs::create_directories(t.file("mixed/g/b"));
  write_file(t.file("mixed/a/1.png"), fsh::test::write_png8(8, 8, 1, halves(1, 2)));
  write_file(t.file("mixed/g/b/1.png"), fsh::test::write_png8(8, 8, 1, halves(1, 2)));
  CHECK(contains(message_of([&] { fsh::import_folder(t.file("mixed")); }), "different depths"));

  fs::create_directories(t.file("flat"));
  write_file(t.file("flat/1.png"), fsh::test::write_png8(8, 8, 1, halves(1, 2)));
  CHECK(contains(message_of([&] { fsh::import_folder(t.file("flat")); }), "root folder"));

  fs::create_directories(t.file("bad/c"));
  write_file(t.file("bad/c/ok.png"), fsh::test::write_png8(8, 8, 1, halves(1, 2)));
  write_file(t.file("bad/c/broken.png"), {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  const std::string e = message_of([&] { fsh::import_folder(t.file("bad")); });
  CHECK(contains(e, "bad/c/broken.png"));
  CHECK(contains(e, "PNG"));

  fsh::ImportOptions o;
  o.height = 0;
  CHECK_THROWS_AS(fsh::import_folder(t.file("bad"), o), fsh::usage_error);
  o.height = 28;
  o.channels = 2;
  CHECK_THROWS_AS(fsh::import_folder(t.file("bad"), o), fsh::usage_error);
}

TEST_CASE("with several bad files, the first in sorted order is reported, for any thread count") {
  TempDir t;
  for (const char* c : {"a", "b", "c", "d"}) {
    fs::create_directories(t.file(std::string("r/") + c));
    for (int i = 0; i < 6; ++i)
      write_file(t.file(std::string("r/") + c + "/" + std::to_string(i) + ".png"),
                 fsh::test::write_png8(8, 8, 1, halves(5, 6)));
  }
  write_file(t.file("r/b/3.png"), {'b', 'a', 'd'});
  write_file(t.file("r/d/0.png"), {'b', 'a', 'd'});
  fsh::ImportOptions o;
  for (int threads : {1, 2, 4}) {
    o.threads = threads;
    for (int rep = 0; rep < 5; ++rep)
      CHECK(contains(message_of([&] { fsh::import_folder(t.file("r"), o); }), "r/b/3.png"));
  }
}

TEST_CASE("results do not depend on the thread count") {
  TempDir t;
  for (int c = 0; c < 5; ++c) {
    const std::string dir = t.file("r/c" + std::to_string(c));
    fs::create_directories(dir);
    for (int i = 0; i < 9; ++i) {
      std::vector<uint8_t> px(13 * 11);
      for (std::size_t p = 0; p < px.size(); ++p) px[p] = static_cast<uint8_t>(p * (c + 3) + i * 17);
      write_file(dir + "/" + std::to_string(i) + ".png", fsh::test::write_png8(11, 13, 1, px));
    }
  }
  fsh::ImportOptions o;
  o.height = 5;
  o.width = 7;
  o.threads = 1;
  const fsh::Dataset a = fsh::import_folder(t.file("r"), o);
  o.threads = 3;
  int64_t calls = 0, last = 0;
  o.progress = [&](int64_t done, int64_t total) {
    ++calls;
    last = done;
    CHECK(total == 45);
  };
  const fsh::Dataset b = fsh::import_folder(t.file("r"), o);
  CHECK(a.size() == 45);
  CHECK(a.images == b.images);
  CHECK(a.labels == b.labels);
  CHECK(calls >= 1);
  CHECK(last == 45);
}

TEST_CASE("Omniglot from a zip and from a folder: ink bright, names, groups, sorted") {
  TempDir t;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> entries = {
      {"images_background/", {}},
      {"images_background/Zeta/", {}},
      {"images_background/Zeta/character02/0002_01.png", omniglot_png(0)},
      {"images_background/Zeta/character02/0002_02.png", omniglot_png(4)},
      {"images_background/Alpha/character01/0001_02.png", omniglot_png(105)},
      {"images_background/Alpha/character01/0001_01.png", omniglot_png(4)},
      {"__MACOSX/images_background/Alpha/character01/._0001_01.png", {'x'}},
      {"images_background/Alpha/character01/.DS_Store", {'x'}},
  };
  fsh::test::write_zip(t.file("bg.zip"), entries);
  const fsh::Dataset d = fsh::import_omniglot({t.file("bg.zip")});
  REQUIRE(d.size() == 4);
  CHECK(d.height == 28);
  CHECK(d.width == 28);
  CHECK(d.channels == 1);
  CHECK(d.class_names == std::vector<std::string>{"Alpha/character01", "Zeta/character02"});
  CHECK(d.group_names == std::vector<std::string>{"Alpha", "Zeta"});
  CHECK(d.labels == std::vector<int32_t>{0, 0, 1, 1});
  CHECK(d.instance_names ==
        std::vector<std::string>{"0001_01.png", "0001_02.png", "0002_01.png", "0002_02.png"});
  // Ink in columns 0..3 of 105: after inversion and 105 -> 28 (ratio 3.75) column 0 is full
  // ink (255), column 1 holds a quarter pixel of ink: 255 / 15 = 17; paper is 0.
  for (int y = 0; y < 28; ++y) {
    CHECK(d.image(0)[y * 28 + 0] == 255);
    CHECK(d.image(0)[y * 28 + 1] == 17);
    CHECK(d.image(0)[y * 28 + 2] == 0);
  }
  for (int p = 0; p < 28 * 28; ++p) {
    CHECK(d.image(1)[p] == 255);  // all ink
    CHECK(d.image(2)[p] == 0);    // blank paper
  }

  // The same drawings extracted to a folder give the same dataset.
  for (const auto& [name, bytes] : entries) {
    if (name.back() == '/') continue;
    fs::create_directories(fs::path(t.file("x/" + name)).parent_path());
    write_file(t.file("x/" + name), bytes);
  }
  const fsh::Dataset f = fsh::import_omniglot({t.file("x/images_background")});
  CHECK(f.images == d.images);
  CHECK(f.class_names == d.class_names);
  CHECK(f.instance_names == d.instance_names);

  // Two sources merge (sorted, whatever the argument order); --size applies.
  fsh::test::write_zip(t.file("ev.zip"),
                       {{"images_evaluation/Beta/character01/0003_01.png", omniglot_png(1)}});
  fsh::ImportOptions o;
  o.height = o.width = 35;
  const fsh::Dataset m = fsh::import_omniglot({t.file("ev.zip"), t.file("bg.zip")}, o);
  CHECK(m.class_names ==
        std::vector<std::string>{"Alpha/character01", "Beta/character01", "Zeta/character02"});
  CHECK(m.group_names == std::vector<std::string>{"Alpha", "Beta", "Zeta"});
  CHECK(m.class_group == std::vector<int32_t>{0, 1, 2});
  CHECK(m.height == 35);
  // 105 -> 35 (ratio 3): one ink column of three -> 85.
  CHECK(m.image(2)[0] == 85);
  CHECK(m.image(2)[1] == 0);
}

TEST_CASE("Omniglot: bad sources give errors naming the file") {
  TempDir t;
  CHECK(contains(message_of([&] { fsh::import_omniglot({t.file("nope.zip")}); }),
                 "nope.zip: no such file"));
  write_file(t.file("fake.zip"), {'n', 'o', 't', ' ', 'z', 'i', 'p'});
  std::string e = message_of([&] { fsh::import_omniglot({t.file("fake.zip")}); });
  CHECK(contains(e, "fake.zip: not a zip archive"));
  fsh::test::write_zip(t.file("other.zip"), {{"readme.txt", {'h', 'i'}}});
  CHECK(contains(message_of([&] { fsh::import_omniglot({t.file("other.zip")}); }),
                 "other.zip: no Omniglot drawings"));
  fsh::test::write_zip(t.file("bad.zip"),
                       {{"i/A/character01/0001_01.png", omniglot_png(3)},
                        {"i/A/character01/0001_02.png", {0x89, 'P', 'N', 'G', 1, 2}}});
  e = message_of([&] { fsh::import_omniglot({t.file("bad.zip")}); });
  CHECK(contains(e, "bad.zip:i/A/character01/0001_02.png"));
  // A control character in an entry name (a damaged archive; the fuzzer found a newline) is
  // shown as \xNN: the message stays one line.
  fsh::test::write_zip(t.file("ctl.zip"),
                       {{"i/A/character01/0001_01.png", omniglot_png(3)},
                        {"i/A/char\nacter01/0001_02.png", {0x89, 'P', 'N', 'G', 1, 2}}});
  e = message_of([&] { fsh::import_omniglot({t.file("ctl.zip")}); });
  CHECK_MESSAGE(contains(e, "ctl.zip:i/A/char\\x0aacter01/0001_02.png"), e);
  CHECK(e.find('\n') == std::string::npos);
  fsh::test::write_zip(t.file("ok.zip"), {{"i/A/character01/0001_01.png", omniglot_png(3)}});
  CHECK(contains(message_of([&] { fsh::import_omniglot({t.file("ok.zip"), t.file("ok.zip")}); }),
                 "found in two sources"));
  CHECK_THROWS_AS(fsh::import_omniglot({}), fsh::usage_error);
}
