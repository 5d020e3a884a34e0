// Summaries of fsh files (see info.hpp).
#include "io/info.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "data/fingerprint.hpp"
#include "data/split.hpp"
#include "io/dataset_io.hpp"
#include "io/episodes_io.hpp"
#include "io/hdf5.hpp"
#include "util/error.hpp"

namespace fsh {
namespace {

// A minimal ordered JSON object builder (values are pre-rendered JSON).
class Json {
 public:
  static std::string str(const std::string& s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
      switch (ch) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          if (ch < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
          } else {
            out += static_cast<char>(ch);
          }
      }
    }
    return out + "\"";
  }
  template <class T>
  static std::string num(T v) {
    return std::to_string(v);
  }
  static std::string array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + "]";
  }
  static std::string shape(const io::Shape& s) {
    std::vector<std::string> v;
    for (int64_t e : s) v.push_back(num(e));
    return array(v);
  }
  void add(const std::string& key, const std::string& rendered) {
    fields_.emplace_back(key, rendered);
  }
  std::string render(int indent = 0) const {
    const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    std::string out = "{\n";
    for (std::size_t i = 0; i < fields_.size(); ++i)
      out += pad + str(fields_[i].first) + ": " + fields_[i].second +
             (i + 1 < fields_.size() ? ",\n" : "\n");
    return out + std::string(static_cast<std::size_t>(indent), ' ') + "}";
  }
  std::string compact() const {
    std::string out = "{";
    for (std::size_t i = 0; i < fields_.size(); ++i)
      out += (i ? ", " : "") + str(fields_[i].first) + ": " + fields_[i].second;
    return out + "}";
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

std::string dims(int64_t h, int64_t w, int64_t c) {
  return std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c);
}

void describe_dataset(const io::Reader& r, std::ostringstream& text, Json& json) {
  const Dataset d = read_dataset(r);
  std::vector<int64_t> per_class(static_cast<std::size_t>(d.n_classes()), 0);
  for (int32_t l : d.labels) ++per_class[l];
  const auto [lo, hi] =
      per_class.empty()
          ? std::pair<int64_t, int64_t>{0, 0}
          : std::pair<int64_t, int64_t>{*std::min_element(per_class.begin(), per_class.end()),
                                        *std::max_element(per_class.begin(), per_class.end())};
  const std::string fp = dataset_fingerprint(d);
  text << "  images       " << d.size() << " of " << dims(d.height, d.width, d.channels)
       << " (H x W x C, uint8)\n"
       << "  classes      " << d.n_classes() << " in " << d.group_names.size() << " groups, " << lo
       << (lo == hi ? "" : ".." + std::to_string(hi)) << " images per class\n";
  json.add("images", Json::num(d.size()));
  json.add("height", Json::num(d.height));
  json.add("width", Json::num(d.width));
  json.add("channels", Json::num(d.channels));
  json.add("classes", Json::num(d.n_classes()));
  json.add("groups", Json::num(d.group_names.size()));
  json.add("min_per_class", Json::num(lo));
  json.add("max_per_class", Json::num(hi));
  if (!d.class_part.empty()) {
    Json parts;
    text << "  parts       ";
    for (Part p : {Part::train, Part::val, Part::test, Part::none}) {
      int64_t classes = 0, images = 0;
      for (int64_t c = 0; c < d.n_classes(); ++c)
        if (d.class_part[c] == p) {
          ++classes;
          images += per_class[c];
        }
      if (p == Part::none && classes == 0) continue;
      text << " " << part_name(p) << " " << classes << " classes (" << images << " images);";
      Json one;
      one.add("classes", Json::num(classes));
      one.add("images", Json::num(images));
      parts.add(part_name(p), one.render(4));
    }
    text.seekp(-1, std::ios_base::cur);
    text << "\n";
    json.add("parts", parts.render(2));
  }
  if (d.n_classes() > 0)
    text << "  class names  " << d.class_names.front()
         << (d.n_classes() > 1 ? " ... " + d.class_names.back() : "") << "\n";
  if (d.preparation.known) {
    text << "  prepared     " << (d.preparation.inverted ? "files inverted" : "not inverted")
         << (d.preparation.resize == "area" ? ", resized by area averaging"
                                            : ", drawn at size (no files)")
         << "\n";
    json.add("inverted", d.preparation.inverted ? "true" : "false");
    json.add("resize", Json::str(d.preparation.resize));
  }
  text << "  fingerprint  " << fp << "\n";
  json.add("fingerprint", Json::str(fp));
}

