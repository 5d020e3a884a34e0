// Class-level splits and rotation augmentation (see split.hpp).
#include "data/split.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>

#include "util/error.hpp"
#include "util/rng.hpp"

namespace fsh {

Part parse_part(const std::string& s) {
  if (s == "train" || s == "trainval") return Part::train;
  if (s == "val") return Part::val;
  if (s == "test") return Part::test;
  throw usage_error("unknown part \"" + s + "\" (expected train, trainval, val or test)");
}

const char* part_name(Part p) {
  switch (p) {
    case Part::train:
      return "train";
    case Part::val:
      return "val";
    case Part::test:
      return "test";
    default:
      return "none";
  }
}

ClassList read_class_list(const std::string& path, Part part) {
  std::ifstream in(path);
  if (!in) throw io_error(path + ": cannot open class list");
  ClassList l;
  l.part = part;
  l.source = path;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    line = start == std::string::npos ? "" : line.substr(start);
    // Blank lines and comments are kept as "" so that line numbers in messages stay right.
    l.lines.push_back(line.empty() || line[0] == '#' ? "" : line);
  }
  return l;
}

void rotate_image(const uint8_t* src, uint8_t* dst, int64_t h, int64_t w, int64_t c,
                  int quarter_turns) {
  const int q = ((quarter_turns % 4) + 4) % 4;
  // dst(r, col) = src(sr, sc) with the source pixel of a counter-clockwise rotation.
  const int64_t oh = q % 2 ? w : h, ow = q % 2 ? h : w;
  for (int64_t r = 0; r < oh; ++r)
    for (int64_t col = 0; col < ow; ++col) {
      int64_t sr, sc;
      switch (q) {
        case 0:
          sr = r;
          sc = col;
          break;
        case 1:
          sr = col;
          sc = w - 1 - r;
          break;
        case 2:
          sr = h - 1 - r;
          sc = w - 1 - col;
          break;
        default:
          sr = h - 1 - col;
          sc = r;
          break;
      }
      for (int64_t k = 0; k < c; ++k) dst[(r * ow + col) * c + k] = src[(sr * w + sc) * c + k];
    }
}

namespace {

// One output class: source class, rotation (quarter turns), part, name.
struct Target {
  int32_t source;
  int turns;
  Part part;
  std::string name;
};

std::string rot_suffix(int turns) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "/rot%03d", turns * 90);
  return buf;
}

std::vector<Target> targets_from_lists(const Dataset& d, const SplitOptions& o,
                                       const std::string& where) {
  std::map<std::string, int32_t> index;
  for (int64_t c = 0; c < d.n_classes(); ++c)
    index.emplace(d.class_names[c], static_cast<int32_t>(c));
  std::vector<Target> out;
  std::map<std::pair<int32_t, int>, std::string> seen;  // (class, turns) -> "file:line"
  for (const ClassList& l : o.lists) {
    for (std::size_t i = 0; i < l.lines.size(); ++i) {
      const std::string& line = l.lines[i];
      if (line.empty()) continue;
      const std::string at = l.source + ":" + std::to_string(i + 1);
      std::vector<std::pair<int32_t, int>> picks;
      auto exact = index.find(line);
      if (exact != index.end()) {
        for (int t = 0; t < o.rotations; ++t)
          picks.emplace_back(exact->second, t * 4 / o.rotations);
      } else {
        const std::size_t slash = line.rfind('/');
        const std::string tail = slash == std::string::npos ? "" : line.substr(slash + 1);
        int deg = -1;
        if (tail.size() == 6 && tail.compare(0, 3, "rot") == 0 &&
            std::all_of(tail.begin() + 3, tail.end(), ::isdigit))
          deg = std::stoi(tail.substr(3));
        auto base = deg >= 0 ? index.find(line.substr(0, slash)) : index.end();
        if (deg >= 0 && deg % 90 != 0)
          throw usage_error(at + ": rotation " + tail + " is not a multiple of 90 degrees");
        if (base == index.end())
          throw usage_error(at + ": class \"" + line + "\" is not in " + where +
                            " (expected a class name, or a class name + /rot000, /rot090, " +
                            "/rot180 or /rot270)");
        picks.emplace_back(base->second, (deg / 90) % 4);
      }
      for (auto [c, turns] : picks) {
        auto [it, fresh] = seen.emplace(std::make_pair(c, turns), at);
        if (!fresh)
          throw usage_error(at + ": class \"" + line + "\" was already listed at " + it->second);
        const bool named_rotation = exact == index.end() || o.rotations > 1;
        out.push_back(
            {c, turns, l.part, d.class_names[c] + (named_rotation ? rot_suffix(turns) : "")});
      }
    }
  }
  return out;
}

