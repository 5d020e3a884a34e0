// fsh-model checkpoints (see checkpoint.hpp and man 5 fsh-model).
#include "methods/checkpoint.hpp"

#include <cmath>

#include "util/error.hpp"

namespace fsh {

void TrainConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw usage_error(msg);
  };
  need(n_way >= 2, "--way must be at least 2 (got " + std::to_string(n_way) + ")");
  need(k_shot >= 1, "--shot must be at least 1 (got " + std::to_string(k_shot) + ")");
  need(n_query >= 1, "--query must be at least 1 (got " + std::to_string(n_query) + ")");
  need(episodes >= 1, "--num-episodes must be at least 1 (got " + std::to_string(episodes) + ")");
  need(meta_batch >= 1 && meta_batch <= 4096,
       "--meta-batch must be in [1, 4096] (got " + std::to_string(meta_batch) + ")");
  need(optimizer == "adam" || optimizer == "sgd",
       "--optimizer must be adam or sgd (got '" + optimizer + "')");
  need(momentum >= 0 && momentum < 1, "--momentum must be in [0, 1)");
  schedule.validate();
  need(val_every >= 0, "--val-every must be >= 0 (0 = no validation)");
  need(val_count >= 1, "--val-episodes must be at least 1");
  need(val_way >= 2 && val_shot >= 1 && val_query >= 1,
       "--val-way must be >= 2, --val-shot and --val-query >= 1");
  need(checkpoint_every >= 0, "--checkpoint-every must be >= 0 (0 = only at the end)");
}

namespace {
// The /train attributes of fsh-model, one list for the writer and the reader. The two parts
// (enum values stored as strings) are handled beside it.
template <class Visit>
void visit_train_fields(TrainConfig& t, Visit&& f) {
  f("data", t.data);
  f("data_fingerprint", t.data_fingerprint);
  f("n_way", t.n_way);
  f("k_shot", t.k_shot);
  f("n_query", t.n_query);
  f("episodes", t.episodes);
  f("seed", t.seed);
  f("optimizer", t.optimizer);
  f("momentum", t.momentum);
  f("lr", t.schedule.base_lr);
  f("lr_step", t.schedule.step);
  f("lr_gamma", t.schedule.gamma);
  f("val_every", t.val_every);
  f("val_count", t.val_count);
  f("val_way", t.val_way);
  f("val_shot", t.val_shot);
  f("val_query", t.val_query);
  f("val_seed", t.val_seed);
  f("checkpoint_every", t.checkpoint_every);
}
}  // namespace

void write_model_config(io::Writer& w, const ModelConfig& m) {
  const Conv4Config& c = m.backbone;
  w.group("config");
  w.attr("config", "method", m.method);
  w.attr("config", "bn", to_string(m.bn));
  w.attr("config", "backbone", std::string("conv4"));
  w.attr("config", "in_channels", int64_t(c.in_channels));
  w.attr("config", "height", int64_t(c.height));
  w.attr("config", "width", int64_t(c.width));
  w.attr("config", "hidden", int64_t(c.hidden));
  w.attr("config", "depth", int64_t(c.depth));
  w.attr("config", "bn_eps", c.bn_eps);
  // How the training images were made (optional: unknown for data that did not record it).
  if (m.input.known) {
    w.attr("config", "input_inverted", int64_t(m.input.inverted ? 1 : 0));
    w.attr("config", "input_resize", m.input.resize);
  }
  if (m.input_mean >= 0) w.attr("config", "input_mean", m.input_mean);
  // The method's settings, one typed attribute each (booleans as integers 0/1).
  w.group("config/settings");
  bool known = false;
  for (const std::string& n : method_names()) known |= n == m.method;
  // An adapted file may be rewritten by a program that does not have the method: its settings
  // are then written as they were read.
  for (const auto& [name, value] : known ? complete_settings(m.method, m.settings) : m.settings) {
    if (auto* b = std::get_if<bool>(&value)) w.attr("config/settings", name, int64_t(*b));
    if (auto* i = std::get_if<int64_t>(&value)) w.attr("config/settings", name, *i);
    if (auto* d = std::get_if<double>(&value)) w.attr("config/settings", name, *d);
    if (auto* t = std::get_if<std::string>(&value)) w.attr("config/settings", name, *t);
  }
}

