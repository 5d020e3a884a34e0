// Tests of the backend's tangent ops (forward-mode derivatives, backend.hpp "tangents"): every
// tangent op against central finite differences of the op it differentiates, in double. For an
// op f and a direction (ẋ, ẇ, ...) of all its inputs, the reference is
//   (f(inputs + h·dots) − f(inputs − h·dots)) / 2h,  h = 1e-6,
// computed with the primal ops only, so it is independent of the tangent code; element-wise
// tolerance |a − n| ≤ 1e-6·(|a| + |n|) + 1e-8 (the truncation error h²·f''' and rounding
// 1e-16·|f|/h are far below it). Piecewise-linear ops (ReLU, max-pool) are differentiable at
// random inputs: the test also checks that no mask changes between −h and +h. The tangent ops
// that also return a primal output (the backward tangents' dx) are compared with the primal op.
// Also: the tangents give the same bits with 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backend/registry.hpp"
#include "test_nn_gradcheck.hpp"

using fsh::test::random_vector;
using V = std::vector<double>;

namespace {

fsh::Kernels<double>& K64() { return fsh::cpu_backend().kernels<double>(); }

V along(const V& x, const V& d, double t) {
  V out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] + t * d[i];
  return out;
}

// Compares `analytic` with the central difference of f(t) (the op's outputs at inputs + t·dots,
// concatenated) at t = ±h.
void check_tangent(const std::string& what, const V& analytic, const std::function<V(double)>& f) {
  const double h = 1e-6;
  const V p = f(h), m = f(-h);
  REQUIRE(p.size() == analytic.size());
  REQUIRE(m.size() == analytic.size());
  int failures = 0;
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    const double num = (p[i] - m[i]) / (2 * h);
    const double err = std::abs(num - analytic[i]);
    const double tol = 1e-6 * (std::abs(num) + std::abs(analytic[i])) + 1e-8;
    worst = std::max(worst, err / tol);
    scale = std::max(scale, std::abs(analytic[i]));
    if (err > tol && failures++ < 5)
      FAIL_CHECK(what << "[" << i << "]: tangent " << analytic[i] << " vs numeric " << num);
  }
  INFO(what << ": worst error / tolerance = " << worst << ", largest tangent " << scale);
  CHECK(failures == 0);
  CHECK(scale > 1e-3);  // the direction really moves the output
}

void check_equal(const V& a, const V& b, double tol, const char* what) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(b[i])));
  INFO(what << ": worst relative difference " << worst);
  CHECK(worst <= tol);
}

