// fsh-dataset / fsh-split reading and writing over the HDF5 layer (see dataset_io.hpp).
#include "io/dataset_io.hpp"

#include "data/fingerprint.hpp"
#include "util/error.hpp"

namespace fsh {

void validate_dataset(const Dataset& d, const std::string& where) {
  auto fail = [&](const std::string& msg) { throw format_error(where + ": " + msg); };
  if (d.height < 1 || d.width < 1 || d.channels < 1)
    fail("bad image size " + std::to_string(d.height) + "x" + std::to_string(d.width) + "x" +
         std::to_string(d.channels) + " (each extent must be >= 1)");
  if (static_cast<int64_t>(d.images.size()) != d.size() * d.image_size())
    fail("images hold " + std::to_string(d.images.size()) +
         " bytes; expected M*H*W*C = " + std::to_string(d.size() * d.image_size()));
  if (!d.instance_names.empty() && static_cast<int64_t>(d.instance_names.size()) != d.size())
    fail("instance_names has " + std::to_string(d.instance_names.size()) +
         " entries; expected one per image (" + std::to_string(d.size()) + ") or none");
  if (static_cast<int64_t>(d.class_group.size()) != d.n_classes())
    fail("class_group has " + std::to_string(d.class_group.size()) +
         " entries; expected one per class (" + std::to_string(d.n_classes()) + ")");
  if (!d.class_part.empty() && static_cast<int64_t>(d.class_part.size()) != d.n_classes())
    fail("class_part has " + std::to_string(d.class_part.size()) +
         " entries; expected one per class (" + std::to_string(d.n_classes()) + ")");
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.labels[i] < 0 || d.labels[i] >= d.n_classes())
      fail("label " + std::to_string(d.labels[i]) + " of image " + std::to_string(i) +
           " is outside [0, " + std::to_string(d.n_classes()) + ")");
  const auto n_groups = static_cast<int32_t>(d.group_names.size());
  for (int64_t c = 0; c < d.n_classes(); ++c)
    if (d.class_group[c] < 0 || d.class_group[c] >= n_groups)
      fail("class_group " + std::to_string(d.class_group[c]) + " of class " + d.class_names[c] +
           " is outside [0, " + std::to_string(n_groups) + ")");
  for (Part p : d.class_part) {
    const int v = static_cast<int>(p);
    if (v < -1 || v > 2) fail("class_part value " + std::to_string(v) + " is not -1, 0, 1 or 2");
  }
}

void write_dataset(const Dataset& d, const std::string& path, const Provenance& prov) {
  validate_dataset(d, path);
  const bool split = !d.class_part.empty();
  io::Writer w(path, split ? "fsh-split" : "fsh-dataset", dataset_format_version, prov);
  w.put("images", d.images, {d.size(), d.height, d.width, d.channels}, true);
  w.put("labels", d.labels, {d.size()}, true);
  w.put_strings("class_names", d.class_names);
  w.put("class_group", d.class_group, {d.n_classes()});
  w.put_strings("group_names", d.group_names);
  if (!d.instance_names.empty()) w.put_strings("instance_names", d.instance_names);
  if (split) {
    std::vector<int8_t> part(d.class_part.size());
    for (std::size_t c = 0; c < part.size(); ++c) part[c] = static_cast<int8_t>(d.class_part[c]);
    w.put("class_part", part, {d.n_classes()});
  }
  if (d.preparation.known) {
    w.attr("/", "images_inverted", int64_t(d.preparation.inverted ? 1 : 0));
    w.attr("/", "images_resize", d.preparation.resize);
  }
  w.attr("/", "fingerprint", dataset_fingerprint(d));
  w.commit();
}

Dataset read_dataset(const io::Reader& r, std::string* fingerprint) {
  Dataset d;
  io::Shape s;
  d.images = r.get_u8("images", {io::any, io::any, io::any, io::any}, &s);
  const int64_t m = s[0];
  d.height = s[1];
  d.width = s[2];
  d.channels = s[3];
  d.labels = r.get_i32("labels", {m});
  d.class_names = r.get_strings("class_names");
  const auto n = static_cast<int64_t>(d.class_names.size());
  d.class_group = r.get_i32("class_group", {n});
  d.group_names = r.get_strings("group_names");
  if (r.has("instance_names")) d.instance_names = r.get_strings("instance_names", m);
  if (r.format() == "fsh-split") {
    std::vector<int8_t> part = r.get_i8("class_part", {n});
    d.class_part.resize(part.size());
    for (std::size_t c = 0; c < part.size(); ++c) {
      if (part[c] < -1 || part[c] > 2)
        throw format_error(r.display() + ": class_part value " + std::to_string(part[c]) +
                           " of class " + d.class_names[c] + " is not -1, 0, 1 or 2");
      d.class_part[c] = static_cast<Part>(part[c]);
    }
  }
  validate_dataset(d, r.display());
  // How the images were made from files (optional; both attributes or neither).
  const bool inv = r.has_attr("/", "images_inverted"), rs = r.has_attr("/", "images_resize");
  if (inv != rs)
    throw format_error(r.display() + ": attribute " +
                       (inv ? "images_inverted without images_resize"
                            : "images_resize without images_inverted") +
                       " (give both or neither)");
  if (inv) {
    const int64_t v = r.attr_int("/", "images_inverted");
    d.preparation.resize = r.attr_string("/", "images_resize");
    if (v != 0 && v != 1)
      throw format_error(r.display() + ": attribute images_inverted is " + std::to_string(v) +
                         "; expected 0 or 1");
    if (d.preparation.resize != "area" && d.preparation.resize != "none")
      throw format_error(r.display() + ": attribute images_resize is \"" +
                         d.preparation.resize + "\"; expected area or none");
    d.preparation.known = true;
    d.preparation.inverted = v == 1;
  }
  const bool stored = r.has_attr("/", "fingerprint");
  const std::string recorded = stored ? r.attr_string("/", "fingerprint") : "";
  // A misspelled fingerprint ("9F3C...", 15 digits) is named as such, not as a hash mismatch.
  if (stored && !is_fingerprint_spelling(recorded))
    throw format_error(r.display() + ": fingerprint attribute \"" + recorded +
                       "\" is not 16 lowercase hex digits");
  if (stored || fingerprint) {
    const std::string actual = dataset_fingerprint(d);
    if (stored && recorded != actual)
      throw format_error(r.display() + ": fingerprint attribute is " + recorded +
                         " but the images and labels hash to " + actual +
                         " (file changed after writing?)");
    if (fingerprint) *fingerprint = actual;
  }
  return d;
}

Dataset read_dataset(const std::string& path, std::string* fingerprint) {
  io::Reader r(path);
  r.expect({"fsh-dataset", "fsh-split"}, dataset_format_version);
  return read_dataset(r, fingerprint);
}

Dataset read_dataset(const std::string& path) { return read_dataset(path, nullptr); }

}  // namespace fsh
