// The fsh-adapted format (man 5 fsh-adapted): compact storage of per-episode classifiers.
#include "methods/adapted.hpp"

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

#include "data/fingerprint.hpp"
#include "methods/checkpoint.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {
std::string blk(const char* kind, int i, const char* what) {
  return std::string(kind) + std::to_string(i) + "." + what;
}

// The attributes of /episodes that make a set partial (man 5 fsh-adapted, SHARDS).
const char* const shard_attrs[] = {"shard_index", "shard_count",          "shard_begin",
                                   "total_count", "episodes_fingerprint", "model_fingerprint"};

// Throws unless p describes shard p.shard of p.total episodes holding `count` of them from
// p.begin (the rule of util/shard.hpp), with fingerprints spelled as such.
void check_shard(const AdaptedShard& p, int64_t count, const std::string& where) {
  if (p.shard.count < 1 || p.shard.count > max_shard_count)
    throw format_error(where + ": shard_count is " + std::to_string(p.shard.count) +
                       "; expected 1 to " + std::to_string(max_shard_count));
  if (p.shard.index < 0 || p.shard.index >= p.shard.count)
    throw format_error(where + ": shard_index is " + std::to_string(p.shard.index) +
                       "; expected 0 to " + std::to_string(p.shard.count - 1) +
                       " (shard_count " + std::to_string(p.shard.count) + ")");
  if (p.total < 0)
    throw format_error(where + ": total_count is " + std::to_string(p.total) + "; expected >= 0");
  const EpisodeRange want = shard_range(p.shard, p.total);
  if (want.begin != p.begin || want.size() != count)
    throw format_error(where + ": shard " + to_string(p.shard) + " of " +
                       std::to_string(p.total) + " episodes holds " +
                       describe_range(want, p.total) + ", but the set holds " +
                       std::to_string(count) + " from shard_begin " + std::to_string(p.begin));
  for (const std::string* fp : {&p.episodes_fingerprint, &p.model_fingerprint})
    if (!is_fingerprint_spelling(*fp))
      throw format_error(where + ": " +
                         (fp == &p.episodes_fingerprint ? "episodes" : "model") +
                         "_fingerprint '" + *fp + "' is not 16 lowercase hex digits");
}

void hash_floats(Fnv1a64& h, const std::vector<float>& v) {
  // As little-endian IEEE bits, whatever the host: the same set has the same fingerprint on
  // every machine of a cluster.
  std::vector<uint8_t> b(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + k] = static_cast<uint8_t>(u >> (8 * k));
  }
  h.update_i64(static_cast<int64_t>(v.size()));
  h.update(b.data(), b.size());
}

void hash_string(Fnv1a64& h, const std::string& s) {
  h.update_i64(static_cast<int64_t>(s.size()));
  h.update(s.data(), s.size());
}
}  // namespace

int64_t AdaptedSet::count() const {
  return n_way > 0 ? static_cast<int64_t>(head_bias.size()) / n_way : 0;
}

