// Tests of lib/io: the generic HDF5 Writer/Reader (typed arrays, attributes, strings,
// provenance), atomic and deterministic writing, and fsh-dataset / fsh-split reading with its
// rejections (wrong format, newer version, missing / mis-shaped / mis-typed datasets, truncated
// and non-HDF5 files, fingerprint mismatch). Reference fingerprints come from an independent
// Python implementation of FNV-1a over the byte sequence of man 5 fsh-dataset.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/fingerprint.hpp"
#include "io/dataset_io.hpp"
#include "io/hdf5.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using fsh::test::TempDir;

namespace {

fsh::Dataset tiny_dataset() {
  fsh::Dataset d;
  d.height = 2;
  d.width = 2;
  d.channels = 1;
  for (int i = 0; i < 12; ++i) d.images.push_back(static_cast<uint8_t>(i));
  d.labels = {0, 1, 1};
  d.class_names = {"Latin/character01", "Greek/character02"};
  d.class_group = {0, 1};
  d.group_names = {"Latin", "Greek"};
  d.instance_names = {"a.png", "b.png", "c.png"};
  return d;
}

fsh::Provenance prov() { return {"test", "0.0", "test --flag", 7, {"in.h5"}}; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> folder(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

// Writes a fsh-dataset file like write_dataset, with one element changed by `edit`.
template <class Edit>
void write_variant(const std::string& path, Edit edit, const std::string& format = "fsh-dataset",
                   int64_t version = 1) {
  fsh::Dataset d = tiny_dataset();
  fsh::io::Writer w(path, format, version, prov());
  edit(w, d);
  w.commit();
}

void put_all(fsh::io::Writer& w, const fsh::Dataset& d, const std::string& skip = "") {
  if (skip != "images") w.put("images", d.images, {d.size(), d.height, d.width, d.channels}, true);
  if (skip != "labels") w.put("labels", d.labels, {d.size()});
  if (skip != "class_names") w.put_strings("class_names", d.class_names);
  if (skip != "class_group") w.put("class_group", d.class_group, {d.n_classes()});
  if (skip != "group_names") w.put_strings("group_names", d.group_names);
}

}  // namespace

TEST_CASE("fingerprint matches an independent FNV-1a implementation") {
  fsh::Fnv1a64 h;
  h.update("a", 1);
  CHECK(fsh::hex64(h.value()) == "af63dc4c8601ec8c");
  CHECK(fsh::dataset_fingerprint(tiny_dataset()) == "fa00efa2f1ecec7b");
  fsh::Dataset d = tiny_dataset();
  d.images[5] ^= 1;
  CHECK(fsh::dataset_fingerprint(d) != "fa00efa2f1ecec7b");
}

TEST_CASE("Writer/Reader round-trip typed arrays, strings and attributes") {
  TempDir t;
  const std::string p = t.file("x.h5");
  {
    fsh::io::Writer w(p, "fsh-test", 1, prov());
    w.put("a/u8", std::vector<uint8_t>{1, 2, 255}, {3}, true);
    w.put("a/i8", std::vector<int8_t>{-1, 0, 2, 3}, {2, 2});
    w.put("i32", std::vector<int32_t>{-5, 7}, {2});
    w.put("i64", std::vector<int64_t>{1LL << 40}, {1});
    w.put("f32", std::vector<float>{0.5f, -1.25f}, {1, 2});
    w.put("f64", std::vector<double>{3.25}, {1});
    w.put("empty", std::vector<float>{}, {0, 4}, true);
    w.put_strings("names", {"α/β", "", "x"});
    w.attr("a", "note", "hello");
    w.attr("/", "n", int64_t{-3});
    w.attr("/", "big", uint64_t{1} << 63);
    w.attr("i32", "scale", 0.25);
    CHECK_THROWS_AS(w.put("bad", std::vector<int32_t>{1, 2, 3}, {2, 2}), fsh::shape_error);
    w.commit();
  }
  fsh::io::Reader r(p);
  CHECK(r.format() == "fsh-test");
  CHECK(r.version() == 1);
  CHECK(r.get_u8("a/u8", {3}) == std::vector<uint8_t>{1, 2, 255});
  fsh::io::Shape s;
  CHECK(r.get_i8("a/i8", {fsh::io::any, 2}, &s) == std::vector<int8_t>{-1, 0, 2, 3});
  CHECK(s == fsh::io::Shape{2, 2});
  CHECK(r.get_i32("i32", {2}) == std::vector<int32_t>{-5, 7});
  CHECK(r.get_i64("i64", {1})[0] == (1LL << 40));
  CHECK(r.get_i64("i32", {2}) == std::vector<int64_t>{-5, 7});
  CHECK(r.get_f32("f32", {1, 2}) == std::vector<float>{0.5f, -1.25f});
  CHECK(r.get_f64("f64", {1})[0] == 3.25);
  CHECK(r.get_f32("empty", {0, 4}).empty());
  CHECK(r.get_strings("names", 3) == std::vector<std::string>{"α/β", "", "x"});
  CHECK(r.attr_string("a", "note") == "hello");
  CHECK(r.attr_int("/", "n") == -3);
  CHECK(r.attr_uint("/", "big") == (uint64_t{1} << 63));
  CHECK(r.attr_double("i32", "scale") == 0.25);
  CHECK(r.has("a/u8"));
  CHECK_FALSE(r.has("nope/x"));
  CHECK_FALSE(r.has_attr("nope", "x"));
  auto pv = r.provenance();
  CHECK(pv.tool == "test");
  CHECK(pv.command_line == "test --flag");
  CHECK(pv.seed == 7);
  CHECK(pv.inputs == std::vector<std::string>{"in.h5"});
  auto entries = r.list();
  CHECK(entries.size() == 9);  // 8 arrays + provenance/inputs

  // Type and shape checks, each naming the file and the dataset.
  CHECK_THROWS_WITH_AS(r.get_i32("f32", {1, 2}), doctest::Contains("/f32 has type float32"),
                       fsh::format_error);
  CHECK_THROWS_WITH_AS(r.get_u8("i32", {2}), doctest::Contains("expected uint8"),
                       fsh::format_error);
  CHECK_THROWS_WITH_AS(r.get_i8("i32", {3}), doctest::Contains("has shape (2,); expected (3,)"),
                       fsh::format_error);
  CHECK_THROWS_WITH_AS(r.get_i8("i64", {1}), doctest::Contains("outside the range of int8"),
                       fsh::format_error);
  CHECK_THROWS_WITH_AS(r.get_f32("missing", {1}),
                       doctest::Contains((p + ": missing dataset /missing").c_str()),
                       fsh::format_error);
  CHECK_THROWS_WITH_AS(r.get_strings("i32"), doctest::Contains("expected strings"),
                       fsh::format_error);
  CHECK_THROWS_AS(r.attr_int("a", "note"), fsh::format_error);
  CHECK_THROWS_AS(r.attr_string("/", "absent"), fsh::format_error);
}

TEST_CASE("writing is atomic: no file and no temporary is left without commit") {
  TempDir t;
  {
    fsh::io::Writer w(t.file("out.h5"), "fsh-test", 1, prov());
    w.put("x", std::vector<int32_t>{1}, {1});
    CHECK(folder(t.path).size() == 1);  // the temporary, hidden
    CHECK_FALSE(fs::exists(t.file("out.h5")));
  }
  CHECK(folder(t.path).empty());
  // An existing file survives a failed rewrite untouched.
  write_dataset(tiny_dataset(), t.file("d.h5"), prov());
  const std::string before = slurp(t.file("d.h5"));
  fsh::Dataset bad = tiny_dataset();
  bad.labels[0] = 9;
  CHECK_THROWS_AS(write_dataset(bad, t.file("d.h5"), prov()), fsh::format_error);
  CHECK(slurp(t.file("d.h5")) == before);
  CHECK(folder(t.path).size() == 1);
  CHECK_THROWS_AS(fsh::io::Writer(t.file("no/such/dir/x.h5"), "f", 1, prov()), fsh::io_error);
}

TEST_CASE("output is byte-identical for identical content") {
  TempDir t;
  fsh::Dataset d = tiny_dataset();
  d.class_part = {fsh::Part::train, fsh::Part::test};
  write_dataset(d, t.file("a.h5"), prov());
  write_dataset(d, t.file("b.h5"), prov());
  CHECK(slurp(t.file("a.h5")) == slurp(t.file("b.h5")));
  d.images[0] = 99;
  write_dataset(d, t.file("c.h5"), prov());
  CHECK(slurp(t.file("a.h5")) != slurp(t.file("c.h5")));
}

TEST_CASE("fsh-dataset and fsh-split round-trip") {
  TempDir t;
  fsh::Dataset d = tiny_dataset();
  write_dataset(d, t.file("d.h5"), prov());
  fsh::Dataset r = fsh::read_dataset(t.file("d.h5"));
  CHECK(r.images == d.images);
  CHECK(r.labels == d.labels);
  CHECK(r.height == 2);
  CHECK(r.channels == 1);
  CHECK(r.class_names == d.class_names);
  CHECK(r.class_group == d.class_group);
  CHECK(r.group_names == d.group_names);
  CHECK(r.instance_names == d.instance_names);
  CHECK(r.class_part.empty());
  fsh::io::Reader rd(t.file("d.h5"));
  CHECK(rd.format() == "fsh-dataset");
  CHECK(rd.attr_string("/", "fingerprint") == "fa00efa2f1ecec7b");

  d.class_part = {fsh::Part::none, fsh::Part::val};
  d.instance_names.clear();
  write_dataset(d, t.file("s.h5"), prov());
  r = fsh::read_dataset(t.file("s.h5"));
  CHECK(r.class_part == d.class_part);
  CHECK(r.instance_names.empty());
  CHECK(fsh::io::Reader(t.file("s.h5")).format() == "fsh-split");
}

TEST_CASE("readers reject bad files with one line naming the file and the problem") {
  TempDir t;
  auto wv = [&](const std::string& name, auto edit, const std::string& format = "fsh-dataset",
                int64_t version = 1) { write_variant(t.file(name), edit, format, version); };
  auto reject = [&](const std::string& name, const std::string& expected) {
    const std::string p = t.file(name);
    try {
      fsh::read_dataset(p);
      FAIL("no error for " << name);
    } catch (const fsh::error& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.find(p + ": ") == 0, what);
      CHECK_MESSAGE(what.find(expected) != std::string::npos, what);
      CHECK(what.find('\n') == std::string::npos);
    }
  };
  wv(
      "episodes.h5", [](auto& w, auto& d) { put_all(w, d); }, "fsh-episodes");
  reject("episodes.h5", "not an fsh-dataset or fsh-split file (fsh_format is \"fsh-episodes\")");
  wv(
      "v3.h5", [](auto& w, auto& d) { put_all(w, d); }, "fsh-dataset", 3);
  reject("v3.h5", "this file is fsh-dataset version 3; this build reads up to 1");
  wv("nolabels.h5", [](auto& w, auto& d) { put_all(w, d, "labels"); });
  reject("nolabels.h5", "missing dataset /labels");
  wv("shape.h5", [](auto& w, auto& d) {
    put_all(w, d, "images");
    w.put("images", d.images, {3, 4}, true);
  });
  reject("shape.h5", "dataset /images has shape (3, 4); expected (any, any, any, any)");
  wv("labels2.h5", [](auto& w, auto& d) {
    put_all(w, d, "labels");
    w.put("labels", std::vector<int32_t>{0, 1}, {2});
  });
  reject("labels2.h5", "dataset /labels has shape (2,); expected (3,)");
  wv("type.h5", [](auto& w, auto& d) {
    put_all(w, d, "labels");
    w.put("labels", std::vector<float>{0, 1, 1}, {3});
  });
  reject("type.h5", "dataset /labels has type float32; expected an integer type");
  wv("imgtype.h5", [](auto& w, auto& d) {
    put_all(w, d, "images");
    std::vector<int32_t> im(d.images.begin(), d.images.end());
    w.put("images", im, {3, 2, 2, 1});
  });
  reject("imgtype.h5", "dataset /images has type int32; expected uint8");
  wv("range.h5", [](auto& w, auto& d) {
    put_all(w, d, "labels");
    w.put("labels", std::vector<int32_t>{0, 1, 5}, {3});
  });
  reject("range.h5", "label 5 of image 2 is outside [0, 2)");
  wv("fp.h5", [](auto& w, auto& d) {
    put_all(w, d);
    w.attr("/", "fingerprint", "0000000000000000");
  });
  reject("fp.h5", "fingerprint attribute is 0000000000000000");
  wv(
      "noformat.h5", [](auto& w, auto& d) { put_all(w, d); }, "");
  reject("noformat.h5", "not an fsh file");
  { std::ofstream(t.file("text.h5")) << "hello, not HDF5\n"; }
  reject("text.h5", "not an HDF5 file");
  { std::ofstream(t.file("empty.h5")); }
  reject("empty.h5", "empty file");
  reject("absent.h5", "cannot open");
  write_dataset(tiny_dataset(), t.file("full.h5"), prov());
  const std::string bytes = slurp(t.file("full.h5"));
  {
    std::ofstream out(t.file("cut.h5"), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  reject("cut.h5", "truncated");
}

TEST_CASE("a chunk larger than its dataset's fixed size is refused before HDF5 reads it") {
  // tests/fuzz/corpus/fuzz_episodes/chunk-larger-than-dataset.h5: an episodes file whose
  // /embedded/images chunk shape has one byte changed (16 -> 524304), as the fuzzer found it.
  // HDF5 1.10 would copy a whole nominal chunk out of the 2304 bytes it decompressed (SIGSEGV).
  const std::string p =
      fsh::test::source_dir() + "/tests/fuzz/corpus/fuzz_episodes/chunk-larger-than-dataset.h5";
  const fsh::io::Reader r(p);
  CHECK(r.get_i32("support", {1, 6}).size() == 6);  // the other datasets read as before
  try {
    r.get_u8("embedded/images", {fsh::io::any, fsh::io::any, fsh::io::any, fsh::io::any});
    FAIL("no error");
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    CHECK(what == p + ": dataset /embedded/images of shape (9, 16, 16, 1) is stored in chunks of "
                      "(9, 524304, 16, 1), larger than its fixed size (damaged file?)");
  }
}

TEST_CASE("an extent past its maximum is refused before fsh allocates for it") {
  // tests/fuzz/corpus/fuzz_dataset/extent-past-maximum.h5: a dataset file whose /images
  // dataspace says (16777220, 458752, 2, 1) with maximum (4, 3, 2, 1), as the fuzzer found it;
  // fsh allocated 15 TB for it (HDF5 1.10 does not check the extent against the maximum).
  const std::string p =
      fsh::test::source_dir() + "/tests/fuzz/corpus/fuzz_dataset/extent-past-maximum.h5";
  try {
    fsh::read_dataset(p);
    FAIL("no error");
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    CHECK(what == p + ": dataset /images has shape (16777220, 458752, 2, 1), larger than its "
                      "maximum shape (4, 3, 2, 1) (damaged file?)");
  }
}

TEST_CASE("storage larger than the whole file is refused before HDF5 allocates for it") {
  // tests/fuzz/corpus/fuzz_episodes/chunk-record-past-file.h5: an episodes file whose /support
  // chunk record claims 4294907904 bytes, as the fuzzer found it; H5Dread then asked malloc for
  // 4 GB to read the chunk of a 22 KB file.
  const std::string p =
      fsh::test::source_dir() + "/tests/fuzz/corpus/fuzz_episodes/chunk-record-past-file.h5";
  const fsh::io::Reader r(p);
  try {
    r.get_i32("support", {1, 6});
    FAIL("no error");
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    CHECK(what == p + ": dataset /support claims 4294907904 bytes of storage, more than the "
                      "whole file's 21992 (damaged file?)");
  }
}

TEST_CASE("a number type wider than any HDF5 writes is refused before HDF5 converts it") {
  // tests/fuzz/corpus/fuzz_episodes/integer-wider-than-64-bits.h5: an episodes file whose
  // /classes datatype says 16514820-byte integers, as the fuzzer found it; H5Dread converted
  // past the end of the chunk it had read (SIGSEGV).
  const std::string p =
      fsh::test::source_dir() + "/tests/fuzz/corpus/fuzz_episodes/integer-wider-than-64-bits.h5";
  const fsh::io::Reader r(p);
  try {
    r.get_i32("classes", {fsh::io::any, fsh::io::any});
    FAIL("no error");
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    CHECK(what == p + ": dataset /classes has type int132118560, wider than any number type "
                      "(damaged file?)");
  }
}
