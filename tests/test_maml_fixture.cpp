// MAML meta-gradients against PyTorch: tests/fixtures/maml_conv4.h5, written by
// scripts/make_maml_fixture.py (autograd through the inner loop with create_graph=True; a
// Conv-4 of hidden 4 and depth 4 on 20×20 images, 3-way 2-shot 2-query, inner lr 0.4). Running
// this test needs only the committed fixture, not PyTorch.
//
// Tolerances, as max |fsh − torch| / max |torch| over each parameter tensor (error relative to
// the tensor's scale), double precision: 1e-9 for the second-order meta-gradient after 1 and 2
// inner steps under both batch-norm policies, for the first-order one against PyTorch's first
// order, and for the parameters after 3 adaptation steps; the meta-loss within 1e-12 relative.
// Conv biases feed straight into batch norm, which cancels them: their exact meta-gradient is 0,
// so both sides hold rounding noise only and are checked against 1e-12 absolute instead.
// The first-order gradient must differ from the second-order reference by more than 10% (norm
// of the difference over the norm of the reference): the second-order terms are really there.
// Observed: below 4e-14 everywhere. Float path (support policy, 1 step) against PyTorch
// float32: 1e-4 of each tensor's scale, the loss 1e-5 relative (both sides round in float32 in
// different orders; observed 4e-6).
#include <H5Cpp.h>
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "methods/maml.hpp"
#include "test_support.hpp"

using namespace fsh;

namespace {

struct Fixture {
  H5::H5File file;
  Conv4Config cfg;
  int ways = 0;
  double lr = 0;
  std::vector<double> support, query;
  std::vector<int32_t> ys, yq;
  ParamLayout layout;
  std::vector<double> theta;

  Fixture() : file(fsh::test::source_dir() + "/tests/fixtures/maml_conv4.h5", H5F_ACC_RDONLY) {
    cfg.in_channels = attr_int("in_channels");
    cfg.height = attr_int("height");
    cfg.width = attr_int("width");
    cfg.hidden = attr_int("hidden");
    cfg.depth = attr_int("depth");
    cfg.bn_eps = attr_double("bn_eps");
    ways = attr_int("ways");
    lr = attr_double("inner_lr");
    support = read("support");
    query = read("query");
    ys = read_int("support_labels");
    yq = read_int("query_labels");
    layout = maml_layout(cfg, ways);
    // The fixture's flat vectors concatenate the parameters in this order: fsh's layout.
    std::string names;
    for (const ParamView& v : layout.views()) names += (names.empty() ? "" : ",") + v.name;
    REQUIRE(attr_string("layout") == names);
    theta.resize(layout.size());
    for (const ParamView& v : layout.views()) {
      const auto p = read("params/" + v.name);
      REQUIRE(p.size() == v.size);
      std::copy(p.begin(), p.end(), theta.begin() + v.offset);
    }
  }
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
  std::string attr_string(const char* name) {
    H5::Attribute a = file.openAttribute(name);
    std::string s;
    a.read(a.getStrType(), s);
    return s;
  }
  template <class T>
  MamlTask<T> task(const std::vector<T>& s, const std::vector<T>& q) const {
    MamlTask<T> t;
    t.n_way = ways;
    t.support_rows = int(ys.size());
    t.query_rows = int(yq.size());
    t.support = s.data();
    t.support_labels = ys.data();
    t.query = q.data();
    t.query_labels = yq.data();
    return t;
  }
};

bool is_conv_bias(const std::string& name) {
  return name.rfind("conv", 0) == 0 && name.find(".bias") != std::string::npos;
}

// Checks every tensor of `got` against `ref` (flat, layout order) within tol of its scale;
// conv biases within `bias_tol` absolute on both sides. Returns the worst scaled error.
template <class T>
double compare(const ParamLayout& layout, const std::vector<T>& got, const std::vector<double>& ref,
               double tol, double bias_tol) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  for (const ParamView& v : layout.views()) {
    CAPTURE(v.name);
    double err = 0, scale = 0;
    for (std::size_t i = v.offset; i < v.offset + v.size; ++i) {
      err = std::max(err, std::abs(double(got[i]) - ref[i]));
      scale = std::max(scale, std::abs(ref[i]));
      if (is_conv_bias(v.name)) {
        CHECK(std::abs(double(got[i])) <= bias_tol);
        CHECK(std::abs(ref[i]) <= bias_tol);
      }
    }
    if (is_conv_bias(v.name)) continue;
    REQUIRE(scale > 0);
    INFO("scaled error " << err / scale);
    CHECK(err <= tol * scale);
    worst = std::max(worst, err / scale);
  }
  return worst;
}

