// The meta-training loop (see trainer.hpp).
#include "methods/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "eval/stats.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/signals.hpp"

namespace fsh {

std::vector<double> evaluate_accuracy(Method& m, const Episodes& e, const Dataset* d) {
  std::vector<double> acc;
  acc.reserve(static_cast<std::size_t>(e.count()));
  for (int64_t i = 0; i < e.count(); ++i) {
    const EpisodeTensors t = to_tensors(episode_images(e, i, d));
    const AdaptedClassifier a = m.adapt(t);
    const auto pred = classify(m.config(), a, t);
    int correct = 0;
    for (std::size_t q = 0; q < pred.size(); ++q) correct += pred[q] == t.query_labels[q];
    acc.push_back(pred.empty() ? 0.0 : double(correct) / pred.size());
  }
  return acc;
}

EpisodeResult meta_batch_gradient(Method& m, const std::vector<EpisodeTensors>& episodes,
                                  std::vector<float>& scratch) {
  if (episodes.empty()) throw usage_error("meta-batch: no episodes");
  const std::size_t n = m.params().size();
  float* g = m.params().grads();
  EpisodeResult total;
  for (std::size_t j = 0; j < episodes.size(); ++j) {
    float* out = g;
    if (j > 0) {
      if (scratch.size() < n) scratch.resize(n);
      out = scratch.data();
    }
    const EpisodeResult r = m.loss_and_grad(episodes[j], out);
    if (j > 0)
      for (std::size_t i = 0; i < n; ++i) g[i] += out[i];
    total.loss += r.loss;
    total.correct += r.correct;
    total.total += r.total;
  }
  const std::size_t B = episodes.size();
  if (B > 1) {
    const float inv = 1.0f / static_cast<float>(B);
    for (std::size_t i = 0; i < n; ++i) g[i] *= inv;
    total.loss /= double(B);
  }
  return total;
}

namespace {

// Whether a multiple of `every` lies in (before, after].
bool crossed(int64_t before, int64_t after, int64_t every) {
  return every > 0 && after / every != before / every;
}

class Log {
 public:
  explicit Log(const std::string& path) : path_(path) {
    if (path.empty()) return;
    csv_ = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
    const bool exists = std::ifstream(path).good();
    out_.open(path, std::ios::app);
    if (!out_) throw io_error(path + ": cannot open the log for writing");
    if (csv_ && !exists) {
      out_ << "kind,episode,loss,accuracy,ci95,lr,episodes_per_s,elapsed_s\n";
      out_.flush();
      if (!out_) throw io_error(path + ": cannot write the log (disk full?)");
    }
  }
  void record(const char* kind, int64_t episode, double loss, double acc, double ci95, double lr,
              double rate, double elapsed) {
    if (!out_.is_open()) return;
    char buf[512];
    if (csv_)
      std::snprintf(buf, sizeof buf, "%s,%lld,%.6g,%.6g,%.6g,%.6g,%.4g,%.2f\n", kind,
                    static_cast<long long>(episode), loss, acc, ci95, lr, rate, elapsed);
    else
      std::snprintf(buf, sizeof buf,
                    "{\"kind\":\"%s\",\"episode\":%lld,\"loss\":%.6g,\"accuracy\":%.6g,"
                    "\"ci95\":%.6g,\"lr\":%.6g,\"episodes_per_s\":%.4g,\"elapsed_s\":%.2f}\n",
                    kind, static_cast<long long>(episode), loss, acc, ci95, lr, rate, elapsed);
    // A record is appended whole or not at all: a failed write (a full disk) is an error, and
    // the log is cut back to its last complete record.
    const std::streampos before = out_.tellp();
    out_ << buf;
    out_.flush();
    if (!out_) {
      out_.close();
      if (before >= 0) ::truncate(path_.c_str(), static_cast<off_t>(before));
      throw io_error(path_ + ": cannot append to the log (disk full?)");
    }
  }

