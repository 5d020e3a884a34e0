// Conv-4 + ProtoNet loss against PyTorch: tests/fixtures/nn_conv4_protonet.h5, written by
// scripts/make_nn_fixture.py (PyTorch's F.conv2d / F.batch_norm / F.max_pool2d /
// F.cross_entropy / torch.optim.Adam on fixed inputs and weights; 3-way 2-shot 2-query, 28×28,
// hidden 16). Running this test needs only the committed fixture, not PyTorch.
//
// Tolerances, as max |fsh − torch| / max |torch| over each tensor (error relative to the
// tensor's scale):
//   float path vs torch float32: features, loss and gradients 1e-4 (both sides round in float32
//     with different summation orders; observed errors are below 1e-5);
//   double path vs torch float64: 1e-9 (observed below 1e-13), in both BN modes;
//   Adam (float32, lr 1e-3): the 5 losses within 1e-5 relative + 1e-6 absolute (they fall from
//     2.8 to 0.009, and a float32 loss computed from distance logits of order 10 carries ~1e-7
//     of absolute rounding whatever its size; observed ≤ 3e-7); parameters after 5 steps within
//     1e-5 of their scale, over the parameters whose exact gradient is not zero (below).
// Conv biases feed straight into batch norm, whose mean subtraction cancels them: their exact
// gradient is 0 (PyTorch float64 gives ~1e-14), so in float both sides hold only rounding noise
// (~1e-5); they are checked against that (|g| ≤ 1e-9 in double, ≤ 1e-3 in float) rather than
// against each other. Likewise some last-block BN betas (a shift that every feature of a channel
// shares cancels in the distances). Adam turns such noise into full lr-sized steps of random
// sign, so the final-parameter comparison skips every element whose float64 gradient at the
// start is below 1e-10; those elements cannot change the loss, which the loss check confirms.
#include <doctest/doctest.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/conv4.hpp"
#include "nn/optim.hpp"
#include "test_nn_protonet.hpp"
#include "test_support.hpp"

