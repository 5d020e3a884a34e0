// The fsh-adapted format (man 5 fsh-adapted): compact storage of per-episode classifiers.
#include "methods/adapted.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "methods/checkpoint.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {
std::string blk(const char* kind, int i, const char* what) {
  return std::string(kind) + std::to_string(i) + "." + what;
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
  return s;
}

}  // namespace fsh
