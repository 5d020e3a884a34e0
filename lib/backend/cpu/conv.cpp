// 2-D convolution on the CPU, forward and backward: im2col + one gemm per block of images.
// With the channel-major layout x: (C, B, H, W), the columns of a block of images are
// contiguous in the output (K, B, Ho, Wo), so W·col writes straight into y (ldc = B·Ho·Wo) and
// no transposes are needed. Blocks bound the im2col scratch (ConvShape::workspace_size).
//
// Threads: the blocks are shared out among fsh's worker pool, each worker running im2col and a
// single-threaded gemm on its own blocks (OpenBLAS is held at one thread meanwhile), so the
// cores work on independent gemms instead of OpenBLAS splitting small ones. The weight gradient
// is summed over a fixed number of chunks of blocks (kWeightChunks, not the thread count), each
// chunk into its own buffer, then added in chunk order: the bits do not depend on the threads.
// Workers other than the caller use im2col scratch owned by this file (grown, never shrunk), so
// the steady state does not allocate.
#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "backend/cpu/cpu_kernels.hpp"
#include "backend/cpu/lanes.hpp"
#include "backend/cpu/parallel.hpp"

namespace fsh {

namespace {
using detail::add_into;
using detail::affine;
using detail::lane_sum;
using detail::parallel_for;
// Scratch per block, in elements: 1 MB in float, so that the block im2col writes is still in
// the core's L2 cache when the gemm reads it (measured with bench-nn: 2-8 MB blocks were
// 20-30% slower), yet hundreds of columns wide so the gemm stays efficient.
constexpr std::size_t kBlockElements = std::size_t(1) << 18;
// Chunks of blocks the weight gradient is summed over (see the file comment): enough to keep
// 2-8 threads evenly busy, few enough that adding the partial sums is negligible.
constexpr int kWeightChunks = 8;

// The file-owned scratch: im2col blocks for workers 1.. (worker 0 uses the caller's workspace)
// and the weight-gradient partial sums of chunks 1.. (chunk 0 sums into dw itself). The mutex
// makes one convolution at a time use it.
template <class T>
struct Scratch {
  std::mutex mu;
  std::vector<std::vector<T>> cols;
  std::vector<T> partial;