namespace {

struct Fixture {
  H5::H5File file;
  explicit Fixture(const std::string& path) : file(path, H5F_ACC_RDONLY) {}
  std::vector<double> read(const std::string& name) {
    H5::DataSet ds = file.openDataSet(name);
    std::vector<double> v(ds.getSpace().getSimpleExtentNpoints());
    ds.read(v.data(), H5::PredType::NATIVE_DOUBLE);
    return v;
  }
  std::vector<int32_t> read_int(const std::string& name) {
    H5::DataSet ds = file.openDataSet(name);
    std::vector<int32_t> v(ds.getSpace().getSimpleExtentNpoints());
    ds.read(v.data(), H5::PredType::NATIVE_INT32);
    return v;
  }
  int attr_int(const char* name) {
    int v = 0;
    file.openAttribute(name).read(H5::PredType::NATIVE_INT, &v);
    return v;
  }
  double attr_double(const char* name) {
    double v = 0;
    file.openAttribute(name).read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  }
};

std::string fixture_path() { return fsh::test::source_dir() + "/tests/fixtures/nn_conv4_protonet.h5"; }

// max |a − b| / max |b|
template <class T>
double scaled_error(const T* a, const std::vector<double>& b) {
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    err = std::max(err, std::abs(double(a[i]) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / scale;
}

bool is_conv_bias(const std::string& name) {
  return name.rfind("conv", 0) == 0 && name.find(".bias") != std::string::npos;
}

template <class T>
struct Setup {
  Fixture fx{fixture_path()};
  fsh::Conv4Config cfg;
  int ways, S, B;
  std::vector<int32_t> ys, yq;
  std::vector<T> x, params;

  Setup() {
    cfg.in_channels = fx.attr_int("in_channels");
    cfg.height = fx.attr_int("height");
    cfg.width = fx.attr_int("width");
    cfg.hidden = fx.attr_int("hidden");
    cfg.depth = fx.attr_int("depth");
    cfg.bn_eps = fx.attr_double("bn_eps");
    ways = fx.attr_int("ways");
    S = fx.attr_int("support_rows");
    ys = fx.read_int("support_labels");
    yq = fx.read_int("query_labels");
    B = int(ys.size() + yq.size());
    auto xv = fx.read("x");
    x.assign(xv.begin(), xv.end());
    REQUIRE(x.size() == std::size_t(B) * cfg.in_channels * cfg.height * cfg.width);
  }
  // Parameters by name into the flat layout.
  void load_params(const fsh::ParamLayout& layout, const std::string& group) {
    params.assign(layout.size(), T(0));
    for (const auto& v : layout.views()) {
      auto p = fx.read(group + "/" + v.name);
      REQUIRE(p.size() == v.size);
      std::copy(p.begin(), p.end(), params.begin() + v.offset);
    }
  }
};

template <class T>
void check_against(Setup<T>& s, fsh::Conv4<T>& net, fsh::BnMode mode, const std::string& ref,
                   double tol, double bias_tol) {
  const T* f = net.forward(s.params.data(), s.x.data(), s.B, mode, s.S);
  const int F = net.feature_dim();
  CHECK(scaled_error(f, s.fx.read(ref + "/features")) <= tol);
  std::vector<T> dfeat(std::size_t(s.B) * F), grads(s.params.size());
  T loss = fsh::test::protonet_loss<T>(s.ways, F, s.ys, s.yq, f, dfeat.data());
  double ref_loss = s.fx.read(ref + "/loss")[0];
  CHECK(std::abs(double(loss) - ref_loss) <= tol * std::abs(ref_loss));
  net.backward(s.params.data(), dfeat.data(), grads.data());
  for (const auto& v : net.layout().views()) {
    CAPTURE(v.name);
    auto g = s.fx.read(ref + "/grads/" + v.name);
    if (is_conv_bias(v.name)) {
      for (std::size_t i = 0; i < v.size; ++i) {
        CHECK(std::abs(double(grads[v.offset + i])) <= bias_tol);
        CHECK(std::abs(g[i]) <= bias_tol);
      }
    } else {
      double e = scaled_error(grads.data() + v.offset, g);
      INFO("scaled error " << e);
      CHECK(e <= tol);
    }
  }
}

}  // namespace

TEST_CASE("fixture: Conv-4 + ProtoNet loss in float32 match PyTorch (batch statistics)") {
  Setup<float> s;
  fsh::Conv4<float> net(s.cfg);
  s.load_params(net.layout(), "params");
  check_against(s, net, fsh::BnMode::batch, "ref32/batch", 1e-4, 1e-3);
}

TEST_CASE("fixture: Conv-4 + ProtoNet loss in float64 match PyTorch (batch and support stats)") {
  Setup<double> s;
  fsh::Conv4<double> net(s.cfg);
  s.load_params(net.layout(), "params");
  check_against(s, net, fsh::BnMode::batch, "ref64/batch", 1e-9, 1e-9);
  check_against(s, net, fsh::BnMode::support, "ref64/support", 1e-9, 1e-9);
}

TEST_CASE("fixture: five Adam steps (lr 1e-3) follow torch.optim.Adam") {
  Setup<float> s;
  fsh::Conv4<float> net(s.cfg);
  s.load_params(net.layout(), "params");
  const double lr = s.fx.attr_double("adam_lr");
  auto ref = s.fx.read("adam/losses");
  fsh::Adam adam(s.params.size());
  const int F = net.feature_dim();
  std::vector<float> dfeat(std::size_t(s.B) * F), grads(s.params.size());
  for (std::size_t t = 0; t < ref.size(); ++t) {
    const float* f = net.forward(s.params.data(), s.x.data(), s.B, fsh::BnMode::batch);
    float loss = fsh::test::protonet_loss<float>(s.ways, F, s.ys, s.yq, f, dfeat.data());
    CAPTURE(t);
    CHECK(std::abs(double(loss) - ref[t]) <= 1e-5 * std::abs(ref[t]) + 1e-6);
    net.backward(s.params.data(), dfeat.data(), grads.data());
    adam.step(s.params.data(), grads.data(), lr);
  }
  std::size_t compared = 0;
  for (const auto& v : net.layout().views()) {
    CAPTURE(v.name);
    auto final_ref = s.fx.read("adam/final/" + v.name);
    auto g64 = s.fx.read("ref64/batch/grads/" + v.name);
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < v.size; ++i) {
      scale = std::max(scale, std::abs(final_ref[i]));
      if (std::abs(g64[i]) < 1e-10) continue;
      err = std::max(err, std::abs(double(s.params[v.offset + i]) - final_ref[i]));
      ++compared;
    }
    INFO("scaled error " << err / scale);
    CHECK(err <= 1e-5 * scale);
  }
  // Almost all parameters take part (only the conv biases and a few betas are excluded).
  CHECK(compared >= s.params.size() - 4 * std::size_t(s.cfg.hidden) * 2);
}