void AdaptedSet::add(const AdaptedClassifier& a) {
  const Conv4Config& cfg = model.backbone;
  if (a.n_way != n_way)
    throw shape_error("adapted classifier is " + std::to_string(a.n_way) + "-way; the set is " +
                      std::to_string(n_way) + "-way");
  const ParamLayout layout = PrimaryNet<float>::layout(cfg, n_way);
  const std::size_t conv_size = conv_layout(cfg).size();
  const std::size_t DK = std::size_t(cfg.depth) * cfg.hidden;
  if (a.primary.size() != layout.size() || a.fold_scale.size() != DK ||
      a.fold_shift.size() != DK || (!a.convs.empty() && a.convs.size() != conv_size))
    throw shape_error("adapted classifier does not have the shape of this set's primary network");
  if (base.size() != conv_size)
    throw shape_error("adapted set: base convolutions have " + std::to_string(base.size()) +
                      " values, expected " + std::to_string(conv_size));
  // The classifier must be exactly what the format reconstructs.
  const std::vector<float>& src = a.convs.empty() ? base : a.convs;
  std::vector<float> rebuilt(conv_size);
  fold_convs(cfg, src.data(), a.fold_scale.data(), a.fold_shift.data(), rebuilt.data());
  if (std::memcmp(rebuilt.data(), a.primary.data(), conv_size * sizeof(float)) != 0)
    throw usage_error(
        "adapted classifier's convolutions are not " +
        std::string(a.convs.empty() ? "the base convolutions" : "its own convolutions") +
        " folded with its scale and shift: the fsh-adapted format cannot represent it");
  const int64_t E = count();
  if (!a.convs.empty() && convs.empty() && E > 0)
    for (int64_t e = 0; e < E; ++e) convs.insert(convs.end(), base.begin(), base.end());
  if (!a.convs.empty() || !convs.empty()) convs.insert(convs.end(), src.begin(), src.end());
  scale.insert(scale.end(), a.fold_scale.begin(), a.fold_scale.end());
  shift.insert(shift.end(), a.fold_shift.begin(), a.fold_shift.end());
  const ParamView& hw = layout.at("head.weight");
  const ParamView& hb = layout.at("head.bias");
  head_weight.insert(head_weight.end(), a.primary.begin() + hw.offset,
                     a.primary.begin() + hw.offset + hw.size);
  head_bias.insert(head_bias.end(), a.primary.begin() + hb.offset,
                   a.primary.begin() + hb.offset + hb.size);
}

AdaptedClassifier AdaptedSet::episode(int64_t e) const {
  if (e < 0 || e >= count())
    throw usage_error("episode " + std::to_string(e) + " out of range [0, " +
                      std::to_string(count()) + ")");
  const Conv4Config& cfg = model.backbone;
  const std::size_t DK = std::size_t(cfg.depth) * cfg.hidden, F = cfg.feature_dim();
  const std::size_t conv_size = conv_layout(cfg).size();
  AdaptedClassifier a;
  a.n_way = n_way;
  a.fold_scale.assign(scale.begin() + e * DK, scale.begin() + (e + 1) * DK);
  a.fold_shift.assign(shift.begin() + e * DK, shift.begin() + (e + 1) * DK);
  if (per_episode_convs())
    a.convs.assign(convs.begin() + e * conv_size, convs.begin() + (e + 1) * conv_size);
  const ParamLayout layout = PrimaryNet<float>::layout(cfg, n_way);
  a.primary.assign(layout.size(), 0.0f);
  fold_convs(cfg, (a.convs.empty() ? base : a.convs).data(), a.fold_scale.data(),
             a.fold_shift.data(), a.primary.data());
  const std::size_t NF = std::size_t(n_way) * F;
  std::copy(head_weight.begin() + e * NF, head_weight.begin() + (e + 1) * NF,
            a.primary.begin() + layout.at("head.weight").offset);
  std::copy(head_bias.begin() + e * n_way, head_bias.begin() + (e + 1) * n_way,
            a.primary.begin() + layout.at("head.bias").offset);
  return a;
}

std::vector<std::string> AdaptedSet::episode_class_names(int64_t e) const {
  if (e < 0 || e >= count())
    throw usage_error("episode " + std::to_string(e) + " out of range [0, " +
                      std::to_string(count()) + ")");
  std::vector<std::string> names;
  for (int c = 0; c < n_way; ++c)
    names.push_back(class_names.empty() ? std::to_string(c)
                                        : class_names[std::size_t(e) * n_way + c]);
  return names;
}

