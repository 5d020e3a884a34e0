// Starting and resuming training runs (see setup.hpp).
#include "methods/setup.hpp"

#include "data/fingerprint.hpp"
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
                     const TrainingData& data) {
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
  } else if (data.dataset) {
    b.in_channels = static_cast<int>(data.dataset->channels);
    b.height = static_cast<int>(data.dataset->height);
    b.width = static_cast<int>(data.dataset->width);
  } else {
    throw usage_error("start_run: no training data");
  }
  t.validate();
  ck.train = t;
  ck.model.settings = complete_settings(model.method, model.settings);
  auto method = make_method(ck.model);
  Rng rng = purpose_rng(t.seed, SeedPurpose::initialisation);
  method->init(rng);
  ck.params.assign(method->params().values(),
                   method->params().values() + method->params().size());
  return ck;
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