ModelConfig read_model_config(const io::Reader& r, bool method_needed) {
  const std::string& f = r.display();
  if (!r.has("config")) throw format_error(f + ": missing group /config");
  ModelConfig m;
  m.method = r.attr_string("config", "method");
  try {
    m.bn = parse_bn_policy(r.attr_string("config", "bn"));
  } catch (const usage_error& e) {
    throw format_error(f + ": /config: " + e.what());
  }
  if (r.attr_string("config", "backbone") != "conv4")
    throw format_error(f + ": backbone '" + r.attr_string("config", "backbone") +
                       "' is not known to this build (expected conv4)");
  Conv4Config& c = m.backbone;
  c.in_channels = static_cast<int>(r.attr_int("config", "in_channels"));
  c.height = static_cast<int>(r.attr_int("config", "height"));
  c.width = static_cast<int>(r.attr_int("config", "width"));
  c.hidden = static_cast<int>(r.attr_int("config", "hidden"));
  c.depth = static_cast<int>(r.attr_int("config", "depth"));
  c.bn_eps = r.attr_double("config", "bn_eps");
  try {
    c.validate();
  } catch (const error& e) {
    throw format_error(f + ": /config: " + e.what());
  }
  // Optional: the input preparation (both attributes or neither) and the mean brightness.
  const bool inv = r.has_attr("config", "input_inverted");
  if (inv != r.has_attr("config", "input_resize"))
    throw format_error(f + ": /config: " +
                       (inv ? "input_inverted without input_resize"
                            : "input_resize without input_inverted") +
                       " (give both or neither)");
  if (inv) {
    const int64_t v = r.attr_int("config", "input_inverted");
    m.input.resize = r.attr_string("config", "input_resize");
    if (v != 0 && v != 1)
      throw format_error(f + ": /config: input_inverted is " + std::to_string(v) +
                         "; expected 0 or 1");
    if (m.input.resize != "area" && m.input.resize != "none")
      throw format_error(f + ": /config: input_resize is \"" + m.input.resize +
                         "\"; expected area or none");
    m.input.known = true;
    m.input.inverted = v == 1;
  }
  if (r.has_attr("config", "input_mean")) {
    m.input_mean = r.attr_double("config", "input_mean");
    if (!(m.input_mean >= 0 && m.input_mean <= 1))
      throw format_error(f + ": /config: input_mean must be in [0, 1]");
  }
  // Settings: each declared one read with its declared type; unknown or missing ones refused
  // (but for those added later, whose absence means their default).
  Settings given;
  bool known = false;
  for (const std::string& n : method_names()) known |= n == m.method;
  if (!known && !method_needed) {
    // Informational only (an adapted file is scored without its method): typed as stored.
    for (const std::string& name : r.attr_names("config/settings")) {
      switch (r.attr_kind("config/settings", name)) {
        case io::Kind::integer: m.settings[name] = r.attr_int("config/settings", name); break;
        case io::Kind::floating: m.settings[name] = r.attr_double("config/settings", name); break;
        case io::Kind::string: m.settings[name] = r.attr_string("config/settings", name); break;
        default:
          throw format_error(f + ": /config/settings: " + name + " has an unsupported type");
      }
    }
    return m;
  }
  try {
    const MethodInfo& info = method_info(m.method);
    const std::vector<std::string> stored = r.attr_names("config/settings");
    for (const std::string& name : stored) {
      const SettingSpec* spec = nullptr;
      for (const SettingSpec& s : info.settings)
        if (s.name == name) spec = &s;
      if (!spec) throw format_error("/config/settings: " + m.method + " has no setting '" + name + "'");
      switch (spec->default_value.index()) {
        case 0: {
          const int64_t v = r.attr_int("config/settings", name);
          if (v != 0 && v != 1)
            throw format_error("/config/settings: " + name + " must be 0 or 1, got " +
                               std::to_string(v));
          given[name] = v == 1;
          break;
        }
        case 1: given[name] = r.attr_int("config/settings", name); break;
        case 2: given[name] = r.attr_double("config/settings", name); break;
        default: given[name] = r.attr_string("config/settings", name); break;
      }
    }
    for (const SettingSpec& s : info.settings)
      if (!given.count(s.name) && !s.optional_in_files)
        throw format_error("/config/settings: missing " + m.method + " setting " + s.name);
    m.settings = complete_settings(m.method, given);
  } catch (const format_error& e) {
    const std::string what = e.what();
    throw format_error(what.rfind(f, 0) == 0 ? what : f + ": " + what);
  } catch (const usage_error& e) {
    throw format_error(f + ": /config: " + e.what());
  }
  return m;
}