void write_adapted(const AdaptedSet& s, const std::string& path, const Provenance& prov) {
  const Conv4Config& cfg = s.model.backbone;
  const int64_t E = s.count(), D = cfg.depth, K = cfg.hidden, N = s.n_way;
  const ParamLayout conv = conv_layout(cfg);
  io::Writer w(path, "fsh-adapted", adapted_format_version, prov);
  write_model_config(w, s.model);
  w.group("episodes");
  w.attr("episodes", "count", E);
  w.attr("episodes", "n_way", N);
  w.attr("episodes", "k_shot", s.k_shot);
  w.attr("episodes", "n_query", s.n_query);
  w.attr("episodes", "first", s.first);
  w.attr("episodes", "seed", s.episodes_seed);
  w.attr("episodes", "dataset_fingerprint", s.dataset_fingerprint);
  for (int i = 0; i < D; ++i) {
    for (const char* what : {"weight", "bias"}) {
      const ParamView& v = conv.at(blk("conv", i, what));
      io::Shape shape(v.shape.begin(), v.shape.end());
      w.put("base/" + blk("conv", i, what),
            std::vector<float>(s.base.begin() + v.offset, s.base.begin() + v.offset + v.size),
            shape);
      if (s.per_episode_convs()) {
        std::vector<float> per(std::size_t(E) * v.size);
        for (int64_t e = 0; e < E; ++e)
          std::copy_n(s.convs.begin() + e * conv.size() + v.offset, v.size,
                      per.begin() + e * v.size);
        io::Shape eshape{E};
        eshape.insert(eshape.end(), shape.begin(), shape.end());
        w.put("episodes/" + blk("conv", i, what), per, eshape, true);
      }
    }
    std::vector<float> sc(std::size_t(E) * K), sh(std::size_t(E) * K);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t k = 0; k < K; ++k) {
        sc[e * K + k] = s.scale[(e * D + i) * K + k];
        sh[e * K + k] = s.shift[(e * D + i) * K + k];
      }
    w.put("episodes/" + blk("conv", i, "scale"), sc, {E, K});
    w.put("episodes/" + blk("conv", i, "shift"), sh, {E, K});
  }
  w.put("episodes/head.weight", s.head_weight, {E, N, int64_t(cfg.feature_dim())}, true);
  w.put("episodes/head.bias", s.head_bias, {E, N});
  if (!s.class_names.empty()) {
    if (static_cast<int64_t>(s.class_names.size()) != E * N)
      throw shape_error("adapted set: " + std::to_string(s.class_names.size()) +
                        " class names for " + std::to_string(E) + " episodes of " +
                        std::to_string(N) + " classes");
    w.put_strings("episodes/class_names", s.class_names);
  }
  if (s.source_height > 0) {
    w.attr("episodes", "source_height", s.source_height);
    w.attr("episodes", "source_width", s.source_width);
  }
  if (s.part) {
    const AdaptedShard& p = *s.part;
    try {
      check_shard(p, E, "adapted set");
    } catch (const format_error& e) {
      throw shape_error(e.what());  // a caller's mistake, not a file's
    }
    w.attr("episodes", "shard_index", p.shard.index);
    w.attr("episodes", "shard_count", p.shard.count);
    w.attr("episodes", "shard_begin", p.begin);
    w.attr("episodes", "total_count", p.total);
    w.attr("episodes", "episodes_fingerprint", p.episodes_fingerprint);
    w.attr("episodes", "model_fingerprint", p.model_fingerprint);
  }
  w.commit();
}

AdaptedSet read_adapted(const std::string& path) {
  io::Reader r(path);
  return read_adapted(r);
}

