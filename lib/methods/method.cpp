// Method registry and settings, policy translation, tensor conversion, classification with
// adapted classifiers.
#include "methods/method.hpp"

#include <memory>

#include <cmath>
#include <array>
#include <cstdio>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>

#include "methods/hypernet.hpp"
#include "methods/maml.hpp"
#include "methods/protonet.hpp"
#include "util/error.hpp"

namespace fsh {

std::string to_string(BnPolicy p) { return p == BnPolicy::support ? "support" : "transductive"; }

BnPolicy parse_bn_policy(const std::string& s) {
  if (s == "support") return BnPolicy::support;
  if (s == "transductive") return BnPolicy::transductive;
  throw usage_error("unknown batch-norm policy '" + s + "' (expected support or transductive)");
}

BnMode bn_mode(BnPolicy p, int support_rows, int batch, int* rows) {
  const bool from_support = p == BnPolicy::support && batch > support_rows;
  *rows = from_support ? support_rows : 0;
  return from_support ? BnMode::support : BnMode::batch;
}

// ---- settings ---------------------------------------------------------------------------------

std::string to_string(const SettingValue& v) {
  struct V {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      char b[32];
      std::snprintf(b, sizeof b, "%.10g", d);
      return b;
    }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(V{}, v);
}

std::string describe_settings(const std::vector<SettingSpec>& specs, const Settings& s) {
  std::string out;
  for (const SettingSpec& spec : specs) {
    auto it = s.find(spec.name);
    out += (out.empty() ? "" : ", ") + spec.name + " " +
           (it == s.end() ? std::string("?") : to_string(it->second));
  }
  return out.empty() ? "(none)" : out;
}

namespace {

const char* type_name(const SettingValue& v) {
  switch (v.index()) {
    case 0: return "a boolean";
    case 1: return "an integer";
    case 2: return "a number";
    default: return "text";
  }
}

std::vector<MethodInfo>& registry() {
  static std::vector<MethodInfo> r = [] {
    std::vector<MethodInfo> v;
    v.push_back({"protonet",
                 "Prototypical Networks: classes scored by distance to the mean support embedding",
                 {},
                 [](const ModelConfig& c) { return std::make_unique<ProtoNet>(c); }});
    v.push_back(hypernet_method_info());
    v.push_back(maml_method_info());
    return v;
  }();
  return r;
}

}  // namespace

void register_method(MethodInfo info) {
  if (info.name.empty() || !info.make) throw usage_error("register_method: name and factory needed");
  for (const MethodInfo& m : registry())
    if (m.name == info.name) throw usage_error("method '" + info.name + "' is already registered");
  for (const SettingSpec& s : info.settings) {
    if (s.name.empty() || s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
                              std::string::npos)
      throw usage_error("method '" + info.name + "': setting name '" + s.name +
                        "' must be snake_case");
    if (s.min > s.max) throw usage_error("method '" + info.name + "': setting " + s.name +
                                         " has an empty range");
  }
  registry().push_back(std::move(info));
}

const std::vector<MethodInfo>& registered_methods() { return registry(); }

std::vector<std::string> method_names() {
  std::vector<std::string> n;
  for (const MethodInfo& m : registry()) n.push_back(m.name);
  return n;
}

const MethodInfo& method_info(const std::string& name) {
  for (const MethodInfo& m : registry())
    if (m.name == name) return m;
  std::string known;
  for (auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
  throw usage_error("unknown method '" + name + "' (this build has: " + known + ")");
}

Settings complete_settings(const std::string& method, const Settings& given) {
  const MethodInfo& info = method_info(method);
  for (const auto& [name, value] : given) {
    bool known = false;
    for (const SettingSpec& s : info.settings) known |= s.name == name;
    if (!known) {
      std::string list;
      for (const SettingSpec& s : info.settings) list += (list.empty() ? "" : ", ") + s.name;
      throw usage_error("method " + method + " has no setting '" + name + "' (its settings: " +
                        (list.empty() ? "none" : list) + ")");
    }
  }
  Settings out;
  for (const SettingSpec& s : info.settings) {
    auto it = given.find(s.name);
    SettingValue v = it == given.end() ? s.default_value : it->second;
    // An integer given where a number is declared is that number.
    if (s.default_value.index() == 2 && v.index() == 1) v = double(std::get<int64_t>(v));
    if (v.index() != s.default_value.index())
      throw usage_error(method + " setting " + s.name + " must be " +
                        type_name(s.default_value) + ", got " + type_name(v) + " (" +
                        to_string(v) + ")");
    double num = 0;
    bool is_num = false;
    if (auto* i = std::get_if<int64_t>(&v)) num = double(*i), is_num = true;
    if (auto* d = std::get_if<double>(&v)) num = *d, is_num = true;
    if (is_num && (!std::isfinite(num) || num < s.min || num > s.max))
      throw usage_error(method + " setting " + s.name + " = " + to_string(v) +
                        " is outside [" + to_string(SettingValue(s.min)) + ", " +
                        to_string(SettingValue(s.max)) + "]");
    out[s.name] = v;
  }
  return out;
}

std::unique_ptr<Method> make_method(const ModelConfig& cfg) {
  cfg.backbone.validate();
  const MethodInfo& info = method_info(cfg.method);
  ModelConfig c = cfg;
  c.settings = complete_settings(cfg.method, cfg.settings);
  return info.make(c);
}

// ---- Method -----------------------------------------------------------------------------------

std::vector<float> Method::base_convolutions() const {
  const ParamLayout l = conv_layout(config_.backbone);
  std::vector<float> out(l.size());
  for (const ParamView& v : l.views()) {
    const float* src = params_.value(v.name);
    if (params_.layout().at(v.name).size != v.size)
      throw shape_error(name() + ": parameter " + v.name + " has the wrong size");
    std::copy(src, src + v.size, out.begin() + v.offset);
  }
  return out;
}

namespace {
template <class T>
const T& setting(const ModelConfig& c, const std::string& name) {
  auto it = c.settings.find(name);
  if (it == c.settings.end())
    throw usage_error(c.method + ": no setting '" + name + "' (not declared by the method)");
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  throw usage_error(c.method + ": setting '" + name + "' has another type");
}
}  // namespace

bool Method::setting_bool(const std::string& n) const { return setting<bool>(config_, n); }
int64_t Method::setting_int(const std::string& n) const { return setting<int64_t>(config_, n); }
double Method::setting_real(const std::string& n) const { return setting<double>(config_, n); }

// ---- tensors and classification ---------------------------------------------------------------

EpisodeTensors to_tensors(const EpisodeImages& e) {
  EpisodeTensors t;
  t.n_way = static_cast<int>(e.n_way);
  t.k_shot = static_cast<int>(e.k_shot);
  t.n_query = static_cast<int>(e.n_query);
  t.channels = static_cast<int>(e.channels);
  t.height = static_cast<int>(e.height);
  t.width = static_cast<int>(e.width);
  const std::size_t hw = std::size_t(t.height) * t.width, C = t.channels;
  // [B, H·W, C] uint8 -> (B, C, H·W) float in [0, 1]: a transposed view, cast and scaled.
  auto convert = [&](const std::vector<uint8_t>& src, std::vector<float>& dst) {
    const std::size_t B = src.size() / (hw * C);
    const auto in = xt::adapt(src.data(), src.size(), xt::no_ownership(),
                              std::array<std::size_t, 3>{B, hw, C});
    dst.resize(src.size());
    auto out = xt::adapt(dst.data(), dst.size(), xt::no_ownership(),
                         std::array<std::size_t, 3>{B, C, hw});
    out = xt::cast<float>(xt::transpose(in, {0, 2, 1})) * (1.0f / 255.0f);
  };
  convert(e.support, t.support);
  convert(e.query, t.query);
  t.support_labels = e.support_labels;
  t.query_labels = e.query_labels;
  return t;
}

namespace {

// One primary network per thread, kept between calls for the same network shape: its buffers
// (the activations of every query image, ~15 MB for a 5-way 15-query Omniglot episode) are
// then allocated once, not per episode. Allocating and zeroing them per episode cost fsh-eval
// more than the arithmetic (the memory went back to the system each time and every page
// faulted in again).
PrimaryNet<float>& primary_net(const Conv4Config& c, int ways) {
  struct Cache {
    Conv4Config cfg;
    int ways = -1;
    const Backend* backend = nullptr;
    std::unique_ptr<PrimaryNet<float>> net;
  };
  thread_local Cache cache;
  const Conv4Config& k = cache.cfg;
  const bool same = cache.net && cache.ways == ways && cache.backend == &default_backend() &&
                    k.in_channels == c.in_channels && k.height == c.height &&
                    k.width == c.width && k.hidden == c.hidden && k.depth == c.depth &&
                    k.bn_eps == c.bn_eps;
  if (!same) {
    cache.net.reset();
    cache.net = std::make_unique<PrimaryNet<float>>(c, ways);
    cache.cfg = c;
    cache.ways = ways;
    cache.backend = &default_backend();
  }
  return *cache.net;
}

}  // namespace

std::vector<int32_t> classify(const ModelConfig& cfg, const AdaptedClassifier& a,
                              const EpisodeTensors& ep, std::vector<float>* logits) {
  PrimaryNet<float>& net = primary_net(cfg.backbone, a.n_way);
  if (a.primary.size() != net.layout().size())
    throw shape_error("adapted classifier has " + std::to_string(a.primary.size()) +
                      " parameters; a " + std::to_string(a.n_way) + "-way primary network has " +
                      std::to_string(net.layout().size()));
  const int B = ep.query_rows();
  const float* out = net.forward(a.primary.data(), ep.query.data(), B);
  std::vector<int32_t> pred(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) {
    const float* row = out + std::size_t(b) * a.n_way;
    int best = 0;
    for (int c = 1; c < a.n_way; ++c)
      if (row[c] > row[best]) best = c;
    pred[static_cast<std::size_t>(b)] = best;
  }
  if (logits) logits->assign(out, out + std::size_t(B) * a.n_way);
  return pred;
}

}  // namespace fsh
