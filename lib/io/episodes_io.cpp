// fsh-episodes reading and writing over the HDF5 layer (see episodes_io.hpp).
#include "io/episodes_io.hpp"

#include <filesystem>
#include <limits>

#include "data/fingerprint.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"

namespace fsh {

void write_episodes(const Episodes& e, const std::string& path, const Provenance& prov) {
  validate_episodes(e, path);
  io::Writer w(path, "fsh-episodes", episodes_format_version, prov);
  w.attr("/", "n_way", e.n_way);
  w.attr("/", "k_shot", e.k_shot);
  w.attr("/", "n_query", e.n_query);
  w.attr("/", "first", e.first);
  if (e.seed_recorded) w.attr("/", "seed", e.seed);
  if (e.part_recorded) w.attr("/", "part", to_string(e.part));
  // Written only when set, so that files drawn across groups keep their bytes from before the
  // attribute existed; readers take its absence for 0.
  if (e.within_group) w.attr("/", "within_group", int64_t{1});
  w.attr("/", "dataset_fingerprint", e.dataset_fingerprint);
  w.attr("/", "dataset_size", e.dataset_size);
  w.attr("/", "dataset_path", e.dataset_path);
  const int64_t n = e.count();
  w.attr("/", "count", n);
  w.put("support", e.support, {n, e.support_size()}, true);
  w.put("query", e.query, {n, e.query_size()}, true);
  w.put("classes", e.classes, {n, e.n_way}, true);
  if (!e.class_names.empty()) w.put_strings("class_names", e.class_names);
  if (e.embedded()) {
    const auto u = static_cast<int64_t>(e.image_index.size());
    w.put("embedded/images", e.images, {u, e.height, e.width, e.channels}, true);
    w.put("embedded/index", e.image_index, {u}, true);
    w.attr("embedded", "fingerprint", embedded_fingerprint(e));
  }
  w.commit();
}

namespace {

// The file's fields, with the checks that need the file (attribute values, shapes, spelling,
// the embedded fingerprint) but not validate_episodes: the caller decides whether a dataset
// is checked first.
Episodes read_fields(const io::Reader& r) {
  auto fail = [&](const std::string& msg) { throw format_error(r.display() + ": " + msg); };
  Episodes e;
  e.n_way = r.attr_int("/", "n_way");
  e.k_shot = r.attr_int("/", "k_shot");
  e.n_query = r.attr_int("/", "n_query");
  e.first = r.has_attr("/", "first") ? r.attr_int("/", "first") : 0;
  e.seed_recorded = r.has_attr("/", "seed");
  e.seed = e.seed_recorded ? r.attr_uint("/", "seed") : 0;
  e.part_recorded = r.has_attr("/", "part");
  e.part = PartChoice::all;
  if (e.part_recorded) {
    const std::string p = r.attr_string("/", "part");
    try {
      e.part = parse_part_choice(p);
    } catch (const usage_error&) {
      fail("attribute part is \"" + p + "\"; expected train, val, test or all");
    }
  }
  if (r.has_attr("/", "within_group")) {
    const int64_t w = r.attr_int("/", "within_group");
    if (w != 0 && w != 1)
      fail("attribute within_group is " + std::to_string(w) + "; expected 0 or 1");
    e.within_group = w == 1;
  }
  e.dataset_fingerprint = r.attr_string("/", "dataset_fingerprint");
  if (!is_fingerprint_spelling(e.dataset_fingerprint))
    fail("attribute dataset_fingerprint \"" + e.dataset_fingerprint +
         "\" is not 16 lowercase hex digits");
  e.dataset_size = r.attr_int("/", "dataset_size");
  if (r.has_attr("/", "dataset_path")) e.dataset_path = r.attr_string("/", "dataset_path");
  if (e.n_way < 1 || e.k_shot < 1 || e.n_query < 0)
    fail("bad episode shape n_way=" + std::to_string(e.n_way) +
         " k_shot=" + std::to_string(e.k_shot) + " n_query=" + std::to_string(e.n_query) +
         " (need n_way >= 1, k_shot >= 1, n_query >= 0)");
  // An episode's N(K+Q) images are distinct int32 dataset indices, so no more than 2^31 of them
  // (checked before anything multiplies these numbers).
  constexpr int64_t most = std::numeric_limits<int32_t>::max();
  if (e.n_way > most || e.k_shot > most || e.n_query > most ||
      e.n_way * (e.k_shot + e.n_query) > most)
    fail("episode shape n_way=" + std::to_string(e.n_way) + " k_shot=" + std::to_string(e.k_shot) +
         " n_query=" + std::to_string(e.n_query) +
         " holds more images than an int32-indexed dataset can (2^31 - 1)");
  io::Shape s;
  e.classes = r.get_i32("classes", {io::any, e.n_way}, &s);
  const int64_t n = s[0];
  if (r.has_attr("/", "count") && r.attr_int("/", "count") != n)
    fail("attribute count is " + std::to_string(r.attr_int("/", "count")) + " but /classes holds " +
         std::to_string(n) + " episodes");
  e.support = r.get_i32("support", {n, e.support_size()});
  e.query = r.get_i32("query", {n, e.query_size()});
  if (r.has("class_names")) e.class_names = r.get_strings("class_names");
  if (r.has("embedded/images") || r.has("embedded/index")) {
    e.images = r.get_u8("embedded/images", {io::any, io::any, io::any, io::any}, &s);
    e.height = s[1];
    e.width = s[2];
    e.channels = s[3];
    e.image_index = r.get_i32("embedded/index", {s[0]});
    // The copy is tied to itself by its fingerprint (an edit after writing is caught); to the
    // dataset only by check_source, when the dataset is at hand.
    if (r.has_attr("embedded", "fingerprint")) {
      const std::string recorded = r.attr_string("embedded", "fingerprint");
      if (!is_fingerprint_spelling(recorded))
        fail("attribute fingerprint of /embedded \"" + recorded +
             "\" is not 16 lowercase hex digits");
      const std::string actual = embedded_fingerprint(e);
      if (recorded != actual)
        fail("the embedded images hash to " + actual + " but /embedded records fingerprint " +
             recorded + " (changed after writing?)");
    }
  }
  return e;
}

}  // namespace

Episodes read_episodes(const io::Reader& r, const Dataset* source, const std::string& source_where,
                       const std::string& source_fingerprint) {
  Episodes e = read_fields(r);
  if (source)
    check_source(e, r.display(), *source, source_where, source_fingerprint);
  else
    validate_episodes(e, r.display());
  return e;
}

Episodes read_episodes(const std::string& path) {
  io::Reader r(path);
  r.expect({"fsh-episodes"}, episodes_format_version);
  return read_episodes(r);
}

EpisodeSet open_episodes(const std::string& episodes_path, const std::string& dataset_path) {
  namespace fs = std::filesystem;
  io::Reader r(episodes_path);
  r.expect({"fsh-episodes"}, episodes_format_version);
  const bool embedded = r.has("embedded/images") || r.has("embedded/index");
  const std::string recorded_path =
      r.has_attr("/", "dataset_path") ? r.attr_string("/", "dataset_path") : "";
  std::string data = dataset_path;
  if (data.empty() && !embedded && !recorded_path.empty() && recorded_path != "-" &&
      recorded_path != "<stdin>") {
    const fs::path recorded(recorded_path);
    const fs::path beside = fs::path(episodes_path).parent_path() / recorded;
    if (fs::exists(recorded))
      data = recorded.string();
    else if (recorded.is_relative() && fs::exists(beside))
      data = beside.string();
  }
  EpisodeSet set;
  if (data.empty()) {
    set.episodes = read_episodes(r);
    if (!set.episodes.embedded())
      throw io_error(r.display() + ": the images are not embedded and the source dataset \"" +
                     recorded_path + "\" was not found; give the dataset file (or sample " +
                     "with --embed)");
    set.source = episodes_path + " (embedded images)";
    return set;
  }
  std::string fingerprint;
  set.dataset = read_dataset(data, &fingerprint);
  set.episodes = read_episodes(r, &*set.dataset, data == "-" ? "<stdin>" : data, fingerprint);
  set.source = data;
  return set;
}

}  // namespace fsh