void write_checkpoint(const Checkpoint& c, const ParamLayout& layout, const std::string& path,
                      const Provenance& prov) {
  if (c.params.size() != layout.size())
    throw shape_error("checkpoint has " + std::to_string(c.params.size()) +
                      " parameters; the layout has " + std::to_string(layout.size()));
  io::Writer w(path, "fsh-model", model_format_version, prov);
  write_model_config(w, c.model);
  const TrainConfig& t = c.train;
  w.group("train");
  TrainConfig fields = t;
  visit_train_fields(fields, [&](const char* name, const auto& value) { w.attr("train", name, value); });
  w.attr("train", "meta_batch", t.meta_batch);
  w.attr("train", "part", to_string(t.part));
  w.attr("train", "val_part", to_string(t.val_part));
  for (const ParamView& v : layout.views()) {
    io::Shape shape(v.shape.begin(), v.shape.end());
    w.put("params/" + v.name,
          std::vector<float>(c.params.begin() + v.offset, c.params.begin() + v.offset + v.size),
          shape);
  }
  w.group("optimizer");
  w.attr("optimizer", "kind", c.optimizer.kind);
  w.attr("optimizer", "step", c.optimizer.step);
  w.attr("optimizer", "slots", int64_t(c.optimizer.slots.size()));
  for (std::size_t i = 0; i < c.optimizer.slots.size(); ++i)
    w.put("optimizer/slot" + std::to_string(i), c.optimizer.slots[i],
          {int64_t(c.optimizer.slots[i].size())});
  w.group("state");
  w.attr("state", "episode", c.episode);
  w.attr("state", "rng_seed", t.seed);
  w.attr("state", "rng_next_stream", c.episode);
  w.attr("state", "best_val_accuracy", c.best_val);
  w.attr("state", "best_val_ci95", c.best_val_ci95);
  w.attr("state", "best_episode", c.best_episode);
  w.attr("state", "elapsed_seconds", c.elapsed_seconds);
  w.commit();
}

Checkpoint read_checkpoint(const std::string& path) {
  io::Reader r(path);
  return read_checkpoint(r);
}