double relative_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

}  // namespace

TEST_CASE("fixture: MAML second- and first-order meta-gradients (double) match PyTorch") {
  Fixture fx;
  MamlLearner<double> learner(fx.cfg, fx.ways);
  const MamlTask<double> task = fx.task(fx.support, fx.query);
  for (BnPolicy bn : {BnPolicy::support, BnPolicy::transductive})
    for (int steps : {1, 2}) {
      const std::string group = "ref64/" + to_string(bn) + "/steps" + std::to_string(steps);
      CAPTURE(group);
      MamlSteps how;
      how.steps = steps;
      how.lr = fx.lr;
      how.bn = bn;
      std::vector<double> second(fx.theta.size()), first(fx.theta.size());
      const EpisodeResult r = learner.meta_gradient(fx.theta.data(), task, how, second.data());
      how.first_order = true;
      learner.meta_gradient(fx.theta.data(), task, how, first.data());
      const double ref_loss = fx.read(group + "/loss")[0];
      CHECK(std::abs(r.loss - ref_loss) <= 1e-12 * std::abs(ref_loss));
      const auto ref_second = fx.read(group + "/second"), ref_first = fx.read(group + "/first");
      const double e2 = compare(fx.layout, second, ref_second, 1e-9, 1e-12);
      const double e1 = compare(fx.layout, first, ref_first, 1e-9, 1e-12);
      const double gap = relative_distance(first, ref_second);
      MESSAGE(group << ": second order within " << e2 << ", first order within " << e1
                    << " of PyTorch; first vs second order differ by " << gap);
      CHECK(gap > 0.1);
    }
}

TEST_CASE("fixture: MAML adaptation (3 inner steps) reaches PyTorch's parameters") {
  Fixture fx;
  MamlLearner<double> learner(fx.cfg, fx.ways);
  MamlSteps how;
  how.steps = 3;
  how.lr = fx.lr;
  std::vector<double> adapted(fx.theta.size());
  std::vector<BnStats<double>> stats;
  learner.adapt(fx.theta.data(), fx.task(fx.support, fx.query), how, adapted.data(), stats);
  compare(fx.layout, adapted, fx.read("ref64/support/adapt3"), 1e-9, 1.0);
  CHECK(int(stats.size()) == fx.cfg.depth);
}

TEST_CASE("fixture: MAML second-order meta-gradient in float matches PyTorch float32") {
  Fixture fx;
  MamlLearner<float> learner(fx.cfg, fx.ways);
  const std::vector<float> s(fx.support.begin(), fx.support.end()),
      q(fx.query.begin(), fx.query.end()), theta(fx.theta.begin(), fx.theta.end());
  MamlSteps how;
  how.steps = 1;
  how.lr = fx.lr;
  std::vector<float> grad(theta.size());
  const EpisodeResult r = learner.meta_gradient(theta.data(), fx.task(s, q), how, grad.data());
  const double ref_loss = fx.read("ref32/support/steps1/loss")[0];
  CHECK(std::abs(r.loss - ref_loss) <= 1e-5 * std::abs(ref_loss));
  const double e = compare(fx.layout, grad, fx.read("ref32/support/steps1/second"), 1e-4, 1e-4);
  MESSAGE("float second order within " << e << " of PyTorch float32");
}
