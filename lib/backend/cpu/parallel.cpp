// The CPU backend's thread count and worker pool: cpu_threads()-1 persistent workers woken per
// call through a generation counter; the calling thread takes the first range and waits for the
// rest.
#include "backend/cpu/parallel.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace fsh::detail {

namespace {

// Set on pool workers (and on a caller while it runs its own range): a kernel called from inside
// a parallel region runs serially instead of waiting for the busy pool.
thread_local bool t_in_region = false;

int all_cores() {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return hw > 0 ? hw : 1;
}

// 0 until set_cpu_threads: all cores (read when the pool is first used).
std::atomic<int> g_threads{0};

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { resize(1); }

  void resize(int threads) {
    std::lock_guard<std::mutex> run(run_mu_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    const uint64_t gen = generation_;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i, gen] { work(i, gen); });
  }

  void run(int n, void (*body)(void*, int, int), void* ctx) {
    const int parts = t_in_region ? 1 : std::min<int>(n, int(workers_.size()) + 1);
    if (parts <= 1) {
      if (n > 0) body(ctx, 0, n);
      return;
    }
    std::lock_guard<std::mutex> run(run_mu_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      body_ = body;
      ctx_ = ctx;
      n_ = n;
      parts_ = parts;
      pending_ = int(workers_.size());
      ++generation_;
    }
    cv_work_.notify_all();
    t_in_region = true;
    body(ctx, 0, end_of(0));
    t_in_region = false;
    std::unique_lock<std::mutex> lk(mu_);
    cv_done_.wait(lk, [this] { return pending_ == 0; });
  }

 private:
  int end_of(int part) const { return int((int64_t(n_) * (part + 1)) / parts_); }

  // seen: the generation at creation, so a call made before this thread first waits is not lost.
  void work(int id, uint64_t seen) {
    t_in_region = true;
    for (;;) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (id < parts_) {
        const int b = end_of(id - 1), e = end_of(id);
        auto* body = body_;
        void* ctx = ctx_;
        lk.unlock();
        body(ctx, b, e);
        lk.lock();
      }
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }

  std::mutex run_mu_;  // one parallel region at a time
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> workers_;
  uint64_t generation_ = 0;
  int pending_ = 0, n_ = 0, parts_ = 1;
  bool stop_ = false;
  void (*body_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
};

Pool& pool() {
  static Pool p(cpu_threads());
  return p;
}

}  // namespace

void parallel_ranges(int n, void (*body)(void*, int, int), void* ctx) { pool().run(n, body, ctx); }

int cpu_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : all_cores();
}

void set_cpu_threads(int n) {
  g_threads.store(std::max(0, n));
  // OpenBLAS stays single-threaded whatever n is: its own threading changes which kernel path
  // computes an element, hence the bits; fsh shares work out among its pool instead.
  openblas_set_num_threads(1);
  pool().resize(cpu_threads());
}

}  // namespace fsh::detail
