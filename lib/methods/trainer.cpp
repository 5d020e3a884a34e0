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

#include "dist/dist.hpp"
#include "eval/stats.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/signals.hpp"

namespace fsh {

namespace {

// The fraction of episode i's queries that method m, adapted to its support set, gets right.
double episode_accuracy(Method& m, const Episodes& e, const Dataset* d, int64_t i) {
  const EpisodeTensors t = to_tensors(episode_images(e, i, d));
  const AdaptedClassifier a = m.adapt(t);
  const auto pred = classify(m.config(), a, t);
  int correct = 0;
  for (std::size_t q = 0; q < pred.size(); ++q) correct += pred[q] == t.query_labels[q];
  return pred.empty() ? 0.0 : double(correct) / pred.size();
}

}  // namespace

std::vector<double> evaluate_accuracy(Method& m, const Episodes& e, const Dataset* d) {
  std::vector<double> acc;
  acc.reserve(static_cast<std::size_t>(e.count()));
  for (int64_t i = 0; i < e.count(); ++i) acc.push_back(episode_accuracy(m, e, d, i));
  return acc;
}

namespace {

// Σ_j ∇θ(episode j), summed left to right in float into m.params().grads(), and the loss
// summed in episode order (not yet divided by B): the part of meta_batch_gradient that a
// data-parallel chain starts with on rank 0.
EpisodeResult sum_in_order(Method& m, const std::vector<EpisodeTensors>& episodes,
                           std::vector<float>& scratch) {
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
  return total;
}

// The mean: ×1/B (not for B = 1), in float for the gradient and in double for the loss.
void divide(Method& m, int64_t B, EpisodeResult& total) {
  if (B <= 1) return;
  const std::size_t n = m.params().size();
  float* g = m.params().grads();
  const float inv = 1.0f / static_cast<float>(B);
  for (std::size_t i = 0; i < n; ++i) g[i] *= inv;
  total.loss /= double(B);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

EpisodeResult meta_batch_gradient(Method& m, const std::vector<EpisodeTensors>& episodes,
                                  std::vector<float>& scratch) {
  if (episodes.empty()) throw usage_error("meta-batch: no episodes");
  EpisodeResult total = sum_in_order(m, episodes, scratch);
  divide(m, static_cast<int64_t>(episodes.size()), total);
  return total;
}

EpisodeResult meta_batch_gradient_parallel(Method& m, const std::vector<EpisodeTensors>& mine,
                                           int64_t B, std::vector<float>& scratch,
                                           StepTiming* timing) {
  const int P = dist::size(), me = dist::rank();
  if (B < 1) throw usage_error("meta-batch: no episodes");
  const int64_t own = dist::block_begin(B, P, me + 1) - dist::block_begin(B, P, me);
  if (int64_t(mine.size()) != own)
    throw std::logic_error("meta_batch_gradient_parallel: rank " + std::to_string(me) +
                           " holds " + std::to_string(mine.size()) + " episodes, not " +
                           std::to_string(own));
  const int active = static_cast<int>(std::min<int64_t>(B, P));  // ranks 0 .. active-1
  const int last = active - 1;
  const std::size_t n = m.params().size();
  float* g = m.params().grads();
  // The chain passes θ's gradient in pieces, so that rank k+1 adds piece c while rank k
  // receives piece c+1: one hop's latency per rank, not one whole transfer.
  const std::size_t piece = std::size_t(1) << 14;  // floats (64 KiB)
  // Loss sum, correct, total: the counts are exact in double.
  double head[3] = {0, 0, 0};
  const double t0 = now_seconds();
  std::vector<EpisodeResult> r(mine.size());
  if (me == 0) {
    // The chain's start: exactly one process's sum over this block.
    const EpisodeResult sum = sum_in_order(m, mine, scratch);
    head[0] = sum.loss;
    head[1] = sum.correct;
    head[2] = sum.total;
  } else if (me < active) {
    // This rank's gradients, each kept: they are added to the partial sum one by one, in
    // episode order, once it arrives.
    if (scratch.size() < n * mine.size()) scratch.resize(n * mine.size());
    for (std::size_t j = 0; j < mine.size(); ++j)
      r[j] = m.loss_and_grad(mine[j], scratch.data() + j * n);
  }
  // Costs a few microseconds, and makes the timing honest: the chain starts when the slowest
  // rank is done (it could not finish earlier anyway).
  const double t1 = now_seconds();
  dist::barrier();
  const double t2 = now_seconds();
  if (me == 0) {
    if (active > 1) {
      dist::send(head, 3, 1);
      for (std::size_t at = 0; at < n; at += piece) dist::send(g + at, std::min(piece, n - at), 1);
    }
  } else if (me < active) {
    dist::recv(head, 3, me - 1);
    for (std::size_t j = 0; j < mine.size(); ++j) {
      head[0] += r[j].loss;
      head[1] += r[j].correct;
      head[2] += r[j].total;
    }
    if (me < last) dist::send(head, 3, me + 1);
    for (std::size_t at = 0; at < n; at += piece) {
      const std::size_t len = std::min(piece, n - at);
      dist::recv(g + at, len, me - 1);
      for (std::size_t j = 0; j < mine.size(); ++j) {
        const float* gj = scratch.data() + j * n + at;
        float* out = g + at;
        for (std::size_t i = 0; i < len; ++i) out[i] += gj[i];
      }
      if (me < last) dist::send(g + at, len, me + 1);
    }
  }
  // Ranks without episodes (B < P) come straight here and wait.
  dist::broadcast(head, 3, last);
  dist::broadcast(g, n, last);
  if (timing) {
    timing->compute += t1 - t0;
    timing->wait += t2 - t1;
    timing->reduce += now_seconds() - t2;
  }
  EpisodeResult total;
  total.loss = head[0];
  total.correct = static_cast<int>(head[1]);
  total.total = static_cast<int>(head[2]);
  divide(m, B, total);
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

namespace {

// FNV-1a over the bits of θ and the optimizer state: what must be identical on every rank.
uint64_t state_hash(const float* params, std::size_t n, const OptimizerState& o) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, std::size_t bytes) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ c[i]) * 1099511628211ull;
  };
  mix(params, n * sizeof(float));
  mix(&o.step, sizeof o.step);
  for (const auto& slot : o.slots) mix(slot.data(), slot.size() * sizeof(float));
  return h;
}

}  // namespace