void describe_episodes(const io::Reader& r, const std::string& dataset, std::ostringstream& text,
                       Json& json) {
  std::optional<Dataset> source;
  std::string source_fingerprint;
  if (!dataset.empty()) source = read_dataset(dataset, &source_fingerprint);
  const Episodes e = read_episodes(r, source ? &*source : nullptr,
                                   dataset == "-" ? "<stdin>" : dataset, source_fingerprint);
  std::set<int32_t> used(e.classes.begin(), e.classes.end());
  // A seed or part the file does not record is said so, not shown as a default value.
  const std::string part = e.part_recorded ? "part " + to_string(e.part) : "part (not recorded)";
  const std::string seed =
      e.seed_recorded ? "seed " + std::to_string(e.seed) : "seed (not recorded)";
  text << "  episodes     " << e.count() << " (numbers " << e.first << ".."
       << e.first + e.count() - 1 << "), " << e.n_way << "-way " << e.k_shot << "-shot, "
       << e.n_query << " queries per class\n"
       << "  drawn from   " << part << (e.within_group ? ", one group per episode" : "") << ", "
       << seed << ", " << used.size() << " distinct classes\n"
       << "  dataset      " << (e.dataset_path.empty() ? "(unknown path)" : e.dataset_path) << ", "
       << e.dataset_size << " images, fingerprint " << e.dataset_fingerprint << "\n";
  if (e.embedded())
    text << "  images       embedded: " << e.image_index.size() << " of "
         << dims(e.height, e.width, e.channels) << "\n";
  else
    text << "  images       not embedded (read from the dataset)\n";
  json.add("episodes", Json::num(e.count()));
  json.add("first", Json::num(e.first));
  json.add("n_way", Json::num(e.n_way));
  json.add("k_shot", Json::num(e.k_shot));
  json.add("n_query", Json::num(e.n_query));
  json.add("part", e.part_recorded ? Json::str(to_string(e.part)) : "null");
  json.add("within_group", e.within_group ? "true" : "false");
  json.add("seed", e.seed_recorded ? Json::num(e.seed) : "null");
  json.add("distinct_classes", Json::num(used.size()));
  json.add("dataset_path", Json::str(e.dataset_path));
  json.add("dataset_size", Json::num(e.dataset_size));
  json.add("dataset_fingerprint", Json::str(e.dataset_fingerprint));
  json.add("embedded_images", Json::num(e.image_index.size()));
  if (!dataset.empty()) {
    text << "  checked      against " << dataset << ": fingerprint, labels"
         << (e.within_group ? ", groups" : "") << (e.embedded() ? ", embedded images" : "")
         << " match\n";
    json.add("checked_against", Json::str(dataset));
  }
}

}  // namespace

std::string json_string(const std::string& s) { return Json::str(s); }

std::string file_info(const std::string& path, bool json_out, const std::string& dataset,
                      const InfoDescriber& more) {
  io::Reader r(path);
  std::ostringstream text;
  Json json;
  json.add("path", Json::str(path));
  json.add("format", Json::str(r.format()));
  json.add("version", Json::num(r.version()));
  if (r.format().empty())
    r.expect({"fsh-dataset", "fsh-split", "fsh-episodes", "fsh-model", "fsh-adapted", "fsh-eval"},
             1);
  text << r.display() << ": " << r.format() << " version " << r.version() << "\n";
  if (!dataset.empty() && r.format() != "fsh-episodes")
    throw usage_error("--dataset applies to fsh-episodes files; " + r.display() + " is " +
                      r.format());
  if (r.format() == "fsh-dataset" || r.format() == "fsh-split") {
    r.expect({r.format()}, dataset_format_version);
    describe_dataset(r, text, json);
  } else if (r.format() == "fsh-episodes") {
    r.expect({r.format()}, episodes_format_version);
    describe_episodes(r, dataset, text, json);
  } else if (more) {
    for (const InfoLine& line : more(r)) {
      std::string label = line.label;
      if (label.size() < 12) label.resize(12, ' ');
      if (!line.text.empty()) text << "  " << label << " " << line.text << "\n";
      if (!line.key.empty()) json.add(line.key, line.json);
    }
  }
  const Provenance p = r.provenance();
  if (!p.tool.empty())
    text << "  made by      " << p.tool << " " << p.version << ", seed " << p.seed << "\n";
  if (!p.command_line.empty()) text << "  command      " << p.command_line << "\n";
  for (const std::string& in : p.inputs) text << "  input        " << in << "\n";
  Json prov;
  prov.add("tool", Json::str(p.tool));
  prov.add("version", Json::str(p.version));
  prov.add("command_line", Json::str(p.command_line));
  prov.add("seed", Json::num(p.seed));
  std::vector<std::string> inputs;
  for (const std::string& in : p.inputs) inputs.push_back(Json::str(in));
  prov.add("inputs", Json::array(inputs));
  json.add("provenance", prov.render(2));
  std::vector<std::string> arrays;
  text << "  arrays:\n";
  for (const auto& entry : r.list()) {
    text << "    " << entry.name << " " << io::shape_string(entry.shape) << " " << entry.type
         << "\n";
    Json a;
    a.add("name", Json::str(entry.name));
    a.add("shape", Json::shape(entry.shape));
    a.add("type", Json::str(entry.type));
    arrays.push_back(a.compact());
  }
  json.add("arrays", Json::array(arrays));
  return json_out ? json.render() + "\n" : text.str();
}

}  // namespace fsh
