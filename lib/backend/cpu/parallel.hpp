// A small persistent worker pool for the CPU kernels' own loops (internal). parallel_for
// splits [0, n) into at most threads() contiguous ranges, one per thread (the caller runs the
// first). Kernels split only over independent items (channels), never inside a reduction, so
// results do not depend on the thread count. Steady-state calls do not allocate.
#pragma once
#include <type_traits>

namespace fsh::detail {

// Runs body(ctx, begin, end) over the ranges of [0, n); returns when all are done.
void parallel_ranges(int n, void (*body)(void*, int, int), void* ctx);
// Number of threads parallel_ranges uses (>= 1); set by fsh::set_threads.
void set_pool_threads(int n);

template <class F>
void parallel_for(int n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  parallel_ranges(
      n, [](void* c, int b, int e) { (*static_cast<Fn*>(c))(b, e); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace fsh::detail