 private:
  std::string path_;
  std::ofstream out_;
  bool csv_ = false;
};

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

}  // namespace

TrainOutcome train(Checkpoint& ck, const Dataset* data, const EpisodeSet* episodes,
                   const TrainRun& run) {
  TrainConfig& t = ck.train;
  t.validate();
  auto say = [&](const std::string& s) {
    if (run.message) run.message(s);
  };
  auto method = load_method(ck, run.output);
  auto optimizer = t.optimizer == "adam"
                       ? std::unique_ptr<Optimizer>(new Adam(method->params().size()))
                       : std::unique_ptr<Optimizer>(
                             new Sgd(method->params().size(), SgdConfig{t.momentum, 0.0}));
  if (!ck.optimizer.kind.empty()) optimizer->set_state(ck.optimizer);

  // Validation episodes: drawn once, the same at every validation and across resumes.
  Episodes val;
  bool validate = t.val_every > 0 && data != nullptr;
  if (validate) {
    bool has_part = false;
    for (Part p : data->class_part)
      has_part |= (t.val_part == PartChoice::val && p == Part::val) ||
                  (t.val_part == PartChoice::test && p == Part::test) ||
                  (t.val_part == PartChoice::train && p == Part::train);
    if (!has_part) {
      validate = false;
      say("no validation: the data has no '" + to_string(t.val_part) + "' classes");
    } else {
      SampleOptions vo;
      vo.n_way = t.val_way;
      vo.k_shot = t.val_shot;
      vo.n_query = t.val_query;
      vo.count = t.val_count;
      vo.seed = t.val_seed;
      vo.part = t.val_part;
      val = sample_episodes(*data, vo, t.data, t.data_fingerprint);
    }
  }

  Log log(run.log);
  install_interrupt_handlers();
  Progress progress(t.episodes, "episode", run.progress);
  const auto start = std::chrono::steady_clock::now();
  const double elapsed_before = ck.elapsed_seconds;
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  TrainOutcome out;
  const int64_t first_episode = ck.episode;
  double win_loss = 0, win_acc = 0;
  int64_t win_n = 0;

  auto save = [&](const std::string& path) {
    ck.params.assign(method->params().values(),
                     method->params().values() + method->params().size());
    ck.optimizer = optimizer->state();
    ck.elapsed_seconds = elapsed_before + seconds();
    write_checkpoint(ck, method->params().layout(), path, run.provenance);
    if (path == run.output) out.last_checkpoint = ck.episode;
  };

  // Training episodes: the classes are indexed once, then one episode is drawn per step.
  std::optional<EpisodeSampler> sampler;
  if (!episodes) {
    SampleOptions so;
    so.n_way = t.n_way;
    so.k_shot = t.k_shot;
    so.n_query = t.n_query;
    so.seed = t.seed;
    so.part = t.part;
    sampler.emplace(*data, so, t.data, t.data_fingerprint);
  }

  // A fresh run writes its initial state before the first episode, so that from then on the
  // output always holds a checkpoint of THIS run: one to resume after a kill, and the last good
  // one when training diverges. Without it, a run stopped before its first periodic checkpoint
  // would leave nothing, or an earlier run's file that --resume would continue as if it were
  // this one's. It also finds an unwritable output before any training time is spent.
  if (ck.episode == 0 && t.checkpoint_every > 0) save(run.output);

  std::vector<EpisodeTensors> batch;
  std::vector<float> scratch;
  while (ck.episode < t.episodes) {
    if (interrupt_signal()) {
      out.status = TrainStatus::interrupted;
      out.signal = interrupt_signal();
      break;
    }
    if (run.max_seconds > 0 && seconds() >= run.max_seconds) {
      out.status = TrainStatus::time_limit;
      break;
    }
    // One optimizer step: episodes e0 .. e0 + B - 1 (the last step may hold fewer).
    const int64_t e0 = ck.episode;
    const int64_t B = std::min<int64_t>(t.meta_batch, t.episodes - e0);
    batch.resize(std::size_t(B));
    for (int64_t j = 0; j < B; ++j) {
      const int64_t e = e0 + j;
      if (episodes) {
        batch[std::size_t(j)] = to_tensors(episodes->images(e % episodes->count()));
      } else {
        const Episodes one = sampler->draw(e, 1);
        batch[std::size_t(j)] = to_tensors(episode_images(one, 0, data));
      }
    }
    const EpisodeResult r = meta_batch_gradient(*method, batch, scratch);
    if (!std::isfinite(r.loss)) {
      out.status = TrainStatus::diverged;
      char b[160];
      std::snprintf(b, sizeof b, "the loss is %s at episodes %lld..%lld", std::isnan(r.loss) ? "NaN" : "infinite",
                    static_cast<long long>(e0), static_cast<long long>(e0 + B - 1));
      out.message = b;
      break;
    }
    const double lr = t.schedule.lr(e0);
    optimizer->step(method->params().values(), method->params().grads(), lr);
    bool finite = true;
    for (std::size_t i = 0; i < method->params().size() && finite; ++i)
      finite = std::isfinite(method->params().values()[i]);
    if (!finite) {
      out.status = TrainStatus::diverged;
      out.message = "the parameters became NaN or infinite after episode " +
                    std::to_string(e0 + B - 1);
      break;
    }
    ck.episode = e0 + B;
    win_loss += r.loss * double(B);
    win_acc += r.total ? double(r.correct) / r.total * double(B) : 0.0;
    win_n += B;

    const int64_t done = ck.episode;
    char extra[96];
    std::snprintf(extra, sizeof extra, "loss %.4f acc %s", win_loss / win_n,
                  pct(win_acc / win_n).c_str());
    progress.update(done, extra);
    if (crossed(e0, done, run.log_every) || done == t.episodes) {
      log.record("train", done, win_loss / win_n, win_acc / win_n, 0, lr,
                 progress.rate(done), elapsed_before + seconds());
      win_loss = win_acc = 0;
      win_n = 0;
    }
    if (validate && (crossed(e0, done, t.val_every) || done == t.episodes)) {
      const MeanCI v = mean_ci95(evaluate_accuracy(*method, val, data));
      log.record("val", done, 0, v.mean, v.ci95, lr, progress.rate(done),
                 elapsed_before + seconds());
      progress.clear();
      const bool better = v.mean > ck.best_val;
      say("episode " + std::to_string(done) + ": validation " + pct(v.mean) + " ± " +
          pct(v.ci95) + (better ? " (best so far)" : ""));
      if (better) {
        ck.best_val = v.mean;
        ck.best_val_ci95 = v.ci95;
        ck.best_episode = done;
        if (!run.best_output.empty()) save(run.best_output);
      }
    }
    if (crossed(e0, done, t.checkpoint_every) && done < t.episodes) save(run.output);
  }
  if (out.status == TrainStatus::diverged) {
    // θ and the optimizer state are no longer good: the checkpoint on disk (the last one
    // written) is left as it is.
    progress.clear();
    out.episodes_done = ck.episode;
    out.episodes_this_run = ck.episode - first_episode;
    out.seconds_this_run = seconds();
    return out;
  }
  progress.clear();
  save(run.output);
  out.episodes_done = ck.episode;
  out.episodes_this_run = ck.episode - first_episode;
  out.seconds_this_run = seconds();
  return out;
}

}  // namespace fsh