TrainOutcome train(Checkpoint& ck, const Dataset* data, const EpisodeSet* episodes,
                   const TrainRun& run) {
  TrainConfig& t = ck.train;
  // Data-parallel under MPI: P processes, this one `me`; rank 0 alone writes and speaks.
  const int P = dist::size(), me = dist::rank();
  const bool root = me == 0;
  auto say = [&](const std::string& s) {
    if (root && run.message) run.message(s);
  };
  // Setting up: the same on every rank, so a failure (a checkpoint that does not fit, a part
  // too small for the episodes) is every rank's, said once (dist::all_or_none).
  std::unique_ptr<Method> method;
  std::unique_ptr<Optimizer> optimizer;
  Episodes val;
  bool validate = false;
  std::optional<EpisodeSampler> sampler;
  dist::all_or_none([&] {
    t.validate();
    method = load_method(ck, run.output);
    optimizer = t.optimizer == "adam"
                    ? std::unique_ptr<Optimizer>(new Adam(method->params().size()))
                    : std::unique_ptr<Optimizer>(
                          new Sgd(method->params().size(), SgdConfig{t.momentum, 0.0}));
    if (!ck.optimizer.kind.empty()) optimizer->set_state(ck.optimizer);
    if (P > t.meta_batch)
      say("warning: " + std::to_string(P) + " processes for meta-batches of " +
          std::to_string(t.meta_batch) + " episodes: " + std::to_string(P - t.meta_batch) +
          " of them have no episode and wait at every step (correct, but wasted)");

    // Validation episodes: drawn once, the same at every validation and across resumes.
    validate = t.val_every > 0 && data != nullptr;
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

    // Training episodes: the classes are indexed once, then one episode is drawn per step.
    if (!episodes) {
      SampleOptions so;
      so.n_way = t.n_way;
      so.k_shot = t.k_shot;
      so.n_query = t.n_query;
      so.seed = t.seed;
      so.part = t.part;
      sampler.emplace(*data, so, t.data, t.data_fingerprint);
    }
  });

  // Validation accuracies, each episode's computed by one rank (a contiguous block each) and
  // gathered in episode order: the same list, so the same mean and interval, as one process.
  auto validation = [&]() -> std::vector<double> {
    if (P == 1) return evaluate_accuracy(*method, val, data);
    const int64_t lo = dist::block_begin(val.count(), P, me);
    const int64_t hi = dist::block_begin(val.count(), P, me + 1);
    std::vector<double> acc;
    for (int64_t i = lo; i < hi; ++i) acc.push_back(episode_accuracy(*method, val, data, i));
    return dist::gather_all(acc);
  };

  // The log is rank 0's; opening it is agreed, so a bad path stops every rank.
  std::optional<Log> log;
  dist::on_root([&] { log.emplace(run.log); });
  if (!log) log.emplace("");
  install_interrupt_handlers();
  Progress progress(t.episodes, "episode", run.progress && root);
  const auto start = std::chrono::steady_clock::now();
  const double elapsed_before = ck.elapsed_seconds;
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  TrainOutcome out;
  out.processes = P;
  const int64_t first_episode = ck.episode;
  double win_loss = 0, win_acc = 0;
  int64_t win_n = 0;
  StepTiming timing;

  // Every rank must hold the same θ and optimizer state (they take the same steps from the
  // same gradients); checked whenever a checkpoint is written, at the cost of one hash.
  auto check_agreement = [&] {
    if (P == 1) return;
    const auto h = dist::gather_all(state_hash(method->params().values(),
                                               method->params().size(), optimizer->state()));
    for (int p = 1; p < P; ++p)
      if (h[std::size_t(p)] != h[0])
        throw dist::collective_error(
            "data-parallel training: rank " + std::to_string(p) +
                " holds other parameters than rank 0 after episode " +
                std::to_string(ck.episode) + " (a bug in fsh: please report it)",
            1, root);
  };
  auto save = [&](const std::string& path) {
    ck.params.assign(method->params().values(),
                     method->params().values() + method->params().size());
    ck.optimizer = optimizer->state();
    ck.elapsed_seconds = elapsed_before + seconds();
    check_agreement();
    dist::on_root([&] { write_checkpoint(ck, method->params().layout(), path, run.provenance); });
    if (path == run.output) out.last_checkpoint = ck.episode;
  };
  auto record = [&](const char* kind, int64_t episode, double loss, double acc, double ci95,
                    double lr, double rate, double elapsed) {
    dist::on_root([&] { log->record(kind, episode, loss, acc, ci95, lr, rate, elapsed); });
  };

  // A fresh run writes its initial state before the first episode, so that from then on the
  // output always holds a checkpoint of THIS run: one to resume after a kill, and the last good
  // one when training diverges. Without it, a run stopped before its first periodic checkpoint
  // would leave nothing, or an earlier run's file that --resume would continue as if it were
  // this one's. It also finds an unwritable output before any training time is spent.
  if (ck.episode == 0 && t.checkpoint_every > 0) save(run.output);

  std::vector<EpisodeTensors> batch;
  std::vector<float> scratch;
  while (ck.episode < t.episodes) {
    // Whether to stop before this step: a signal (on any rank: under mpirun every process
    // gets it) or rank 0's clock; agreed by all ranks, so all stop after the same step.
    int64_t stop[2] = {interrupt_signal(),
                       root && run.max_seconds > 0 && seconds() >= run.max_seconds};
    if (P > 1) dist::max_all(stop, 2);
    if (stop[0]) {
      out.status = TrainStatus::interrupted;
      out.signal = static_cast<int>(stop[0]);
      break;
    }
    if (stop[1]) {
      out.status = TrainStatus::time_limit;
      break;
    }
    // One optimizer step: episodes e0 .. e0 + B - 1 (the last step may hold fewer); under
    // MPI this rank draws only its own block of them.
    const int64_t e0 = ck.episode;
    const int64_t B = std::min<int64_t>(t.meta_batch, t.episodes - e0);
    const int64_t lo = dist::block_begin(B, P, me), hi = dist::block_begin(B, P, me + 1);
    batch.resize(std::size_t(hi - lo));
    for (int64_t j = lo; j < hi; ++j) {
      const int64_t e = e0 + j;
      EpisodeTensors& slot = batch[std::size_t(j - lo)];
      if (episodes) {
        slot = to_tensors(episodes->images(e % episodes->count()));
      } else {
        const Episodes one = sampler->draw(e, 1);
        slot = to_tensors(episode_images(one, 0, data));
      }
    }
    const EpisodeResult r = P == 1 ? meta_batch_gradient(*method, batch, scratch)
                                   : meta_batch_gradient_parallel(*method, batch, B, scratch,
                                                                  &timing);
    ++out.steps_this_run;
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
      record("train", done, win_loss / win_n, win_acc / win_n, 0, lr, progress.rate(done),
             elapsed_before + seconds());
      win_loss = win_acc = 0;
      win_n = 0;
    }
    if (validate && (crossed(e0, done, t.val_every) || done == t.episodes)) {
      const MeanCI v = mean_ci95(validation());
      record("val", done, 0, v.mean, v.ci95, lr, progress.rate(done), elapsed_before + seconds());
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
  // The data-parallel figures, each the largest over the ranks.
  if (P > 1) {
    const auto all = dist::gather_all(std::vector<double>{timing.compute, timing.wait,
                                                          timing.reduce});
    for (std::size_t p = 0; p < all.size(); p += 3) {
      out.compute_seconds = std::max(out.compute_seconds, all[p]);
      out.wait_seconds = std::max(out.wait_seconds, all[p + 1]);
      out.reduce_seconds = std::max(out.reduce_seconds, all[p + 2]);
    }
    out.bytes_per_hop = method->params().size() * sizeof(float);
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
