// Tests of few-shot classification of image files (methods/images, data/prepare, data/export,
// and the support-folder reader of data/import): a folder holding an episode's support images
// gives that episode's classifier bit for bit (gray, RGB, inverted files, files twice the size,
// RGB files for a gray model); bad support folders give one-line errors naming the file or
// folder; probabilities are the softmax of an independent double-precision forward pass;
// preparation gives the importer's bytes; exports round-trip through import; models, datasets
// and adapted files carry what they record.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "data/export.hpp"
#include "data/fingerprint.hpp"
#include "data/import.hpp"
#include "data/prepare.hpp"
#include "data/split.hpp"
#include "data/synth.hpp"
#include "image_writers.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"
#include "methods/adapted.hpp"
#include "methods/checkpoint.hpp"
#include "methods/evaluate.hpp"
#include "methods/images.hpp"
#include "methods/setup.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using namespace fsh;
using fsh::test::TempDir;

namespace {

Dataset glyphs(int64_t channels) {
  SynthOptions o;
  o.classes = 10;
  o.instances = 6;
  o.size = 28;
  o.channels = channels;
  o.seed = 4;
  o.threads = 1;
  return synthesize(o);
}

// A ProtoNet of d's input shape (small, randomly initialised), recording d's preparation.
std::unique_ptr<Method> protonet(const Dataset& d) {
  ModelConfig c;
  c.backbone.in_channels = static_cast<int>(d.channels);
  c.backbone.height = static_cast<int>(d.height);
  c.backbone.width = static_cast<int>(d.width);
  c.backbone.hidden = 8;
  c.input = d.preparation;
  c.input_mean = mean_brightness(d.images);
  auto m = make_method(c);
  Rng rng(7);
  m->init(rng);
  return m;
}

EpisodeSet episodes_of(const Dataset& d) {
  SampleOptions o;
  o.n_way = 3;
  o.k_shot = 2;
  o.n_query = 2;
  o.count = 3;
  o.seed = 5;
  EpisodeSet es;
  es.episodes = sample_episodes(d, o, "glyphs");
  es.dataset = d;
  es.source = "glyphs";
  return es;
}

enum class FileKind { same, inverted, doubled, rgb };

// Writes ep's support images as dir/c<c>/<k>.png with the test's own PNG writer (libpng): as
// stored, inverted (255 - v), at twice the size (every pixel a 2x2 block: area averaging gives
// it back exactly), or a gray image as RGB (BT.601 luma of (v, v, v) is v).
void write_support(const EpisodeImages& ep, const std::string& dir, FileKind kind) {
  const int64_t H = ep.height, W = ep.width, C = ep.channels, per = H * W * C;
  for (int64_t i = 0; i < ep.n_way * ep.k_shot; ++i) {
    const uint8_t* px = ep.support.data() + i * per;
    std::vector<uint8_t> out;
    uint32_t h = uint32_t(H), w = uint32_t(W);
    int c = int(C);
    if (kind == FileKind::same) out.assign(px, px + per);
    if (kind == FileKind::inverted)
      for (int64_t k = 0; k < per; ++k) out.push_back(uint8_t(255 - px[k]));
    if (kind == FileKind::doubled) {
      h *= 2;
      w *= 2;
      for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w; ++x)
          for (int64_t k = 0; k < C; ++k) out.push_back(px[((y / 2) * W + x / 2) * C + k]);
    }
    if (kind == FileKind::rgb) {
      c = 3;
      for (int64_t k = 0; k < per; ++k) out.insert(out.end(), 3, px[k]);
    }
    const std::string folder = dir + "/c" + std::to_string(i / ep.k_shot);
    fs::create_directories(folder);
    fsh::test::write_file(folder + "/" + std::to_string(i % ep.k_shot) + ".png",
                          fsh::test::write_png8(w, h, c, out));
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
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

// A tree of 8x8 gray PNGs: root/<class>/<name> for each (class, name).
void write_tree(const std::string& root,
                const std::vector<std::pair<std::string, std::string>>& files, uint32_t size = 8) {
  for (const auto& [cls, name] : files) {
    fs::create_directories(root + "/" + cls);
    fsh::test::write_file(
        root + "/" + cls + "/" + name,
        fsh::test::write_png8(size, size, 1, std::vector<uint8_t>(size * size, 40)));
  }
}

}  // namespace

TEST_CASE("a folder of an episode's support images gives that episode's classifier, bit for bit") {
  struct Case {
    int64_t channels;
    bool inverted_dataset;
    FileKind kind;
    const char* what;
  };
  for (const Case& k :
       {Case{1, false, FileKind::same, "gray"}, Case{3, false, FileKind::same, "RGB"},
        Case{1, true, FileKind::inverted, "files inverted on import (Omniglot)"},
        Case{1, false, FileKind::doubled, "files twice the size"},
        Case{1, false, FileKind::rgb, "RGB files for a gray model"}}) {
    CAPTURE(k.what);
    Dataset d = glyphs(k.channels);
    if (k.inverted_dataset) d.preparation = {true, true, "area"};
    auto m = protonet(d);
    const EpisodeSet es = episodes_of(d);
    const AdaptedSet all = adapt_episodes(*m, es);
    for (int64_t e = 0; e < es.count(); ++e) {
      TempDir dir;
      const EpisodeImages ep = es.images(e);
      write_support(ep, dir.path, k.kind);
      const SupportFolder f = read_support_folder(dir.path, k.kind == FileKind::doubled);
      CHECK(f.class_names == std::vector<std::string>{"c0", "c1", "c2"});
      CHECK(f.k_shot == 2);
      InputChoice choice;
      choice.any_size = k.kind == FileKind::doubled;
      const AdaptedSet one = adapt_support_folder(*m, f, choice, "model");
      REQUIRE(one.count() == 1);
      const AdaptedClassifier a = one.episode(0), b = all.episode(e);
      CHECK(same_bits(a.primary, b.primary));
      CHECK(same_bits(a.fold_scale, b.fold_scale));
      CHECK(same_bits(a.fold_shift, b.fold_shift));
      CHECK(same_bits(one.base, all.base));
      CHECK(one.class_names == f.class_names);
      CHECK(one.k_shot == 2);
      CHECK(one.n_query == 0);
      CHECK(one.model.input.known);
      CHECK(one.model.input.inverted == k.inverted_dataset);
      CHECK(one.source_height == (k.kind == FileKind::doubled ? 0 : 28));
      // The fingerprint is that of the episode's support images as a dataset.
      Dataset support;
      support.height = support.width = 28;
      support.channels = d.channels;
      support.images = ep.support;
      support.labels = ep.support_labels;
      CHECK(one.dataset_fingerprint == dataset_fingerprint(support));
    }
  }
}

TEST_CASE("the files of an inverted-ink dataset given as they are: refused, naming the flag") {
  Dataset d = glyphs(1);
  auto m = protonet(d);  // trained (here: made) on bright ink, files not inverted
  const EpisodeSet es = episodes_of(d);
  TempDir dir;
  write_support(es.images(0), dir.path, FileKind::inverted);  // dark ink on light paper
  const SupportFolder f = read_support_folder(dir.path);
  const std::string msg = message_of([&] { adapt_support_folder(*m, f, {}, "model.h5"); });
  CHECK(contains(msg, dir.path));
  CHECK(contains(msg, "--invert"));
  CHECK(msg.find('\n') == std::string::npos);
  // --invert fixes it, and gives the classifier of the stored images.
  InputChoice inv;
  inv.invert = true;
  const AdaptedSet one = adapt_support_folder(*m, f, inv, "model.h5");
  CHECK(same_bits(one.episode(0).primary, adapt_episodes(*m, es).episode(0).primary));
  CHECK(one.model.input.inverted);
  // --no-invert is taken at its word (no check).
  InputChoice as_is;
  as_is.invert = false;
  CHECK_NOTHROW(adapt_support_folder(*m, f, as_is, "model.h5"));
  // A model that does not record its preparation needs the flag.
  ModelConfig c = m->config();
  c.input = {};
  auto unknown = make_method(c);
  const std::string need = message_of([&] { adapt_support_folder(*unknown, f, {}, "old.h5"); });
  CHECK(contains(need, "old.h5"));
  CHECK(contains(need, "--invert"));
  CHECK(contains(need, "--no-invert"));
}

TEST_CASE("bad support folders: one-line errors naming the file or folder") {
  auto error_of = [](const std::function<void(const std::string&)>& make, bool any_size = false) {
    TempDir dir;
    make(dir.path);
    std::string msg = message_of([&] { read_support_folder(dir.path, any_size); });
    if (msg.find('\n') != std::string::npos) msg = "MORE THAN ONE LINE: " + msg;
    return std::make_pair(dir.path, msg);
  };
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}});
      fs::create_directories(r + "/c");
    });
    CHECK(contains(msg, root + "/c: empty class folder"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) { write_tree(r, {{"a", "1.png"}}); });
    CHECK(contains(msg, root + ": only one class folder (a)"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}});
      write_tree(r, {{"b", "2.png"}, {"a", "2.png"}}, 9);
    });
    CHECK(contains(msg, "images of different sizes"));
    CHECK(contains(msg, root + "/a/1.png is 8x8"));
    CHECK(contains(msg, root + "/a/2.png is 9x9"));
    CHECK(contains(msg, "--any-size"));
  }
  {
    TempDir dir;
    write_tree(dir.path, {{"a", "1.png"}, {"b", "1.png"}});
    write_tree(dir.path, {{"b", "2.png"}, {"a", "2.png"}}, 9);
    const SupportFolder f = read_support_folder(dir.path, true);  // --any-size
    CHECK(f.images.size() == 4);
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}});
      fsh::test::write_file(r + "/b/notes.txt", {'h', 'i'});
    });
    CHECK(contains(msg, root + "/b/notes.txt: not a PNG or JPEG image"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}});
      fsh::test::write_file(r + "/b/2.png", {'n', 'o', 't'});
      write_tree(r, {{"a", "2.png"}});
    });
    CHECK(contains(msg, root + "/b/2.png: not a PNG or JPEG"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}, {"b", "2.png"}});
    });
    CHECK(contains(msg, "different numbers of images (a: 1, b: 2)"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"b", "1.png"}, {".", "stray.png"}});
    });
    CHECK(contains(msg, "images directly in the root folder"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"g/b", "1.png"}});
    });
    CHECK(contains(msg, "class folders at different depths"));
  }
  {
    auto [root, msg] = error_of([](const std::string& r) {
      write_tree(r, {{"a", "1.png"}, {"a/sub", "1.png"}, {"b", "1.png"}});
    });
    CHECK(contains(msg, root + "/a: holds both images and folders"));
  }
  {
    auto [root, msg] = error_of([](const std::string&) {});
    CHECK(contains(msg, root + ": no images"));
  }
  CHECK(contains(message_of([] { read_support_folder("/nonexistent/fsh-support"); }),
                 "/nonexistent/fsh-support: no such file or directory"));
  // Hidden entries are skipped; depth-2 trees name classes group/class.
  TempDir ok;
  write_tree(ok.path,
             {{"g1/a", "1.png"}, {"g2/b", "1.png"}, {"g2/b", ".hidden.png"}, {".git", "x.png"}});
  fsh::test::write_file(ok.path + "/.DS_Store", {'x'});
  const SupportFolder f = read_support_folder(ok.path);
  CHECK(f.class_names == std::vector<std::string>{"g1/a", "g2/b"});
  CHECK(f.k_shot == 1);
}

