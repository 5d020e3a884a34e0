// Folding normalisation into primary networks, and the fsh-adapted format (man 5 fsh-adapted).
#include "methods/adapted.hpp"

#include <cmath>

#include "methods/checkpoint.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {
std::string blk(const char* kind, int i, const char* what) {
  return std::string(kind) + std::to_string(i) + "." + what;
}
}  // namespace

void apply_fold(const Conv4Config& cfg, int n_way, const float* conv4_params,
                const std::vector<std::vector<float>>& scale,
                const std::vector<std::vector<float>>& shift, float* primary) {
  const ParamLayout src = conv4_layout(cfg);
  const ParamLayout dst = PrimaryNet<float>::layout(cfg, n_way);
  for (int i = 0; i < cfg.depth; ++i) {
    const ParamView& ws = src.at(blk("conv", i, "weight"));
    const ParamView& bs = src.at(blk("conv", i, "bias"));
    float* w = primary + dst.at(blk("conv", i, "weight")).offset;
    float* b = primary + dst.at(blk("conv", i, "bias")).offset;
    const int K = ws.shape[0];
    const std::size_t per = ws.size / K;
    for (int k = 0; k < K; ++k) {
      const float s = scale[i][k];
      for (std::size_t j = 0; j < per; ++j)
        w[k * per + j] = conv4_params[ws.offset + k * per + j] * s;
      b[k] = conv4_params[bs.offset + k] * s + shift[i][k];
    }
  }
}

void fold_statistics(const Conv4Config& cfg, const float* conv4_params,
                     const std::vector<BnStats<float>>& stats, AdaptedClassifier& a) {
  const ParamLayout src = conv4_layout(cfg);
  a.primary.assign(PrimaryNet<float>::layout(cfg, a.n_way).size(), 0.0f);
  a.fold_scale.assign(cfg.depth, {});
  a.fold_shift.assign(cfg.depth, {});
  for (int i = 0; i < cfg.depth; ++i) {
    const float* gamma = conv4_params + src.at(blk("bn", i, "gamma")).offset;
    const float* beta = conv4_params + src.at(blk("bn", i, "beta")).offset;
    const int K = cfg.hidden;
    a.fold_scale[i].resize(K);
    a.fold_shift[i].resize(K);
    for (int k = 0; k < K; ++k) {
      const float s = gamma[k] / std::sqrt(stats[i].var[k] + static_cast<float>(cfg.bn_eps));
      a.fold_scale[i][k] = s;
      a.fold_shift[i][k] = beta[k] - stats[i].mean[k] * s;
    }
  }
  apply_fold(cfg, a.n_way, conv4_params, a.fold_scale, a.fold_shift, a.primary.data());
}

int64_t AdaptedSet::count() const {
  return n_way > 0 ? static_cast<int64_t>(head_bias.size()) / n_way : 0;
}

void AdaptedSet::add(const AdaptedClassifier& a) {
  if (a.n_way != n_way)
    throw shape_error("adapted classifier is " + std::to_string(a.n_way) + "-way; the set is " +
                      std::to_string(n_way) + "-way");
  const ParamLayout layout = PrimaryNet<float>::layout(model.backbone, n_way);
  for (int i = 0; i < model.backbone.depth; ++i) {
    scale.insert(scale.end(), a.fold_scale[i].begin(), a.fold_scale[i].end());
    shift.insert(shift.end(), a.fold_shift[i].begin(), a.fold_shift[i].end());
  }
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
  const int K = cfg.hidden, D = cfg.depth, F = cfg.feature_dim();
  AdaptedClassifier a;
  a.n_way = n_way;
  a.fold_scale.assign(D, std::vector<float>(K));
  a.fold_shift.assign(D, std::vector<float>(K));
  for (int i = 0; i < D; ++i)
    for (int k = 0; k < K; ++k) {
      a.fold_scale[i][k] = scale[(std::size_t(e) * D + i) * K + k];
      a.fold_shift[i][k] = shift[(std::size_t(e) * D + i) * K + k];
    }
  const ParamLayout layout = PrimaryNet<float>::layout(cfg, n_way);
  a.primary.assign(layout.size(), 0.0f);
  apply_fold(cfg, n_way, base.data(), a.fold_scale, a.fold_shift, a.primary.data());
  const std::size_t NF = std::size_t(n_way) * F;
  std::copy(head_weight.begin() + e * NF, head_weight.begin() + (e + 1) * NF,
            a.primary.begin() + layout.at("head.weight").offset);
  std::copy(head_bias.begin() + e * n_way, head_bias.begin() + (e + 1) * n_way,
            a.primary.begin() + layout.at("head.bias").offset);
  return a;
}

void write_adapted(const AdaptedSet& s, const std::string& path, const Provenance& prov) {
  const Conv4Config& cfg = s.model.backbone;
  const int64_t E = s.count(), D = cfg.depth, K = cfg.hidden, N = s.n_way;
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
  const ParamLayout src = conv4_layout(cfg);
  for (int i = 0; i < D; ++i) {
    for (const char* what : {"weight", "bias"}) {
      const ParamView& v = src.at(blk("conv", i, what));
      io::Shape shape(v.shape.begin(), v.shape.end());
      w.put("base/" + blk("conv", i, what),
            std::vector<float>(s.base.begin() + v.offset, s.base.begin() + v.offset + v.size),
            shape);
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
  s.model = read_model_config(r);
  const Conv4Config& cfg = s.model.backbone;
  const int64_t E = r.attr_int("episodes", "count");
  s.n_way = static_cast<int>(r.attr_int("episodes", "n_way"));
  if (E < 0 || s.n_way < 2) throw format_error(f + ": /episodes: bad count or n_way");
  s.k_shot = r.attr_int("episodes", "k_shot");
  s.n_query = r.attr_int("episodes", "n_query");
  s.first = r.attr_int("episodes", "first");
  s.episodes_seed = r.attr_uint("episodes", "seed");
  s.dataset_fingerprint = r.attr_string("episodes", "dataset_fingerprint");
  const int64_t D = cfg.depth, K = cfg.hidden, N = s.n_way;
  const ParamLayout src = conv4_layout(cfg);
  s.base.assign(src.size(), 0.0f);
  s.scale.assign(std::size_t(E) * D * K, 0.0f);
  s.shift.assign(s.scale.size(), 0.0f);
  for (int i = 0; i < D; ++i) {
    for (const char* what : {"weight", "bias"}) {
      const ParamView& v = src.at(blk("conv", i, what));
      io::Shape shape(v.shape.begin(), v.shape.end());
      auto data = r.get_f32("base/" + blk("conv", i, what), shape);
      std::copy(data.begin(), data.end(), s.base.begin() + v.offset);
    }
    auto sc = r.get_f32("episodes/" + blk("conv", i, "scale"), {E, K});
    auto sh = r.get_f32("episodes/" + blk("conv", i, "shift"), {E, K});
    for (int64_t e = 0; e < E; ++e)
      for (int64_t k = 0; k < K; ++k) {
        s.scale[(e * D + i) * K + k] = sc[e * K + k];
        s.shift[(e * D + i) * K + k] = sh[e * K + k];
      }
  }
  s.head_weight = r.get_f32("episodes/head.weight", {E, N, int64_t(cfg.feature_dim())});
  s.head_bias = r.get_f32("episodes/head.bias", {E, N});
  return s;
}

}  // namespace fsh
