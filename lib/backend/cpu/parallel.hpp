// The CPU backend's threads (internal): its thread count, and a small persistent worker pool
// for the kernels' own loops. parallel_for splits [0, n) into at most cpu_threads() contiguous
// ranges, one per thread (the caller runs the first). Kernels split only over independent items
// (channels), never inside a reduction, so results do not depend on the thread count.
// Steady-state calls do not allocate.
#pragma once
#include <type_traits>

namespace fsh::detail {

// Runs body(ctx, begin, end) over the ranges of [0, n); returns when all are done.
void parallel_ranges(int n, void (*body)(void*, int, int), void* ctx);
// The CPU backend's thread count (>= 1): the pool's size and OpenBLAS's thread count outside
// the regions where a kernel holds OpenBLAS serial. All cores until set_cpu_threads is called.
int cpu_threads();
// Sets it; n = 0: all cores (n >= 0: the backend object validates).
void set_cpu_threads(int n);

template <class F>
void parallel_for(int n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  parallel_ranges(
      n, [](void* c, int b, int e) { (*static_cast<Fn*>(c))(b, e); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace fsh::detail
