// Summaries of fsh-model and fsh-adapted files (see describe.hpp).
#include "methods/describe.hpp"

#include <cstdio>

#include "methods/adapted.hpp"
#include "methods/checkpoint.hpp"

namespace fsh {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// The settings as text and as a JSON object.
InfoLine settings_line(const ModelConfig& m) {
  std::string text, json = "{";
  bool first = true;
  for (const auto& [name, value] : m.settings) {
    text += (first ? "" : ", ") + name + " " + to_string(value);
    std::string v = to_string(value);
    if (std::holds_alternative<std::string>(value)) v = json_string(v);
    json += (first ? "" : ", ") + json_string(name) + ": " + v;
    first = false;
  }
  return {"settings", text.empty() ? "(none)" : text, "settings", json + "}"};
}

std::vector<InfoLine> model_lines(const ModelConfig& m) {
  const Conv4Config& b = m.backbone;
  std::vector<InfoLine> out;
  out.push_back({"method", m.method, "method", json_string(m.method)});
  out.push_back(settings_line(m));
  out.push_back({"batch norm", to_string(m.bn) + " statistics", "bn", json_string(to_string(m.bn))});
  const std::string shape = std::to_string(b.in_channels) + "x" + std::to_string(b.height) + "x" +
                            std::to_string(b.width);
  out.push_back({"backbone",
                 "conv4, input " + shape + " (CxHxW), hidden " + std::to_string(b.hidden) +
                     ", depth " + std::to_string(b.depth) + ", " +
                     std::to_string(b.feature_dim()) + " features",
                 "backbone",
                 "{\"name\": \"conv4\", \"in_channels\": " + std::to_string(b.in_channels) +
                     ", \"height\": " + std::to_string(b.height) + ", \"width\": " +
                     std::to_string(b.width) + ", \"hidden\": " + std::to_string(b.hidden) +
                     ", \"depth\": " + std::to_string(b.depth) + "}"});
  // How image files are prepared for it (fsh-adapt --support, fsh-eval --images).
  std::string text = m.input.known ? std::string(m.input.inverted ? "inverted" : "not inverted") +
                                         (m.input.resize == "area" ? ", resized by area averaging"
                                                                   : ", drawn at size (no files)")
                                   : "preparation not recorded";
  if (m.input_mean >= 0) text += ", mean brightness " + fmt("%.3f", m.input_mean);
  out.push_back({"images", text, "input",
                 "{\"inverted\": " +
                     std::string(m.input.known ? (m.input.inverted ? "true" : "false") : "null") +
                     ", \"resize\": " + (m.input.known ? json_string(m.input.resize) : "null") +
                     ", \"mean\": " + (m.input_mean >= 0 ? fmt("%.6f", m.input_mean) : "null") +
                     "}"});
  return out;
}

}  // namespace

std::vector<InfoLine> describe_method_file(const io::Reader& r) {
  std::vector<InfoLine> out;
  if (r.format() == "fsh-model") {
    const Checkpoint c = read_checkpoint(r);
    out = model_lines(c.model);
    const TrainConfig& t = c.train;
    out.push_back({"parameters", std::to_string(c.params.size()), "parameters",
                   std::to_string(c.params.size())});
    out.push_back({"trained",
                   std::to_string(c.episode) + " of " + std::to_string(t.episodes) +
                       " episodes (" + std::to_string(t.n_way) + "-way " +
                       std::to_string(t.k_shot) + "-shot " + std::to_string(t.n_query) +
                       "-query, meta-batch " + std::to_string(t.meta_batch) + "), " +
                       std::to_string(c.optimizer.step) + " " + c.optimizer.kind + " steps",
                   "episodes", std::to_string(c.episode)});
    out.push_back({"", "", "episodes_total", std::to_string(t.episodes)});
    out.back().label = "schedule";
    out.back().text = "lr " + fmt("%g", t.schedule.base_lr) +
                      (t.schedule.step > 0 ? " x" + fmt("%g", t.schedule.gamma) + " every " +
                                                 std::to_string(t.schedule.step) + " episodes"
                                           : " constant") +
                      ", seed " + std::to_string(t.seed);
    out.push_back({"", "", "meta_batch",
                   std::to_string(t.meta_batch)});
    out.push_back({"data", t.data + " (part " + to_string(t.part) + ", fingerprint " +
                               t.data_fingerprint + ")",
                   "data", json_string(t.data)});
    if (c.best_episode >= 0)
      out.push_back({"best val", fmt("%.2f%%", 100 * c.best_val) + " ± " +
                                     fmt("%.2f%%", 100 * c.best_val_ci95) + " at episode " +
                                     std::to_string(c.best_episode),
                     "best_val_accuracy", fmt("%.6f", c.best_val)});
    out.push_back({"train time", fmt("%.0f s", c.elapsed_seconds), "elapsed_seconds",
                   fmt("%.3f", c.elapsed_seconds)});
  } else if (r.format() == "fsh-adapted") {
    const AdaptedSet s = read_adapted(r);
    out = model_lines(s.model);
    out.push_back({"classifiers",
                   std::to_string(s.count()) + " episodes (" + std::to_string(s.n_way) +
                       "-way " + std::to_string(s.k_shot) + "-shot, " +
                       std::to_string(s.n_query) + " queries per class; first " +
                       std::to_string(s.first) + ", seed " + std::to_string(s.episodes_seed) +
                       ")",
                   "episodes", std::to_string(s.count())});
    out.push_back({"storage",
                   s.per_episode_convs()
                       ? "per-episode convolutions (the method changes them), fold and head"
                       : "shared base convolutions; per-episode fold and head",
                   "per_episode_convolutions", s.per_episode_convs() ? "true" : "false"});
    out.push_back({"dataset", "fingerprint " + s.dataset_fingerprint, "dataset_fingerprint",
                   json_string(s.dataset_fingerprint)});
    if (s.part)  // fsh-adapt --shard: which episodes of which file (man 5 fsh-adapted, SHARDS)
      out.push_back({"shard",
                     to_string(s.part->shard) + ": " + describe_range(s.range(), s.part->total) +
                         "; episodes fingerprint " + s.part->episodes_fingerprint +
                         ", model fingerprint " + s.part->model_fingerprint,
                     "shard", json_string(to_string(s.part->shard))});
    if (!s.class_names.empty() && s.count() == 1) {
      std::string text, json = "[";
      for (std::size_t c = 0; c < s.class_names.size(); ++c) {
        text += (c ? ", " : "") + s.class_names[c];
        json += (c ? ", " : "") + json_string(s.class_names[c]);
      }
      out.push_back({"classes", text, "classes", json + "]"});
    }
    if (s.source_height > 0)
      out.push_back({"image files", std::to_string(s.source_height) + "x" +
                                        std::to_string(s.source_width) + " (HxW)",
                     "source_size",
                     "[" + std::to_string(s.source_height) + ", " +
                         std::to_string(s.source_width) + "]"});
  }
  return out;
}

}  // namespace fsh