TEST_CASE("probabilities: the softmax of an independent double-precision forward, image by image") {
  Dataset d = glyphs(1);
  auto m = protonet(d);
  const EpisodeSet es = episodes_of(d);
  const AdaptedSet all = adapt_episodes(*m, es);
  const EpisodeImages ep = es.images(1);
  const int64_t n = ep.n_way * ep.n_query;
  std::vector<int32_t> predicted;
  const auto probs = class_probabilities(all, 1, ep.query, n, &predicted);
  REQUIRE(probs.size() == std::size_t(n));
  // The same classifier in double precision (its float values exactly), softmax in long double.
  const AdaptedClassifier a = all.episode(1);
  const std::vector<double> primary(a.primary.begin(), a.primary.end());
  const Conv4Config& cfg = all.model.backbone;
  const std::size_t per = 28 * 28;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> x(per);
    for (std::size_t p = 0; p < per; ++p) x[p] = ep.query[i * per + p] / 255.0;
    const std::vector<double> logits = primary_forward<double>(cfg, 3, primary.data(), x.data(), 1);
    long double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (double l : logits) sum += std::exp((long double)l - top);
    double total = 0;
    for (int c = 0; c < 3; ++c) {
      const double ref = double(std::exp((long double)logits[c] - top) / sum);
      CHECK(probs[i][c] == doctest::Approx(ref).epsilon(1e-5));
      total += probs[i][c];
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(predicted[i] == std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin());
  }
  // An image's result does not depend on the others given with it.
  const std::vector<uint8_t> last(ep.query.end() - per, ep.query.end());
  const auto alone = class_probabilities(all, 1, last, 1, nullptr);
  CHECK(alone[0] == probs.back());
  // The predictions are fsh-eval's for these queries.
  const Evaluation ev = evaluate_adapted(all, es, true, "all");
  int64_t q = 0;
  for (const QueryPrediction& p : ev.predictions)
    if (p.episode == 1) CHECK(p.predicted == predicted[q++]);
  CHECK(q == n);
}