  void reserve(int parts, std::size_t col_size) {
    if (cols.size() < std::size_t(std::max(0, parts - 1))) cols.resize(parts - 1);
    for (int p = 0; p + 1 < parts; ++p)
      if (cols[p].size() < col_size) cols[p].resize(col_size);
  }
  T* col(T* work, int part) { return part == 0 ? work : cols[part - 1].data(); }
};

template <class T>
Scratch<T>& scratch() {
  static Scratch<T> s;
  return s;
}

// OpenBLAS runs single-threaded while this lives (fsh's workers run the gemms in parallel).
class SerialBlas {
 public:
  SerialBlas() { openblas_set_num_threads(1); }
  ~SerialBlas() { openblas_set_num_threads(1); }  // OpenBLAS is always serial (cpu_backend.cpp)
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;
};

// Runs f(part, u0, u1) for `parts` contiguous shares [u0, u1) of the units [0, n), in parallel.
template <class F>
void over_parts(int n, int parts, F&& f) {
  parallel_for(parts, [&](int p0, int p1) {
    for (int p = p0; p < p1; ++p)
      f(p, int(int64_t(n) * p / parts), int(int64_t(n) * (p + 1) / parts));
  });
}

// Blocks a batch is cut into at least (when it has that many images), whatever the thread
// count: small batches still give the workers several independent gemms, and the partition --
// hence the bits -- is the same for every thread count.
constexpr int kMinBlocks = 4;

int block_images(const ConvShape& s) {
  std::size_t per_image = std::size_t(s.C) * s.kh * s.kw * s.Ho() * s.Wo();
  std::size_t n = std::max<std::size_t>(1, kBlockElements / std::max<std::size_t>(1, per_image));
  const std::size_t B = std::size_t(std::max(1, s.B));
  n = std::min(n, (B + kMinBlocks - 1) / kMinBlocks);
  return static_cast<int>(std::min<std::size_t>(n, B));
}

// Range [lo, hi) of output columns ow whose input column ow·stride − pad + j lies in [0, W).
void valid_range(int W, int Wo, int stride, int pad, int j, int& lo, int& hi) {
  int first = pad - j;  // need ow·stride >= first
  lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  int last = W - 1 + pad - j;  // need ow·stride <= last
  hi = last < 0 ? 0 : last / stride + 1;
  hi = std::min(hi, Wo);
  lo = std::min(lo, hi);
}

// im2col for stride 1 with output size = input size ("same" padding): row (c, i, j) of col is
// the n planes of channel c shifted by (i − pad)·W + (j − pad) as one flat copy, then the
// positions whose source lies outside their image (rows, then the edge columns) set to zero.
// One large copy per row instead of one per output row of each image.
template <class T>
void im2col_same(const ConvShape& s, const T* x, int b0, int n, T* col) {
  const int H = s.H, W = s.W;
  const std::ptrdiff_t plane = std::ptrdiff_t(H) * W, total = plane * n;
  detail::parallel_for(s.C, [&](int c0, int c1) {
  for (int c = c0; c < c1; ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        T* row = col + std::size_t((c * s.kh + i) * s.kw + j) * total;
        const T* src = x + (std::size_t(c) * s.B + b0) * plane;
        const std::ptrdiff_t shift = std::ptrdiff_t(i - s.pad) * W + (j - s.pad);
        const std::ptrdiff_t t0 = std::max<std::ptrdiff_t>(0, -shift);
        const std::ptrdiff_t t1 = std::min(total, total - shift);
        if (t1 > t0) std::memcpy(row + t0, src + t0 + shift, sizeof(T) * (t1 - t0));
        std::fill(row, row + std::min(t0, total), T(0));
        std::fill(row + std::max(t0, t1), row + total, T(0));
        const int rlo = std::clamp(s.pad - i, 0, H), rhi = std::clamp(H + s.pad - i, rlo, H);
        int lo, hi;
        valid_range(W, W, 1, s.pad, j, lo, hi);
        for (int b = 0; b < n; ++b) {
          T* o = row + b * plane;
          std::fill(o, o + std::ptrdiff_t(rlo) * W, T(0));
          std::fill(o + std::ptrdiff_t(rhi) * W, o + plane, T(0));
          if (lo > 0 || hi < W)
            for (int oh = rlo; oh < rhi; ++oh) {
              std::fill(o + oh * W, o + oh * W + lo, T(0));
              std::fill(o + oh * W + hi, o + (oh + 1) * W, T(0));
            }
        }
      }
  });
}

// col: (C·kh·kw, n·Ho·Wo) from images [b0, b0 + n) of x: (C, B, H, W).
template <class T>
void im2col(const ConvShape& s, const T* x, int b0, int n, T* col) {
  const int Ho = s.Ho(), Wo = s.Wo(), HoWo = Ho * Wo;
  if (s.stride == 1 && Ho == s.H && Wo == s.W) {
    im2col_same(s, x, b0, n, col);
    return;
  }
  const std::size_t ncol = std::size_t(n) * HoWo;
  detail::parallel_for(s.C, [&](int c0, int c1) {
  for (int c = c0; c < c1; ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        T* row = col + (std::size_t(c * s.kh + i) * s.kw + j) * ncol;
        int lo, hi;
        valid_range(s.W, Wo, s.stride, s.pad, j, lo, hi);
        for (int b = 0; b < n; ++b) {
          const T* plane = x + (std::size_t(c) * s.B + b0 + b) * s.H * s.W;
          T* out = row + std::size_t(b) * HoWo;
          for (int oh = 0; oh < Ho; ++oh) {
            T* o = out + oh * Wo;
            int ih = oh * s.stride - s.pad + i;
            if (ih < 0 || ih >= s.H) {
              std::fill(o, o + Wo, T(0));
              continue;
            }
            const T* src = plane + std::size_t(ih) * s.W - s.pad + j;
            std::fill(o, o + lo, T(0));
            if (s.stride == 1) {
              std::memcpy(o + lo, src + lo, sizeof(T) * (hi - lo));
            } else {
              for (int ow = lo; ow < hi; ++ow) o[ow] = src[ow * s.stride];
            }
            std::fill(o + hi, o + Wo, T(0));
          }
        }
      }
  });
}

// The adjoint of im2col: dx[images b0..b0+n) = scatter-sum of col.
// accumulate: add into dx instead of overwriting its planes.
template <class T>
void col2im(const ConvShape& s, const T* col, int b0, int n, T* dx, bool accumulate = false) {
  const int Ho = s.Ho(), Wo = s.Wo(), HoWo = Ho * Wo;
  const std::size_t ncol = std::size_t(n) * HoWo;
  detail::parallel_for(s.C, [&](int c0, int c1) {  // channel c writes only its own planes
  for (int c = c0; c < c1; ++c) {
    if (!accumulate)
      for (int b = 0; b < n; ++b)
        std::fill_n(dx + (std::size_t(c) * s.B + b0 + b) * s.H * s.W, std::size_t(s.H) * s.W,
                    T(0));
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        const T* row = col + (std::size_t(c * s.kh + i) * s.kw + j) * ncol;
        int lo, hi;
        valid_range(s.W, Wo, s.stride, s.pad, j, lo, hi);
        for (int b = 0; b < n; ++b) {
          T* plane = dx + (std::size_t(c) * s.B + b0 + b) * s.H * s.W;
          const T* in = row + std::size_t(b) * HoWo;
          for (int oh = 0; oh < Ho; ++oh) {
            int ih = oh * s.stride - s.pad + i;
            if (ih < 0 || ih >= s.H) continue;
            const T* g = in + oh * Wo;
            T* dst = plane + std::size_t(ih) * s.W - s.pad + j;
            if (s.stride == 1) {
              add_into(g + lo, std::size_t(hi - lo), dst + lo);
            } else {
              for (int ow = lo; ow < hi; ++ow) dst[ow * s.stride] += g[ow];
            }
          }
        }
      }
  }
  });
}
// Stride-1 convolutions with square kernels compute the data gradient as a forward convolution
// of dy with the flipped, transposed kernel (padding kh − 1 − pad): an im2col + gemm of the same
// shape as the forward pass, instead of a gemm with only K terms per output and a scatter-add.
bool data_grad_as_conv(const ConvShape& s) {
  return s.stride == 1 && s.kh == s.kw && s.pad <= s.kh - 1;
}

// The shape of that convolution: dy (K, B, Ho, Wo) -> dx (C, B, H, W).
ConvShape data_grad_shape(const ConvShape& s) {
  ConvShape t;
  t.B = s.B;
  t.C = s.K;
  t.H = s.Ho();
  t.W = s.Wo();
  t.K = s.C;
  t.kh = s.kh;
  t.kw = s.kw;
  t.stride = 1;
  t.pad = s.kh - 1 - s.pad;
  return t;
}

std::size_t col_block_size(const ConvShape& s) {
  return std::size_t(s.C) * s.kh * s.kw * block_images(s) * s.Ho() * s.Wo();
}

// y (K, B, Ho, Wo) = w ⋆ x, block by block: im2col, then one gemm writing straight into y.
// Blocks are independent, so they are shared out among the threads (file comment).
// beta = 1 adds the convolution to y instead (the tangent ops sum two convolutions).
template <class T>
void conv_blocks(detail::CpuKernels<T>& k, const ConvShape& s, const T* x, const T* w, T* y,
                 T* work, T beta = T(0)) {
  const int HoWo = s.Ho() * s.Wo();
  const int CKK = s.C * s.kh * s.kw;
  const int ldy = s.B * HoWo;
  const int nb = block_images(s);
  const int nblocks = (s.B + nb - 1) / nb;
  auto block = [&](T* col, int blk) {
    const int b0 = blk * nb, n = std::min(nb, s.B - b0);
    im2col(s, x, b0, n, col);
    // y[:, b0:b0+n] (K, n·Ho·Wo) = w (K, CKK) · col (CKK, n·Ho·Wo)
    k.gemm(false, false, s.K, n * HoWo, CKK, T(1), w, CKK, col, n * HoWo, beta, y + b0 * HoWo,
           ldy);
  };
  const int parts = std::min(detail::cpu_threads(), nblocks);
  if (parts <= 1) {
    for (int blk = 0; blk < nblocks; ++blk) block(work, blk);
    return;
  }
  Scratch<T>& sc = scratch<T>();
  sc.reserve(parts, col_block_size(s));
  SerialBlas serial;
  over_parts(nblocks, parts, [&](int p, int u0, int u1) {
    for (int blk = u0; blk < u1; ++blk) block(sc.col(work, p), blk);
  });
}
}  // namespace

