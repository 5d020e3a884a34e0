// Starting and resuming training runs (see setup.hpp).
#include "methods/setup.hpp"

#include "data/fingerprint.hpp"
#include "data/prepare.hpp"
#include "io/dataset_io.hpp"
#include "util/error.hpp"
#include "util/seeds.hpp"

namespace fsh {

TrainingData open_training_data(const std::string& path, const std::string& dataset_for_episodes) {
  TrainingData d;
  bool is_episodes = false;
  {
    io::Reader probe(path);
    is_episodes = probe.format() == "fsh-episodes";
  }
  if (is_episodes) {
    d.episodes = open_episodes(path, dataset_for_episodes);
    d.fingerprint = d.episodes->episodes.dataset_fingerprint;
  } else {
    if (!dataset_for_episodes.empty())
      throw usage_error("--dataset applies to an fsh-episodes --data file; " + path +
                        " is a dataset itself");
    d.dataset = read_dataset(path);
    d.fingerprint = dataset_fingerprint(*d.dataset);
  }
  return d;
}

Checkpoint start_run(const ModelConfig& model, TrainConfig t, const std::string& data_path,
                     const TrainingData& data, const std::string& init_from,
                     std::string* init_note) {
  Checkpoint ck;
  ck.model = model;
  t.data = data_path;
  t.data_fingerprint = data.fingerprint;
  t.val_seed = derive_seed(t.seed, SeedPurpose::validation);
  Conv4Config& b = ck.model.backbone;
  if (data.episodes) {
    const EpisodeImages first = data.episodes->images(0);
    b.in_channels = static_cast<int>(first.channels);
    b.height = static_cast<int>(first.height);
    b.width = static_cast<int>(first.width);
    t.n_way = data.episodes->episodes.n_way;
    t.k_shot = data.episodes->episodes.k_shot;
    t.n_query = data.episodes->episodes.n_query;
    // What the images are, for preparing new pictures alike (the dataset's record; embedded
    // images alone do not say how they were made).
    if (data.episodes->dataset) {
      ck.model.input = data.episodes->dataset->preparation;
      ck.model.input_mean = mean_brightness(data.episodes->dataset->images);
    } else {
      ck.model.input_mean = mean_brightness(data.episodes->episodes.images);
    }
  } else if (data.dataset) {
    b.in_channels = static_cast<int>(data.dataset->channels);
    b.height = static_cast<int>(data.dataset->height);
    b.width = static_cast<int>(data.dataset->width);
    ck.model.input = data.dataset->preparation;
    ck.model.input_mean = mean_brightness(data.dataset->images);
  } else {
    throw usage_error("start_run: no training data");
  }
  t.validate();
  ck.train = t;
  ck.model.settings = complete_settings(model.method, model.settings);
  // A method whose network has a head of fixed width (MAML) declares a `ways` setting: it is
  // the training episodes' ways, and validation episodes must have as many.
  bool fixed_head = false;
  for (const SettingSpec& s : method_info(model.method).settings) fixed_head |= s.name == "ways";
  if (fixed_head) {
    if (model.settings.count("ways") && std::get<int64_t>(ck.model.settings["ways"]) != t.n_way)
      throw usage_error(model.method + ": setting ways " +
                        to_string(ck.model.settings["ways"]) + " differs from the " +
                        std::to_string(t.n_way) + "-way training episodes");
    if (t.val_every > 0 && t.val_way != t.n_way)
      throw usage_error(model.method + " classifies with a " + std::to_string(t.n_way) +
                        "-way head (the training episodes' ways); validation episodes must be " +
                        std::to_string(t.n_way) + "-way too, not " + std::to_string(t.val_way) +
                        " (--val-way)");
    ck.model.settings["ways"] = int64_t(t.n_way);
    ck.model.settings = complete_settings(model.method, ck.model.settings);
  }
  auto method = make_method(ck.model);
  Rng rng = purpose_rng(t.seed, SeedPurpose::initialisation);
  method->init(rng);
  ck.params.assign(method->params().values(),
                   method->params().values() + method->params().size());
  if (!init_from.empty()) {
    const std::string note = init_from_model(ck, init_from);
    if (init_note) *init_note = note;
  }
  return ck;
}

std::string init_from_model(Checkpoint& ck, const std::string& model_path) {
  const Checkpoint src = read_checkpoint(model_path);
  const Conv4Config &a = src.model.backbone, &b = ck.model.backbone;
  auto describe = [](const Conv4Config& c) {
    return std::to_string(c.in_channels) + "x" + std::to_string(c.height) + "x" +
           std::to_string(c.width) + " images, hidden " + std::to_string(c.hidden) + ", depth " +
           std::to_string(c.depth) + ", eps " + to_string(SettingValue(c.bn_eps));
  };
  if (a.in_channels != b.in_channels || a.height != b.height || a.width != b.width ||
      a.hidden != b.hidden || a.depth != b.depth || a.bn_eps != b.bn_eps)
    throw usage_error(model_path + ": --init-from needs the same backbone; the model's is " +
                      describe(a) + ", this run's " + describe(b));
  const ParamLayout from = make_method(src.model)->params().layout();
  const ParamLayout to = make_method(ck.model)->params().layout();
  if (ck.params.size() != to.size() || src.params.size() != from.size())
    throw shape_error("init_from_model: parameter buffers do not match their layouts");
  const ParamLayout backbone = conv4_layout(b);
  for (const ParamView& v : backbone.views())
    if (!from.contains(v.name))
      throw usage_error(model_path + ": --init-from: the model has no Conv-4 parameter " + v.name);
  for (const ParamView& v : to.views())
    if (from.contains(v.name) && from.at(v.name).shape != v.shape)
      throw usage_error(model_path + ": --init-from: parameter " + v.name +
                        " has another shape there (" + std::to_string(from.at(v.name).size) +
                        " values, here " + std::to_string(v.size) + ")");
  std::size_t tensors = 0, values = 0;
  std::string left;
  for (const ParamView& v : to.views()) {
    if (!from.contains(v.name)) {
      left += (left.empty() ? "" : ", ") + v.name;
      continue;
    }
    const ParamView& w = from.at(v.name);
    std::copy_n(src.params.begin() + w.offset, v.size, ck.params.begin() + v.offset);
    ++tensors;
    values += v.size;
  }
  ck.elapsed_seconds = src.elapsed_seconds;
  return "initialised " + std::to_string(tensors) + " parameter tensors (" +
         std::to_string(values) + " values) from " + model_path + " (" + src.model.method +
         ", " + std::to_string(src.episode) + " episodes, " + to_string(src.model.bn) +
         " batch norm)" + (left.empty() ? std::string() : "; initialised afresh: " + left);
}

void check_resume_data(Checkpoint& ck, const TrainingData& data, const std::string& where,
                       const std::string& data_path) {
  if (data.dataset && !ck.train.data_fingerprint.empty() &&
      data.fingerprint != ck.train.data_fingerprint)
    throw format_error(data_path + ": this is not the dataset " + where +
                       " was trained on (fingerprint " + data.fingerprint + ", expected " +
                       ck.train.data_fingerprint + ")");
  if (data.episodes && !ck.train.data_fingerprint.empty() &&
      data.fingerprint != ck.train.data_fingerprint)
    throw format_error(data_path + ": these episodes index another dataset than the one " + where +
                       " was trained on (fingerprint " + data.fingerprint + ", expected " +
                       ck.train.data_fingerprint + ")");
  ck.train.data_fingerprint = data.fingerprint;
}

std::vector<std::string> resume_warnings(bool seed_given, bool model_flags_given) {
  std::vector<std::string> w;
  if (seed_given)
    w.push_back("warning: --seed is ignored with --resume (the checkpoint's seed continues its "
                "episode stream)");
  if (model_flags_given)
    w.push_back("warning: model and training flags are ignored with --resume (the checkpoint's "
                "configuration is used; only -n/--num-episodes may raise the total)");
  return w;
}

}  // namespace fsh