TEST_CASE("preparing a file gives the bytes the folder importer stores") {
  TempDir dir;
  // A 42x56 RGB PNG with a gradient, a 28x28 gray JPEG and a 30x30 gray PNG, in two classes.
  std::vector<uint8_t> rgb(42 * 56 * 3), gray(28 * 28), odd(30 * 30);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t((i * 7) % 251);
  for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t((i * 13) % 256);
  for (std::size_t i = 0; i < odd.size(); ++i) odd[i] = uint8_t(255 - (i % 200));
  fs::create_directories(dir.path + "/a");
  fs::create_directories(dir.path + "/b");
  fsh::test::write_file(dir.path + "/a/1.png", fsh::test::write_png8(56, 42, 3, rgb));
  fsh::test::write_file(dir.path + "/a/2.jpg", fsh::test::write_jpeg(28, 28, 1, gray));
  fsh::test::write_file(dir.path + "/b/1.png", fsh::test::write_png8(30, 30, 1, odd));
  // Columns alternating 0, 1 at twice the output size: every output pixel averages 0.5 exactly,
  // where rounding half up tells "invert, then resize" (255 - 0.5 -> 255) from the other order
  // (255 - 1 = 254).
  std::vector<uint8_t> halfs(40 * 48);
  for (std::size_t i = 0; i < halfs.size(); ++i) halfs[i] = uint8_t(i % 2);
  fsh::test::write_file(dir.path + "/b/2.png", fsh::test::write_png8(48, 40, 1, halfs));
  const std::vector<std::string> files = {"/a/1.png", "/a/2.jpg", "/b/1.png", "/b/2.png"};
  for (int64_t channels : {1, 3})
    for (bool inv : {false, true}) {
      CAPTURE(channels);
      CAPTURE(inv);
      ImportOptions io;
      io.height = 20;
      io.width = 24;
      io.channels = channels;
      io.invert = inv;
      io.threads = 1;
      const Dataset d = import_folder(dir.path, io);
      CHECK(d.preparation.known);
      CHECK(d.preparation.inverted == inv);
      for (std::size_t i = 0; i < files.size(); ++i) {
        const Image img =
            prepare_image(read_image_file(dir.path + files[i]), {20, 24, channels, inv});
        CHECK(std::equal(img.pixels.begin(), img.pixels.end(), d.image(int64_t(i))));
      }
    }
  CHECK(list_image_files(dir.path) ==
        std::vector<std::string>{dir.path + "/a/1.png", dir.path + "/a/2.jpg",
                                 dir.path + "/b/1.png", dir.path + "/b/2.png"});
  CHECK(contains(message_of([] { read_image_file("/nonexistent/x.png"); }),
                 "/nonexistent/x.png: no such file"));
}