V cat(std::initializer_list<const V*> parts) {
  V out;
  for (const V* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

fsh::ConvShape conv_shape(int B, int C, int H, int W, int K, int k, int stride, int pad) {
  fsh::ConvShape s;
  s.B = B;
  s.C = C;
  s.H = H;
  s.W = W;
  s.K = K;
  s.kh = k;
  s.kw = k;
  s.stride = stride;
  s.pad = pad;
  return s;
}

void conv_tangent_case(const fsh::ConvShape& s, uint64_t seed, bool with_xdot) {
  CAPTURE(with_xdot);
  fsh::Rng rng(seed);
  V x = random_vector(s.x_size(), rng), w = random_vector(s.w_size(), rng),
    b = random_vector(s.K, rng), dy = random_vector(s.y_size(), rng);
  V xd = with_xdot ? random_vector(s.x_size(), rng) : V(s.x_size(), 0.0);
  V wd = random_vector(s.w_size(), rng), bd = random_vector(s.K, rng),
    dyd = random_vector(s.y_size(), rng);
  V work(s.workspace_size());
  const double* xdp = with_xdot ? xd.data() : nullptr;

  // Forward: y = conv(x, w) + b.
  V ydot(s.y_size());
  K64().conv2d_forward_tangent(s, x.data(), xdp, w.data(), wd.data(), bd.data(), ydot.data(),
                               work.data());
  check_tangent("conv forward tangent", ydot, [&](double t) {
    V xt = along(x, xd, t), wt = along(w, wd, t), bt = along(b, bd, t), y(s.y_size());
    K64().conv2d_forward(s, xt.data(), wt.data(), bt.data(), y.data(), work.data());
    return y;
  });

  // Backward: (dx, dw, db) of (x, w, dy).
  V dx(s.x_size()), dxd(s.x_size()), dwd(s.w_size()), dbd(s.K);
  K64().conv2d_backward_tangent(s, x.data(), xdp, w.data(), wd.data(), dy.data(), dyd.data(),
                                dx.data(), dxd.data(), dwd.data(), dbd.data(), work.data());
  check_tangent("conv backward tangent (dx, dw, dbias)", cat({&dxd, &dwd, &dbd}), [&](double t) {
    V xt = along(x, xd, t), wt = along(w, wd, t), dyt = along(dy, dyd, t);
    V ox(s.x_size()), ow(s.w_size()), ob(s.K);
    K64().conv2d_backward(s, xt.data(), wt.data(), dyt.data(), ox.data(), ow.data(), ob.data(),
                          work.data());
    return cat({&ox, &ow, &ob});
  });
  V ref_dx(s.x_size()), ref_dw(s.w_size());
  K64().conv2d_backward(s, x.data(), w.data(), dy.data(), ref_dx.data(), ref_dw.data(), nullptr,
                        work.data());
  check_equal(dx, ref_dx, 1e-13, "conv backward tangent's primal dx");
  // Optional outputs may be skipped without changing the others.
  V dwd2(s.w_size());
  K64().conv2d_backward_tangent(s, x.data(), xdp, w.data(), wd.data(), dy.data(), dyd.data(),
                                nullptr, nullptr, dwd2.data(), nullptr, work.data());
  CHECK(dwd2 == dwd);
  // A null ẇ is a zero ẇ.
  const V zero_w(s.w_size(), 0.0);
  V y_null(s.y_size()), y_zero(s.y_size()), dxd_null(s.x_size()), dxd_zero(s.x_size());
  K64().conv2d_forward_tangent(s, x.data(), xdp, w.data(), nullptr, nullptr, y_null.data(),
                               work.data());
  K64().conv2d_forward_tangent(s, x.data(), xdp, w.data(), zero_w.data(), nullptr, y_zero.data(),
                               work.data());
  check_equal(y_null, y_zero, 1e-14, "conv forward tangent, null wdot");
  K64().conv2d_backward_tangent(s, x.data(), xdp, w.data(), nullptr, dy.data(), dyd.data(), nullptr,
                                dxd_null.data(), dwd2.data(), nullptr, work.data());
  K64().conv2d_backward_tangent(s, x.data(), xdp, w.data(), zero_w.data(), dy.data(), dyd.data(),
                                nullptr, dxd_zero.data(), dwd2.data(), nullptr, work.data());
  check_equal(dxd_null, dxd_zero, 1e-14, "conv backward tangent, null wdot");
}

}  // namespace

TEST_CASE("conv2d tangents match finite differences (forward and backward)") {
  SUBCASE("3x3, stride 1, padding 1 (the Conv-4 shape: data gradient as a convolution)") {
    conv_tangent_case(conv_shape(3, 2, 6, 5, 4, 3, 1, 1), 11, true);
    conv_tangent_case(conv_shape(3, 2, 6, 5, 4, 3, 1, 1), 12, false);
  }
  SUBCASE("3x3, stride 2, padding 1 (general data gradient: gemm + col2im)") {
    conv_tangent_case(conv_shape(2, 3, 7, 6, 3, 3, 2, 1), 13, true);
  }
  SUBCASE("many images: several im2col blocks and weight-gradient chunks") {
    fsh::ConvShape s = conv_shape(20, 16, 16, 16, 4, 3, 1, 1);
    REQUIRE(s.workspace_size() < std::size_t(s.C) * 9 * s.B * s.Ho() * s.Wo());
    conv_tangent_case(s, 14, true);
  }
}

TEST_CASE("fused batch norm -> ReLU -> max-pool tangents match finite differences") {
  // Odd H and W (7×5): the dropped last row/column still moves the statistics.
  const int B = 4, C = 3, H = 7, W = 5;
  const std::size_t n = std::size_t(B) * C * H * W;
  fsh::PoolShape ps{B, C, H, W};
  for (int S : {B, 2, 0}) {
    CAPTURE(S);
    fsh::Rng rng(90 + S);
    fsh::BatchNormShape bs{B, C, H * W, S, 1e-5};
    V x = random_vector(n, rng, -2, 2), xb = random_vector(C, rng),
      gamma = random_vector(C, rng, 0.5, 1.5), beta = random_vector(C, rng, -0.3, 0.3);
    gamma[1] = -gamma[1];  // a negative scale reverses which input wins a window
    V fixed_mean = random_vector(C, rng), fixed_var = random_vector(C, rng, 0.5, 2);
    V dy = random_vector(ps.y_size(), rng);
    V xd = random_vector(n, rng), xbd = random_vector(C, rng), gd = random_vector(C, rng),
      bd = random_vector(C, rng), dyd = random_vector(ps.y_size(), rng);

    // The forward at inputs + t·dots (statistics recomputed when S > 0), with its masks.
    struct Fwd {
      V mean, var, y;
      std::vector<uint8_t> arg;
    };
    auto forward = [&](double t) {
      Fwd f{fixed_mean, fixed_var, V(ps.y_size()), std::vector<uint8_t>(ps.y_size())};
      V xt = along(x, xd, t), xbt = along(xb, xbd, t), gt = along(gamma, gd, t),
        bt = along(beta, bd, t);
      K64().bn_relu_pool_forward(bs, ps, xt.data(), xbt.data(), gt.data(), bt.data(), f.mean.data(),
                                 f.var.data(), f.y.data(), f.arg.data());
      return f;
    };
    const Fwd f0 = forward(0);
    for (double t : {-1e-6, 1e-6}) {
      const Fwd ft = forward(t);
      CHECK(ft.arg == f0.arg);  // the same winners at ±h
      for (std::size_t q = 0; q < f0.y.size(); ++q) CHECK((ft.y[q] > 0) == (f0.y[q] > 0));
    }

    V ydot(ps.y_size());
    K64().bn_relu_pool_forward_tangent(bs, ps, x.data(), xb.data(), gamma.data(), f0.mean.data(),
                                       f0.var.data(), f0.y.data(), f0.arg.data(), xd.data(),
                                       xbd.data(), gd.data(), bd.data(), ydot.data());
    check_tangent("fused forward tangent", ydot, [&](double t) { return forward(t).y; });

    V dx(n), dxd(n), dxbd(C), dgd(C), dbd(C);
    K64().bn_relu_pool_backward_tangent(bs, ps, x.data(), xb.data(), gamma.data(), f0.mean.data(),
                                        f0.var.data(), f0.y.data(), f0.arg.data(), dy.data(),
                                        xd.data(), xbd.data(), gd.data(), dyd.data(), dx.data(),
                                        dxd.data(), dxbd.data(), dgd.data(), dbd.data());
    // The reference moves β too: the backward depends on it only through the masks.
    check_tangent("fused backward tangent (dx, dxbias, dgamma, dbeta)",
                  cat({&dxd, &dxbd, &dgd, &dbd}), [&](double t) {
                    const Fwd ft = forward(t);
                    V xt = along(x, xd, t), xbt = along(xb, xbd, t), gt = along(gamma, gd, t),
                      bt = along(beta, bd, t), dyt = along(dy, dyd, t);
                    V ox(n), oxb(C), og(C), ob(C);
                    K64().bn_relu_pool_backward(bs, ps, xt.data(), xbt.data(), gt.data(), bt.data(),
                                                ft.mean.data(), ft.var.data(), ft.y.data(),
                                                ft.arg.data(), dyt.data(), ox.data(), oxb.data(),
                                                og.data(), ob.data());
                    return cat({&ox, &oxb, &og, &ob});
                  });
    V ref_dx(n), rxb(C), rg(C), rb(C);
    K64().bn_relu_pool_backward(bs, ps, x.data(), xb.data(), gamma.data(), beta.data(),
                                f0.mean.data(), f0.var.data(), f0.y.data(), f0.arg.data(),
                                dy.data(), ref_dx.data(), rxb.data(), rg.data(), rb.data());
    check_equal(dx, ref_dx, 1e-12, "fused backward tangent's primal dx");

    // Null tangents are zeros; skipped outputs leave the others unchanged.
    V dxd2(n), zero_n(n, 0.0), zero_c(C, 0.0), a(n), b2(n);
    K64().bn_relu_pool_backward_tangent(bs, ps, x.data(), xb.data(), gamma.data(), f0.mean.data(),
                                        f0.var.data(), f0.y.data(), f0.arg.data(), dy.data(),
                                        nullptr, nullptr, nullptr, dyd.data(), nullptr, a.data(),
                                        nullptr, nullptr, nullptr);
    K64().bn_relu_pool_backward_tangent(bs, ps, x.data(), xb.data(), gamma.data(), f0.mean.data(),
                                        f0.var.data(), f0.y.data(), f0.arg.data(), dy.data(),
                                        zero_n.data(), zero_c.data(), zero_c.data(), dyd.data(),
                                        nullptr, b2.data(), nullptr, nullptr, nullptr);
    CHECK(a == b2);
  }
}

TEST_CASE("linear and softmax cross-entropy tangents match finite differences") {
  const int B = 5, D = 7, N = 3;
  fsh::Rng rng(100);
  V x = random_vector(B * D, rng), w = random_vector(N * D, rng), b = random_vector(N, rng),
    dy = random_vector(B * N, rng);
  V xd = random_vector(B * D, rng), wd = random_vector(N * D, rng), bd = random_vector(N, rng),
    dyd = random_vector(B * N, rng);

  V ydot(B * N);
  K64().linear_forward_tangent(B, D, N, x.data(), xd.data(), w.data(), wd.data(), bd.data(),
                               ydot.data());
  check_tangent("linear forward tangent", ydot, [&](double t) {
    V xt = along(x, xd, t), wt = along(w, wd, t), bt = along(b, bd, t), y(B * N);
    K64().linear_forward(B, D, N, xt.data(), wt.data(), bt.data(), y.data());
    return y;
  });
  V dxd(B * D), dwd(N * D), dbd(N);
  K64().linear_backward_tangent(B, D, N, x.data(), xd.data(), w.data(), wd.data(), dy.data(),
                                dyd.data(), dxd.data(), dwd.data(), dbd.data());
  check_tangent("linear backward tangent (dx, dw, db)", cat({&dxd, &dwd, &dbd}), [&](double t) {
    V xt = along(x, xd, t), wt = along(w, wd, t), dyt = along(dy, dyd, t);
    V ox(B * D), ow(N * D), ob(N);
    K64().linear_backward(B, D, N, xt.data(), wt.data(), dyt.data(), ox.data(), ow.data(),
                          ob.data());
    return cat({&ox, &ow, &ob});
  });
  // Without ẋ and Ẇ (null): the terms they carry vanish.
  V y0(B * N), y1(B * N);
  K64().linear_forward_tangent(B, D, N, x.data(), nullptr, w.data(), nullptr, bd.data(), y0.data());
  for (int r = 0; r < B; ++r)
    for (int j = 0; j < N; ++j) CHECK(y0[r * N + j] == bd[j]);

  const std::vector<int32_t> labels = {0, 2, 1, 1, 0};
  V logits = random_vector(B * N, rng, -2, 2), ld = random_vector(B * N, rng);
  V probs(B * N), dld(B * N);
  K64().softmax_xent_forward(B, N, logits.data(), labels.data(), probs.data(), nullptr, nullptr);
  K64().softmax_xent_backward_tangent(B, N, probs.data(), ld.data(), 0.7, dld.data());
  check_tangent("softmax cross-entropy backward tangent", dld, [&](double t) {
    V lt = along(logits, ld, t), p(B * N), g(B * N);
    K64().softmax_xent_forward(B, N, lt.data(), labels.data(), p.data(), nullptr, nullptr);
    K64().softmax_xent_backward(B, N, p.data(), labels.data(), 0.7, g.data());
    return g;
  });
}

TEST_CASE("tangent ops give the same bits with 1 and 2 threads") {
  const int B = 12, C = 8, H = 10, W = 10;
  fsh::ConvShape cs = conv_shape(B, C, H, W, C, 3, 1, 1);
  fsh::PoolShape ps{B, C, H, W};
  fsh::BatchNormShape bs{B, C, H * W, 5, 1e-5};
  fsh::Rng rng(110);
  V x = random_vector(cs.x_size(), rng), w = random_vector(cs.w_size(), rng),
    xd = random_vector(cs.x_size(), rng), wd = random_vector(cs.w_size(), rng),
    xb = random_vector(C, rng), gamma = random_vector(C, rng, 0.5, 1.5),
    beta = random_vector(C, rng), dy = random_vector(ps.y_size(), rng),
    dyd = random_vector(ps.y_size(), rng), gd = random_vector(C, rng);
  auto run = [&](int threads) {
    fsh::set_threads(threads);
    V z(cs.y_size()), zd(cs.y_size()), work(cs.workspace_size()), mean(C), var(C), y(ps.y_size()),
        yd(ps.y_size()), dz(cs.y_size()), dzd(cs.y_size()), dxbd(C), dgd(C), dbd(C),
        dx(cs.x_size()), dxd(cs.x_size()), dwd(cs.w_size());
    std::vector<uint8_t> arg(ps.y_size());
    K64().conv2d_forward(cs, x.data(), w.data(), nullptr, z.data(), work.data());
    K64().conv2d_forward_tangent(cs, x.data(), xd.data(), w.data(), wd.data(), nullptr, zd.data(),
                                 work.data());
    K64().bn_relu_pool_forward(bs, ps, z.data(), xb.data(), gamma.data(), beta.data(), mean.data(),
                               var.data(), y.data(), arg.data());
    K64().bn_relu_pool_forward_tangent(bs, ps, z.data(), xb.data(), gamma.data(), mean.data(),
                                       var.data(), y.data(), arg.data(), zd.data(), nullptr,
                                       gd.data(), nullptr, yd.data());
    K64().bn_relu_pool_backward_tangent(bs, ps, z.data(), xb.data(), gamma.data(), mean.data(),
                                        var.data(), y.data(), arg.data(), dy.data(), zd.data(),
                                        nullptr, gd.data(), dyd.data(), dz.data(), dzd.data(),
                                        dxbd.data(), dgd.data(), dbd.data());
    K64().conv2d_backward_tangent(cs, x.data(), xd.data(), w.data(), wd.data(), dz.data(),
                                  dzd.data(), dx.data(), dxd.data(), dwd.data(), nullptr,
                                  work.data());
    return cat({&zd, &yd, &dz, &dzd, &dxbd, &dgd, &dbd, &dx, &dxd, &dwd});
  };
  const V one = run(1), two = run(2);
  fsh::set_threads(0);
  CHECK(one == two);
}