Checkpoint read_checkpoint(const io::Reader& r) {
  r.expect({"fsh-model"}, model_format_version);
  const std::string& f = r.display();
  Checkpoint c;
  c.model = read_model_config(r);
  for (const char* g : {"train", "optimizer", "state", "params"})
    if (!r.has(g)) throw format_error(f + ": missing group /" + std::string(g));
  TrainConfig& t = c.train;
  struct Read {
    const io::Reader& r;
    void operator()(const char* name, std::string& v) const { v = r.attr_string("train", name); }
    void operator()(const char* name, int64_t& v) const { v = r.attr_int("train", name); }
    void operator()(const char* name, uint64_t& v) const { v = r.attr_uint("train", name); }
    void operator()(const char* name, double& v) const { v = r.attr_double("train", name); }
  };
  visit_train_fields(t, Read{r});
  t.meta_batch = r.version() >= 2 ? r.attr_int("train", "meta_batch") : 1;
  try {
    t.part = parse_part_choice(r.attr_string("train", "part"));
    t.val_part = parse_part_choice(r.attr_string("train", "val_part"));
    t.validate();
  } catch (const usage_error& e) {
    throw format_error(f + ": /train: " + e.what());
  }
  // Every stored number must be finite: a NaN would only surface later, as a diverged resume
  // or as NaN scores.
  auto finite = [&](const std::vector<float>& v, const std::string& name) {
    for (float x : v)
      if (!std::isfinite(x)) throw format_error(f + ": /" + name + " holds NaN or infinity");
  };
  // The backbone's convolutions (Method::base_convolutions' views conv<i>.weight/bias, which
  // every method keeps in θ) checked against /config before the method is built: a damaged
  // hidden or depth would otherwise allocate gigabytes before any shape is compared.
  const ParamLayout convs = conv_layout(c.model.backbone);
  for (const ParamView& v : convs.views()) {
    const std::string name = "params/" + v.name;
    const io::Shape want(v.shape.begin(), v.shape.end());
    if (r.has(name) && r.shape(name) != want)
      throw format_error(f + ": dataset /" + name + " has shape " +
                         io::shape_string(r.shape(name)) + "; expected " + io::shape_string(want));
  }
  auto method = make_method(c.model);
  const ParamLayout& layout = method->params().layout();
  c.params.assign(layout.size(), 0.0f);
  for (const ParamView& v : layout.views()) {
    io::Shape shape(v.shape.begin(), v.shape.end());
    auto data = r.get_f32("params/" + v.name, shape);
    finite(data, "params/" + v.name);
    std::copy(data.begin(), data.end(), c.params.begin() + v.offset);
  }
  // The optimizer state is /train's optimizer's: Adam keeps two slots (m, v), SGD one with
  // momentum and none without. A file written before any step may hold no state (kind "").
  const std::string kind = r.attr_string("optimizer", "kind");
  if (!kind.empty() && kind != t.optimizer)
    throw format_error(f + ": /optimizer: kind '" + kind + "' is not /train's optimizer '" +
                       t.optimizer + "'");
  c.optimizer.kind = kind;
  c.optimizer.step = r.attr_int("optimizer", "step");
  if (c.optimizer.step < 0)
    throw format_error(f + ": /optimizer: step is " + std::to_string(c.optimizer.step) +
                       "; expected >= 0");
  const int64_t slots = r.attr_int("optimizer", "slots");
  const int64_t want = kind.empty() ? 0 : kind == "adam" ? 2 : t.momentum > 0 ? 1 : 0;
  if (slots != want)
    throw format_error(
        f + ": /optimizer: slots is " + std::to_string(slots) + "; expected " +
        std::to_string(want) + " for " + (kind.empty() ? std::string("no state") : kind) +
        (kind == "sgd" ? (t.momentum > 0 ? " with momentum" : " without momentum") : ""));
  for (int64_t i = 0; i < slots; ++i) {
    const std::string name = "optimizer/slot" + std::to_string(i);
    c.optimizer.slots.push_back(r.get_f32(name, {int64_t(layout.size())}));
    finite(c.optimizer.slots.back(), name);
  }
  c.episode = r.attr_int("state", "episode");
  c.best_val = r.attr_double("state", "best_val_accuracy");
  c.best_val_ci95 = r.attr_double("state", "best_val_ci95");
  c.best_episode = r.attr_int("state", "best_episode");
  c.elapsed_seconds = r.attr_double("state", "elapsed_seconds");
  if (c.episode < 0 || c.episode > t.episodes)
    throw format_error(f + ": /state: episode " + std::to_string(c.episode) +
                       " outside [0, " + std::to_string(t.episodes) + "]");
  return c;
}

std::unique_ptr<Method> load_method(const Checkpoint& c, const std::string& where) {
  auto m = make_method(c.model);
  if (m->params().size() != c.params.size())
    throw format_error(where + ": " + std::to_string(c.params.size()) +
                       " parameters, but a " + c.model.method + " model of this shape has " +
                       std::to_string(m->params().size()));
  std::copy(c.params.begin(), c.params.end(), m->params().values());
  return m;
}

}  // namespace fsh