TEST_CASE("polarity: hand-checked cases of the mismatch rule, and the mean brightness") {
  CHECK(mean_brightness({0, 255, 255, 0}) == doctest::Approx(0.5));
  CHECK(mean_brightness({51}) == doctest::Approx(0.2));
  CHECK(mean_brightness({}) == -1);
  CHECK(polarity_mismatch(0.9, 0.1));    // |0.8| > 0.3, inverted |0.0| closer
  CHECK(polarity_mismatch(0.1, 0.88));   // the other way round
  CHECK(!polarity_mismatch(0.12, 0.1));  // same polarity
  CHECK(!polarity_mismatch(0.45, 0.1));  // 0.35 apart, but inverted (0.55 - 0.1) is farther
  CHECK(!polarity_mismatch(0.6, 0.4));   // natural images near the middle: never
  CHECK(!polarity_mismatch(0.9, -1));    // unknown reference
}

TEST_CASE("export: a dataset's class folders import back to the same dataset") {
  Dataset d = glyphs(1);  // classes "alphabetGG/glyphCC": two folder levels
  TempDir dir;
  const std::string out = dir.file("glyphs");
  export_dataset(d, out);
  CHECK(fs::exists(out + "/alphabet00/glyph00/0.png"));
  ImportOptions io;
  io.threads = 1;
  const Dataset back = import_folder(out, io);
  CHECK(back.images == d.images);
  CHECK(back.labels == d.labels);
  CHECK(back.class_names == d.class_names);
  CHECK(back.group_names == d.group_names);
  CHECK(back.class_group == d.class_group);
  // A dataset whose files were inverted on import is written inverted back, so that importing
  // with --invert gives it again; --as-stored writes the stored values.
  d.preparation = {true, true, "area"};
  export_dataset(d, dir.file("inv"));
  export_dataset(d, dir.file("stored"), true);
  const Image first = read_image_file(dir.file("inv") + "/alphabet00/glyph00/0.png");
  for (std::size_t p = 0; p < first.pixels.size(); ++p)
    REQUIRE(first.pixels[p] == 255 - d.images[p]);
  io.invert = true;
  CHECK(import_folder(dir.file("inv"), io).images == d.images);
  io.invert = false;
  CHECK(import_folder(dir.file("stored"), io).images == d.images);
  // Names that are not one "group/class" level each become '_'-joined folders.
  Dataset flat = d;
  flat.class_names[0] = "x/y/z";
  export_dataset(flat, dir.file("flat"));
  CHECK(fs::exists(dir.file("flat") + "/x_y_z/0.png"));
  CHECK(fs::exists(dir.file("flat") + "/alphabet00_glyph01/0.png"));
  // Refused: a name that cannot be a folder, an existing non-empty folder; nothing left behind.
  Dataset bad = d;
  bad.class_names[3] = "alphabet00/.hidden";
  CHECK(contains(message_of([&] { export_dataset(bad, dir.file("bad")); }), ".hidden"));
  CHECK(!fs::exists(dir.file("bad")));
  CHECK(contains(message_of([&] { export_dataset(d, out); }), "not an empty folder"));
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  // An episode: support/ and query/ in episode class order.
  const EpisodeSet es = episodes_of(glyphs(1));
  const EpisodeImages ep = es.images(2);
  std::vector<std::string> names;
  for (int c = 0; c < 3; ++c) names.push_back(es.episodes.class_names[es.episodes.classes[6 + c]]);
  export_episode(ep, names, {}, dir.file("ep"));
  const SupportFolder f = read_support_folder(dir.file("ep") + "/support");
  REQUIRE(f.class_names.size() == 3);
  for (int c = 0; c < 3; ++c) {
    std::string expected = std::to_string(c) + "-" + names[c];
    std::replace(expected.begin(), expected.end(), '/', '_');
    CHECK(f.class_names[c] == expected);
  }
  CHECK(list_image_files(dir.file("ep") + "/query").size() == 6);
}