AdaptedSet read_adapted(const io::Reader& r) {
  r.expect({"fsh-adapted"}, adapted_format_version);
  const std::string& f = r.display();
  AdaptedSet s;
  if (!r.has("episodes")) throw format_error(f + ": missing group /episodes");
  s.model = read_model_config(r, false);
  const Conv4Config& cfg = s.model.backbone;
  const int64_t E = r.attr_int("episodes", "count");
  const int64_t ways = r.attr_int("episodes", "n_way");
  if (E < 0)
    throw format_error(f + ": /episodes: count is " + std::to_string(E) + "; expected >= 0");
  if (ways < 2 || ways > std::numeric_limits<int>::max())
    throw format_error(f + ": /episodes: n_way is " + std::to_string(ways) + "; expected >= 2");
  s.n_way = static_cast<int>(ways);
  // The count against the arrays before anything of that size is allocated.
  s.head_bias = r.get_f32("episodes/head.bias", {E, ways});
  s.k_shot = r.attr_int("episodes", "k_shot");
  s.n_query = r.attr_int("episodes", "n_query");
  s.first = r.attr_int("episodes", "first");
  s.episodes_seed = r.attr_uint("episodes", "seed");
  s.dataset_fingerprint = r.attr_string("episodes", "dataset_fingerprint");
  const int64_t D = cfg.depth, K = cfg.hidden, N = s.n_way;
  const ParamLayout conv = conv_layout(cfg);
  // Per-episode convolutions: all of them or none (a MUST of the format).
  int present = 0;
  for (int i = 0; i < D; ++i)
    for (const char* what : {"weight", "bias"})
      present += r.has("episodes/" + blk("conv", i, what));
  if (present != 0 && present != 2 * D)
    throw format_error(f + ": /episodes has per-episode convolutions for some blocks only (" +
                       std::to_string(present) + " of " + std::to_string(2 * D) +
                       " datasets conv<i>.weight/bias)");
  if (present && r.version() < 2)
    throw format_error(f + ": per-episode convolutions need fsh-adapted version 2, the file "
                           "says " + std::to_string(r.version()));
  // Every shape against /config and the count before anything of their size is allocated
  // (a damaged hidden or depth would otherwise ask for gigabytes first).
  auto expect_shape = [&](const std::string& name, const io::Shape& want) {
    if (r.shape(name) != want)
      throw format_error(f + ": dataset /" + name + " has shape " +
                         io::shape_string(r.shape(name)) + "; expected " + io::shape_string(want));
  };
  for (int i = 0; i < D; ++i) {
    for (const char* what : {"weight", "bias"}) {
      const ParamView& v = conv.at(blk("conv", i, what));
      expect_shape("base/" + blk("conv", i, what), io::Shape(v.shape.begin(), v.shape.end()));
    }
    expect_shape("episodes/" + blk("conv", i, "scale"), {E, K});
  }
  s.base.assign(conv.size(), 0.0f);
  s.scale.assign(std::size_t(E) * D * K, 0.0f);
  s.shift.assign(s.scale.size(), 0.0f);
  if (present) s.convs.assign(std::size_t(E) * conv.size(), 0.0f);
  auto finite = [&](const std::vector<float>& v, const std::string& name) {
    for (float x : v)
      if (!std::isfinite(x)) throw format_error(f + ": /" + name + " holds NaN or infinity");
  };
  for (int i = 0; i < D; ++i) {
    for (const char* what : {"weight", "bias"}) {
      const ParamView& v = conv.at(blk("conv", i, what));
      io::Shape shape(v.shape.begin(), v.shape.end());
      auto data = r.get_f32("base/" + blk("conv", i, what), shape);
      finite(data, "base/" + blk("conv", i, what));
      std::copy(data.begin(), data.end(), s.base.begin() + v.offset);
      if (present) {
        io::Shape eshape{E};
        eshape.insert(eshape.end(), shape.begin(), shape.end());
        auto per = r.get_f32("episodes/" + blk("conv", i, what), eshape);
        finite(per, "episodes/" + blk("conv", i, what));
        for (int64_t e = 0; e < E; ++e)
          std::copy_n(per.begin() + e * v.size, v.size,
                      s.convs.begin() + e * conv.size() + v.offset);
      }
    }
    auto sc = r.get_f32("episodes/" + blk("conv", i, "scale"), {E, K});
    auto sh = r.get_f32("episodes/" + blk("conv", i, "shift"), {E, K});
    finite(sc, "episodes/" + blk("conv", i, "scale"));
    finite(sh, "episodes/" + blk("conv", i, "shift"));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t k = 0; k < K; ++k) {
        s.scale[(e * D + i) * K + k] = sc[e * K + k];
        s.shift[(e * D + i) * K + k] = sh[e * K + k];
      }
  }
  s.head_weight = r.get_f32("episodes/head.weight", {E, N, int64_t(cfg.feature_dim())});
  finite(s.head_weight, "episodes/head.weight");
  finite(s.head_bias, "episodes/head.bias");
  if (r.has("episodes/class_names")) s.class_names = r.get_strings("episodes/class_names", E * N);
  const bool sh = r.has_attr("episodes", "source_height");
  if (sh != r.has_attr("episodes", "source_width"))
    throw format_error(f + ": /episodes: source_height and source_width go together");
  if (sh) {
    s.source_height = r.attr_int("episodes", "source_height");
    s.source_width = r.attr_int("episodes", "source_width");
    if (s.source_height < 1 || s.source_width < 1)
      throw format_error(f + ": /episodes: source_height and source_width must be >= 1");
  }
  int shard_present = 0;
  for (const char* a : shard_attrs) shard_present += r.has_attr("episodes", a);
  if (shard_present != 0 && shard_present != int(std::size(shard_attrs)))
    throw format_error(f + ": /episodes has " + std::to_string(shard_present) + " of the " +
                       std::to_string(std::size(shard_attrs)) +
                       " shard attributes (shard_index, shard_count, shard_begin, total_count, "
                       "episodes_fingerprint, model_fingerprint); they go together");
  if (shard_present) {
    AdaptedShard p;
    p.shard.index = r.attr_int("episodes", "shard_index");
    p.shard.count = r.attr_int("episodes", "shard_count");
    p.begin = r.attr_int("episodes", "shard_begin");
    p.total = r.attr_int("episodes", "total_count");
    p.episodes_fingerprint = r.attr_string("episodes", "episodes_fingerprint");
    p.model_fingerprint = r.attr_string("episodes", "model_fingerprint");
    check_shard(p, E, f + ": /episodes");
    if (s.source_height > 0)
      throw format_error(f + ": /episodes: a shard of episodes cannot have source_height (a "
                             "classifier adapted to a folder)");
    s.part = p;
  }
  return s;
}