std::vector<Target> targets_from_fractions(const Dataset& d, const SplitOptions& o) {
  // Units are groups or classes; a seeded shuffle then fills train, val, test in order.
  const bool by_group = o.by == SplitBy::group;
  const int64_t n_units = by_group ? static_cast<int64_t>(d.group_names.size()) : d.n_classes();
  std::vector<int64_t> order(static_cast<std::size_t>(n_units));
  std::iota(order.begin(), order.end(), 0);
  // Only groups that hold classes count (an empty group would take a part's slot).
  if (by_group) {
    std::vector<bool> used(order.size(), false);
    for (int32_t g : d.class_group) used[g] = true;
    order.erase(std::remove_if(order.begin(), order.end(), [&](int64_t g) { return !used[g]; }),
                order.end());
  }
  Rng rng(o.seed);
  rng.shuffle(order);
  const auto n = static_cast<int64_t>(order.size());
  int64_t n_train = std::llround(o.fractions[0] * static_cast<double>(n));
  int64_t n_val = std::llround(o.fractions[1] * static_cast<double>(n));
  n_train = std::min(n_train, n);
  n_val = std::min(n_val, n - n_train);
  std::vector<Part> unit_part(static_cast<std::size_t>(n_units), Part::none);
  for (int64_t i = 0; i < n; ++i)
    unit_part[order[i]] = i < n_train ? Part::train : i < n_train + n_val ? Part::val : Part::test;
  std::vector<Target> out;
  for (int64_t c = 0; c < d.n_classes(); ++c) {
    const Part p = unit_part[by_group ? d.class_group[c] : c];
    for (int t = 0; t < o.rotations; ++t) {
      const int turns = t * 4 / o.rotations;
      out.push_back({static_cast<int32_t>(c), turns, p,
                     d.class_names[c] + (o.rotations > 1 ? rot_suffix(turns) : "")});
    }
  }
  return out;
}

}  // namespace

Dataset split_dataset(const Dataset& d, const SplitOptions& o, const std::string& where) {
  if (o.rotations != 1 && o.rotations != 4)
    throw usage_error("rotations must be 1 or 4, got " + std::to_string(o.rotations));
  if (o.lists.empty()) {
    double sum = 0;
    for (double f : o.fractions) {
      if (!(f >= 0 && f <= 1))
        throw usage_error("fractions must lie in [0, 1], got " + std::to_string(f));
      sum += f;
    }
    if (std::fabs(sum - 1) > 1e-6)
      throw usage_error("fractions must sum to 1 (train + val + test), got " + std::to_string(sum));
  }
  std::vector<Target> targets =
      o.lists.empty() ? targets_from_fractions(d, o) : targets_from_lists(d, o, where);
  std::stable_sort(targets.begin(), targets.end(), [](const Target& a, const Target& b) {
    return a.source != b.source ? a.source < b.source : a.turns < b.turns;
  });
  if (targets.empty()) throw usage_error(where + ": the split keeps no class");
  const bool odd_turns =
      std::any_of(targets.begin(), targets.end(), [](const Target& t) { return t.turns % 2; });
  if (odd_turns && d.height != d.width)
    throw usage_error(where + ": rotating by 90 or 270 degrees needs square images; these are " +
                      std::to_string(d.height) + "x" + std::to_string(d.width));

  std::vector<std::vector<int64_t>> members(static_cast<std::size_t>(d.n_classes()));
  for (int64_t i = 0; i < d.size(); ++i) members[d.labels[i]].push_back(i);

  Dataset out;
  out.height = d.height;
  out.width = d.width;
  out.channels = d.channels;
  out.group_names = d.group_names;
  out.preparation = d.preparation;
  int64_t total = 0;
  for (const Target& t : targets) total += static_cast<int64_t>(members[t.source].size());
  out.images.resize(static_cast<std::size_t>(total * d.image_size()));
  out.labels.reserve(static_cast<std::size_t>(total));
  if (!d.instance_names.empty()) out.instance_names.reserve(static_cast<std::size_t>(total));
  int64_t row = 0;
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const Target& t = targets[k];
    out.class_names.push_back(t.name);
    out.class_group.push_back(d.class_group[t.source]);
    out.class_part.push_back(t.part);
    for (int64_t i : members[t.source]) {
      rotate_image(d.image(i), out.image(row), d.height, d.width, d.channels, t.turns);
      out.labels.push_back(static_cast<int32_t>(k));
      if (!d.instance_names.empty()) out.instance_names.push_back(d.instance_names[i]);
      ++row;
    }
  }
  return out;
}

}  // namespace fsh