TEST_CASE("adapted files carry class names and the source size; files without them read") {
  Dataset d = glyphs(1);
  auto m = protonet(d);
  const EpisodeSet es = episodes_of(d);
  AdaptedSet s = adapt_episodes(*m, es);  // the episodes have class names
  REQUIRE(s.class_names.size() == 9);
  CHECK(s.class_names[4] == d.class_names[es.episodes.classes[4]]);
  CHECK(s.episode_class_names(1) ==
        std::vector<std::string>{s.class_names[3], s.class_names[4], s.class_names[5]});
  s.source_height = 105;
  s.source_width = 90;
  TempDir dir;
  write_adapted(s, dir.file("a.h5"), {});
  const AdaptedSet r = read_adapted(dir.file("a.h5"));
  CHECK(r.class_names == s.class_names);
  CHECK(r.source_height == 105);
  CHECK(r.source_width == 90);
  CHECK(r.model.input.known == d.preparation.known);
  CHECK(r.model.input.resize == "none");
  CHECK(r.model.input_mean == s.model.input_mean);
  s.class_names.clear();
  s.source_height = s.source_width = 0;
  s.model.input = {};
  s.model.input_mean = -1;
  write_adapted(s, dir.file("b.h5"), {});
  const AdaptedSet plain = read_adapted(dir.file("b.h5"));
  CHECK(plain.class_names.empty());
  CHECK(plain.source_height == 0);
  CHECK(!plain.model.input.known);
  CHECK(plain.episode_class_names(0) == std::vector<std::string>{"0", "1", "2"});
  s.class_names = {"only", "two"};
  CHECK_THROWS_AS(write_adapted(s, dir.file("c.h5"), {}), shape_error);
}