std::size_t ConvShape::workspace_size() const {
  std::size_t col = col_block_size(*this);
  if (data_grad_as_conv(*this))
    col = std::max(col, col_block_size(data_grad_shape(*this)) + w_size());
  return col;
}

namespace detail {

template <class T>
void CpuKernels<T>::conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias,
                                   T* y, T* work) {
  std::lock_guard<std::mutex> lock(scratch<T>().mu);
  conv_blocks(*this, s, x, w, y, work);
  if (bias) {
    const int ldy = s.B * s.Ho() * s.Wo();
    parallel_for(s.K, [&](int k0, int k1) {
      for (int k = k0; k < k1; ++k) {
        T* row = y + std::size_t(k) * ldy;
        affine(row, std::size_t(ldy), T(1), bias[k], row);
      }
    });
  }
}

template <class T>
void CpuKernels<T>::conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy,
                                    T* dx, T* dw, T* dbias, T* work) {
  const int HoWo = s.Ho() * s.Wo();
  const int CKK = s.C * s.kh * s.kw;
  const int ldy = s.B * HoWo;
  const int nb = block_images(s);
  const bool as_conv = data_grad_as_conv(s);
  if (dbias)
    parallel_for(s.K, [&](int k0, int k1) {
      for (int k = k0; k < k1; ++k)
        dbias[k] = T(lane_sum(dy + std::size_t(k) * ldy, std::size_t(ldy)));
    });
  // Chunk c sums the weight gradient of its blocks into its own buffer (chunk 0: into dw).
  const int nblocks = (s.B + nb - 1) / nb;
  const int nchunks = std::max(1, std::min(kWeightChunks, nblocks));
  const std::size_t wsize = std::size_t(s.K) * CKK;
  const int parts = std::min(detail::cpu_threads(), nchunks);
  Scratch<T>& sc = scratch<T>();
  std::lock_guard<std::mutex> lock(sc.mu);
  sc.reserve(parts, col_block_size(s));
  if (sc.partial.size() < (nchunks - 1) * wsize) sc.partial.resize((nchunks - 1) * wsize);
  auto chunk = [&](T* col, int c) {
    T* acc = c == 0 ? dw : sc.partial.data() + (c - 1) * wsize;
    const int blk0 = int(int64_t(nblocks) * c / nchunks);
    const int blk1 = int(int64_t(nblocks) * (c + 1) / nchunks);
    for (int blk = blk0; blk < blk1; ++blk) {
      const int b0 = blk * nb, n = std::min(nb, s.B - b0);
      const T* dyb = dy + b0 * HoWo;  // (K, n·Ho·Wo) with row stride ldy
      im2col(s, x, b0, n, col);
      // acc (K, CKK) += dy_block (K, n·Ho·Wo) · colᵀ
      gemm(false, true, s.K, CKK, n * HoWo, T(1), dyb, ldy, col, n * HoWo,
           T(blk == blk0 ? 0 : 1), acc, CKK);
      if (dx && !as_conv) {
        // dcol (CKK, n·Ho·Wo) = wᵀ (CKK, K) · dy_block, then scattered back into dx (the
        // planes of this block's images only).
        gemm(true, false, CKK, n * HoWo, s.K, T(1), w, CKK, dyb, ldy, T(0), col, n * HoWo);
        col2im(s, col, b0, n, dx);
      }
    }
  };
  if (parts <= 1) {
    for (int c = 0; c < nchunks; ++c) chunk(work, c);
  } else {
    SerialBlas serial;
    over_parts(nchunks, parts, [&](int p, int c0, int c1) {
      for (int c = c0; c < c1; ++c) chunk(sc.col(work, p), c);
    });
  }
  if (nchunks > 1)
    parallel_for(int(wsize), [&](int i0, int i1) {
      for (int c = 1; c < nchunks; ++c) add_into(sc.partial.data() + (c - 1) * wsize + i0,
                                                 std::size_t(i1 - i0), dw + i0);
    });
  if (dx && as_conv) {
    // dx = dy ⋆ w', w'[c, k, i, j] = w[k, c, kh−1−i, kw−1−j]; w' sits after the column block.
    const ConvShape t = data_grad_shape(s);
    T* wf = work + col_block_size(t);
    const int KK = s.kh * s.kw;
    for (int k = 0; k < s.K; ++k)
      for (int c = 0; c < s.C; ++c)
        for (int p = 0; p < KK; ++p)
          wf[(std::size_t(c) * s.K + k) * KK + p] = w[(std::size_t(k) * s.C + c) * KK + KK - 1 - p];
    conv_blocks(*this, t, dy, wf, dx, work);
  }
}