std::string adapted_fingerprint(const AdaptedSet& s) {
  Fnv1a64 h;
  hash_string(h, s.model.method);
  hash_string(h, to_string(s.model.bn));
  const Conv4Config& c = s.model.backbone;
  for (int64_t v : {int64_t(c.in_channels), int64_t(c.height), int64_t(c.width),
                    int64_t(c.hidden), int64_t(c.depth), int64_t(s.n_way), s.k_shot, s.n_query,
                    s.first})
    h.update_i64(v);
  uint64_t eps;
  std::memcpy(&eps, &c.bn_eps, 8);
  h.update_i64(static_cast<int64_t>(eps));
  h.update_i64(static_cast<int64_t>(s.episodes_seed));
  hash_string(h, s.dataset_fingerprint);
  for (const auto* v : {&s.base, &s.scale, &s.shift, &s.head_weight, &s.head_bias, &s.convs})
    hash_floats(h, *v);
  return hex64(h.value());
}

AdaptedSet merge_adapted(const std::vector<AdaptedSet>& parts,
                         const std::vector<std::string>& names) {
  if (parts.empty()) throw usage_error("nothing to merge: no parts given");
  if (names.size() != parts.size()) throw shape_error("merge_adapted: a name for every part");
  for (std::size_t k = 0; k < parts.size(); ++k)
    if (!parts[k].part)
      throw format_error(names[k] +
                         ": not a shard (no shard attributes: fsh-adapt wrote it without "
                         "--shard); only the parts of fsh-adapt --shard i/n runs merge");
  const AdaptedSet& a0 = parts[0];
  const AdaptedShard& p0 = *a0.part;
  std::vector<int64_t> owner(std::size_t(p0.shard.count), -1);
  int64_t named = -1;  // a non-empty part, and whether it records class names
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const AdaptedSet& a = parts[k];
    const AdaptedShard& p = *a.part;
    if (p.shard.count != p0.shard.count)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + ", but " + names[0] +
                         " is shard " + to_string(p0.shard) +
                         ": parts of different shard counts do not merge");
    if (p.episodes_fingerprint != p0.episodes_fingerprint || p.total != p0.total ||
        a.n_way != a0.n_way || a.k_shot != a0.k_shot || a.n_query != a0.n_query ||
        a.first != a0.first || a.episodes_seed != a0.episodes_seed ||
        a.dataset_fingerprint != a0.dataset_fingerprint)
      throw format_error(names[k] + ": adapted to other episodes than " + names[0] +
                         " (episodes fingerprint " + p.episodes_fingerprint + " of " +
                         std::to_string(p.total) + " episodes vs " + p0.episodes_fingerprint +
                         " of " + std::to_string(p0.total) + ")");
    const Conv4Config &c = a.model.backbone, &c0 = a0.model.backbone;
    if (p.model_fingerprint != p0.model_fingerprint || a.model.method != a0.model.method ||
        a.model.bn != a0.model.bn || c.in_channels != c0.in_channels ||
        c.height != c0.height || c.width != c0.width || c.hidden != c0.hidden ||
        c.depth != c0.depth || c.bn_eps != c0.bn_eps || a.model.settings != a0.model.settings ||
        a.base.size() != a0.base.size() ||
        std::memcmp(a.base.data(), a0.base.data(), a.base.size() * sizeof(float)) != 0)
      throw format_error(names[k] + ": adapted from another model than " + names[0] +
                         " (model fingerprint " + p.model_fingerprint + " vs " +
                         p0.model_fingerprint + ", " + a.model.method + " vs " +
                         a0.model.method + ", " + to_string(a.model.bn) + " vs " +
                         to_string(a0.model.bn) + " statistics)");
    int64_t& o = owner[std::size_t(p.shard.index)];
    if (o >= 0)
      throw format_error(names[k] + ": shard " + to_string(p.shard) + " given twice (" +
                         names[std::size_t(o)] + " is shard " + to_string(p.shard) + " too)");
    o = static_cast<int64_t>(k);
    if (a.count() > 0) {
      if (named >= 0 && parts[std::size_t(named)].class_names.empty() != a.class_names.empty())
        throw format_error(names[k] + ": " + (a.class_names.empty() ? "records no" : "records") +
                           " class names, but " + names[std::size_t(named)] +
                           (a.class_names.empty() ? " does" : " does not") +
                           ": parts of different episodes files");
      named = static_cast<int64_t>(k);
    }
  }
  check_no_shard_missing(owner, p0.total, parts.size(), names[0]);

  // In shard order, each part's classifiers appended as adapt_episodes appends them: the same
  // add() on the same classifiers, so the same arrays bit for bit (per-episode convolutions
  // included: they appear, with the base for every episode without its own, as soon as one
  // episode has its own, in whichever part it is).
  AdaptedSet m;
  m.model = a0.model;
  m.n_way = a0.n_way;
  m.k_shot = a0.k_shot;
  m.n_query = a0.n_query;
  m.first = a0.first;
  m.episodes_seed = a0.episodes_seed;
  m.dataset_fingerprint = a0.dataset_fingerprint;
  m.base = a0.base;
  for (int64_t o : owner) {
    const AdaptedSet& a = parts[std::size_t(o)];
    for (int64_t j = 0; j < a.count(); ++j) m.add(a.episode(j));
    m.class_names.insert(m.class_names.end(), a.class_names.begin(), a.class_names.end());
  }
  if (m.count() != p0.total)
    throw format_error(names[0] + ": the parts hold " + std::to_string(m.count()) +
                       " episodes, not the " + std::to_string(p0.total) + " they are shards of");
  return m;
}

}  // namespace fsh