TEST_CASE("datasets and models record how the images were made") {
  TempDir dir;
  Dataset d = glyphs(1);
  CHECK(d.preparation.known);
  CHECK(!d.preparation.inverted);
  CHECK(d.preparation.resize == "none");
  d.preparation = {true, true, "area"};
  write_dataset(d, dir.file("d.h5"), {});
  const Dataset r = read_dataset(dir.file("d.h5"));
  CHECK(r.preparation.known);
  CHECK(r.preparation.inverted);
  CHECK(r.preparation.resize == "area");
  SplitOptions so;
  CHECK(split_dataset(r, so, "d").preparation.inverted);
  Dataset unknown = d;
  unknown.preparation = {};
  write_dataset(unknown, dir.file("u.h5"), {});
  CHECK(!read_dataset(dir.file("u.h5")).preparation.known);

  // A run records its data's preparation and mean brightness; the model file keeps them.
  TrainingData data;
  data.dataset = r;
  data.fingerprint = dataset_fingerprint(r);
  TrainConfig t;
  t.n_way = 3;
  t.val_every = 0;
  ModelConfig mc;
  mc.backbone.hidden = 8;
  const Checkpoint ck = start_run(mc, t, "d.h5", data);
  CHECK(ck.model.input.known);
  CHECK(ck.model.input.inverted);
  uint64_t sum = 0;
  for (uint8_t v : r.images) sum += v;
  CHECK(ck.model.input_mean == doctest::Approx(double(sum) / (255.0 * r.images.size())));
  auto m = load_method(ck, "ck");
  write_checkpoint(ck, m->params().layout(), dir.file("m.h5"), {});
  const Checkpoint back = read_checkpoint(dir.file("m.h5"));
  CHECK(back.model.input.known);
  CHECK(back.model.input.inverted);
  CHECK(back.model.input.resize == "area");
  CHECK(back.model.input_mean == ck.model.input_mean);
  Checkpoint old = ck;
  old.model.input = {};
  old.model.input_mean = -1;
  write_checkpoint(old, m->params().layout(), dir.file("old.h5"), {});
  const Checkpoint o = read_checkpoint(dir.file("old.h5"));
  CHECK(!o.model.input.known);
  CHECK(o.model.input_mean == -1);
}