// ---- tangents ------------------------------------------------------------------------------
// The convolution is bilinear in (x, w), so its tangents are sums of convolutions of the same
// shapes: ẏ = conv(ẋ, w) + conv(x, ẇ) is two conv_blocks passes into one output, and the
// tangent of the backward is two data gradients and two weight-gradient terms. The weight
// terms are summed block by block in the same fixed chunks as conv2d_backward, so the bits do
// not depend on the thread count.

namespace {

// dw = Σ_t corr(xs[t], dys[t]) over `terms` pairs, in kWeightChunks fixed chunks of blocks.
// The caller holds the scratch mutex.
template <class T>
void weight_grad_terms(CpuKernels<T>& k, const ConvShape& s, int terms, const T* const* xs,
                       const T* const* dys, T* dw, T* work) {
  const int HoWo = s.Ho() * s.Wo();
  const int CKK = s.C * s.kh * s.kw;
  const int ldy = s.B * HoWo;
  const int nb = block_images(s);
  const int nblocks = (s.B + nb - 1) / nb;
  const int nchunks = std::max(1, std::min(kWeightChunks, nblocks));
  const std::size_t wsize = std::size_t(s.K) * CKK;
  const int parts = std::min(cpu_threads(), nchunks);
  Scratch<T>& sc = scratch<T>();
  sc.reserve(parts, col_block_size(s));
  if (sc.partial.size() < (nchunks - 1) * wsize) sc.partial.resize((nchunks - 1) * wsize);
  auto chunk = [&](T* col, int c) {
    T* acc = c == 0 ? dw : sc.partial.data() + (c - 1) * wsize;
    const int blk0 = int(int64_t(nblocks) * c / nchunks);
    const int blk1 = int(int64_t(nblocks) * (c + 1) / nchunks);
    bool first = true;
    for (int blk = blk0; blk < blk1; ++blk) {
      const int b0 = blk * nb, n = std::min(nb, s.B - b0);
      for (int t = 0; t < terms; ++t) {
        im2col(s, xs[t], b0, n, col);
        k.gemm(false, true, s.K, CKK, n * HoWo, T(1), dys[t] + b0 * HoWo, ldy, col, n * HoWo,
               T(first ? 0 : 1), acc, CKK);
        first = false;
      }
    }
  };
  if (parts <= 1) {
    for (int c = 0; c < nchunks; ++c) chunk(work, c);
  } else {
    SerialBlas serial;
    over_parts(nchunks, parts, [&](int p, int c0, int c1) {
      for (int c = c0; c < c1; ++c) chunk(sc.col(work, p), c);
    });
  }
  if (nchunks > 1)
    parallel_for(int(wsize), [&](int i0, int i1) {
      for (int c = 1; c < nchunks; ++c)
        add_into(sc.partial.data() + (c - 1) * wsize + i0, std::size_t(i1 - i0), dw + i0);
    });
}

// dx (+)= convᵀ(dy, w): the data gradient alone, overwriting dx or adding to it. The caller
// holds the scratch mutex.
template <class T>
void data_grad(CpuKernels<T>& k, const ConvShape& s, const T* w, const T* dy, T* dx, T* work,
               bool accumulate) {
  if (data_grad_as_conv(s)) {
    const ConvShape t = data_grad_shape(s);
    T* wf = work + col_block_size(t);
    const int KK = s.kh * s.kw;
    for (int kk = 0; kk < s.K; ++kk)
      for (int c = 0; c < s.C; ++c)
        for (int p = 0; p < KK; ++p)
          wf[(std::size_t(c) * s.K + kk) * KK + p] =
              w[(std::size_t(kk) * s.C + c) * KK + KK - 1 - p];
    conv_blocks(k, t, dy, wf, dx, work, T(accumulate ? 1 : 0));
    return;
  }
  // General shapes: dcol = wᵀ·dy block by block, scattered back (serially over blocks; each
  // block's scatter is parallel over channels).
  const int HoWo = s.Ho() * s.Wo();
  const int CKK = s.C * s.kh * s.kw;
  const int ldy = s.B * HoWo;
  const int nb = block_images(s);
  for (int b0 = 0; b0 < s.B; b0 += nb) {
    const int n = std::min(nb, s.B - b0);
    k.gemm(true, false, CKK, n * HoWo, s.K, T(1), w, CKK, dy + b0 * HoWo, ldy, T(0), work,
           n * HoWo);
    col2im(s, work, b0, n, dx, accumulate);
  }
}

}  // namespace

template <class T>
void CpuKernels<T>::conv2d_forward_tangent(const ConvShape& s, const T* x, const T* xdot,
                                           const T* w, const T* wdot, const T* bias_dot,
                                           T* ydot, T* work) {
  std::lock_guard<std::mutex> lock(scratch<T>().mu);
  T beta = T(0);
  if (wdot) {
    conv_blocks(*this, s, x, wdot, ydot, work);
    beta = T(1);
  }
  if (xdot) {
    conv_blocks(*this, s, xdot, w, ydot, work, beta);
    beta = T(1);
  }
  if (beta == T(0)) std::fill_n(ydot, s.y_size(), T(0));
  if (bias_dot) {
    const int ldy = s.B * s.Ho() * s.Wo();
    parallel_for(s.K, [&](int k0, int k1) {
      for (int k = k0; k < k1; ++k) {
        T* row = ydot + std::size_t(k) * ldy;
        affine(row, std::size_t(ldy), T(1), bias_dot[k], row);
      }
    });
  }
}

template <class T>
void CpuKernels<T>::conv2d_backward_tangent(const ConvShape& s, const T* x, const T* xdot,
                                            const T* w, const T* wdot, const T* dy,
                                            const T* dydot, T* dx, T* dxdot, T* dwdot,
                                            T* dbias_dot, T* work) {
  const int ldy = s.B * s.Ho() * s.Wo();
  if (dbias_dot)
    parallel_for(s.K, [&](int k0, int k1) {
      for (int k = k0; k < k1; ++k)
        dbias_dot[k] = T(lane_sum(dydot + std::size_t(k) * ldy, std::size_t(ldy)));
    });
  std::lock_guard<std::mutex> lock(scratch<T>().mu);
  const T* xs[2];
  const T* dys[2];
  int terms = 0;
  if (xdot) xs[terms] = xdot, dys[terms++] = dy;
  xs[terms] = x, dys[terms++] = dydot;
  weight_grad_terms(*this, s, terms, xs, dys, dwdot, work);
  if (dx) data_grad(*this, s, w, dy, dx, work, false);
  if (dxdot) {
    data_grad(*this, s, w, dydot, dxdot, work, false);
    if (wdot) data_grad(*this, s, wdot, dy, dxdot, work, true);
  }
}

#define FSH_INSTANTIATE(T)                                                                    \
  template void CpuKernels<T>::conv2d_forward_tangent(const ConvShape&, const T*, const T*,   \
                                                      const T*, const T*, const T*, T*, T*);  \
  template void CpuKernels<T>::conv2d_backward_tangent(const ConvShape&, const T*, const T*,  \
                                                       const T*, const T*, const T*, const T*, \
                                                       T*, T*, T*, T*, T*);                   \
  template void CpuKernels<T>::conv2d_forward(const ConvShape&, const T*, const T*, const T*, \
                                              T*, T*);                                        \
  template void CpuKernels<T>::conv2d_backward(const ConvShape&, const T*, const T*, const T*, \
                                               T*, T*, T*, T*);
FSH_INSTANTIATE(float)
FSH_INSTANTIATE(double)

}  // namespace detail
}  // namespace fsh
