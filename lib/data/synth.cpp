// Procedural glyph generator (see synth.hpp). Geometry lives in a unit frame where the glyph
// fits in [-0.8, 0.8]^2; rendering maps it onto the pixel grid. All randomness comes from
// fsh::Rng streams keyed by (seed, alphabet), (seed, class) and (seed, class, instance).
// Rasterising a stroke is a per-pixel loop over its bounding box; everything after it (coverage
// to bytes, colours, textures) is whole-image array arithmetic on xtensor arrays.
#include "data/synth.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <thread>
#include <utility>

#include <xtensor/xadapt.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "util/error.hpp"
#include "util/rng.hpp"

namespace fsh {
namespace {

constexpr double pi = 3.14159265358979323846;

struct Point {
  double x, y;
};
using Coverage = xt::xtensor<float, 2>;  // (S, S) ink coverage in [0, 1]
using Stroke = std::vector<Point>;  // control points

struct Style {
  std::vector<Stroke> primitives;  // strokes that the alphabet's glyphs reuse
  double curviness;                // sd of the turn angle between control points (rad)
  double step;                     // mean distance between control points (unit frame)
  bool smooth;                     // Catmull-Rom curves, else straight polylines
  int min_strokes, max_strokes;    // strokes per glyph
  double thickness;                // stroke width in pixels at 28x28
};

struct Glyph {
  std::vector<Stroke> strokes;
  bool smooth;
  double thickness;
};

double uniform(Rng& r, double lo, double hi) { return lo + (hi - lo) * r.uniform(); }

// A random walk of 3-5 control points with turns drawn from the style's curviness.
Stroke random_stroke(Rng& r, double curviness, double step) {
  const int n = 3 + static_cast<int>(r.below(3));
  Stroke s;
  Point p{uniform(r, -0.5, 0.5), uniform(r, -0.5, 0.5)};
  double angle = uniform(r, 0, 2 * pi);
  s.push_back(p);
  for (int i = 1; i < n; ++i) {
    angle += curviness * r.normal();
    const double len = step * uniform(r, 0.6, 1.4);
    p = {p.x + len * std::cos(angle), p.y + len * std::sin(angle)};
    s.push_back(p);
  }
  return s;
}

Style make_style(Rng& r) {
  Style st;
  st.curviness = uniform(r, 0.3, 1.6);
  st.step = uniform(r, 0.35, 0.6);
  st.smooth = r.uniform() < 0.6;
  st.min_strokes = 2 + static_cast<int>(r.below(2));
  st.max_strokes = st.min_strokes + 1;
  st.thickness = uniform(r, 1.3, 2.2);
  const int n_prim = 4 + static_cast<int>(r.below(4));
  for (int i = 0; i < n_prim; ++i) st.primitives.push_back(random_stroke(r, st.curviness, st.step));
  return st;
}

// Rotation by a, uniform scale s, then shift (dx, dy).
Stroke transform(const Stroke& s, double a, double sc, double dx, double dy) {
  Stroke out;
  const double c = std::cos(a), n = std::sin(a);
  for (const auto& p : s) out.push_back({sc * (c * p.x - n * p.y) + dx, sc * (n * p.x + c * p.y) + dy});
  return out;
}

Glyph make_glyph(const Style& st, Rng& r) {
  Glyph g;
  g.smooth = st.smooth;
  g.thickness = st.thickness * uniform(r, 0.85, 1.15);
  const int n = st.min_strokes + static_cast<int>(r.below(st.max_strokes - st.min_strokes + 1));
  for (int i = 0; i < n; ++i) {
    const bool reused = r.uniform() < 0.7;
    Stroke base = reused
                      ? st.primitives[static_cast<std::size_t>(r.below(st.primitives.size()))]
                      : random_stroke(r, st.curviness, st.step);
    // Primitives keep roughly their alphabet orientation (shared style); fresh strokes do not.
    const double angle = reused ? 0.4 * r.normal() : uniform(r, 0, 2 * pi);
    // Drawn one statement at a time: a call's arguments are evaluated in an unspecified order
    // (GCC right to left, clang left to right), which made clang's glyphs differ. This is the
    // order in which GCC drew them, so the datasets of every seed keep their bytes.
    const double dy = uniform(r, -0.4, 0.4), dx = uniform(r, -0.4, 0.4);
    const double scale = uniform(r, 0.7, 1.1);
    g.strokes.push_back(transform(base, angle, scale, dx, dy));
  }
  // Centre the glyph and scale it to fit [-0.8, 0.8]^2 (aspect kept).
  double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
  for (const auto& s : g.strokes)
    for (const auto& p : s) {
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
      y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    }
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const double half = std::max({(x1 - x0) / 2, (y1 - y0) / 2, 1e-6});
  const double k = 0.8 / half;
  for (auto& s : g.strokes)
    for (auto& p : s) p = {(p.x - cx) * k, (p.y - cy) * k};
  return g;
}

// Dense centre-line samples of a stroke: Catmull-Rom through the control points or straight.
std::vector<Point> centre_line(const Stroke& s, bool smooth) {
  if (!smooth || s.size() < 3) return s;
  std::vector<Point> out;
  const int per = 8;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const Point p0 = s[i ? i - 1 : 0], p1 = s[i], p2 = s[i + 1];
    const Point p3 = s[std::min(i + 2, s.size() - 1)];
    for (int k = 0; k < per; ++k) {
      const double t = double(k) / per, t2 = t * t, t3 = t2 * t;
      auto cr = [&](double a, double b, double c, double d) {
        return 0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t2 +
                      (3 * b - a - 3 * c + d) * t3);
      };
      out.push_back({cr(p0.x, p1.x, p2.x, p3.x), cr(p0.y, p1.y, p2.y, p3.y)});
    }
  }
  out.push_back(s.back());
  return out;
}

// Max-blends an anti-aliased segment of radius rad (pixels) into canvas (S x S, values 0..1):
// coverage of a pixel = clamp(rad + 0.5 - distance from its centre to the segment, 0, 1).
void draw_segment(Coverage& canvas, int64_t S, Point a, Point b, double rad) {
  const double pad = rad + 1.0;
  const int64_t xa = std::max<int64_t>(0, int64_t(std::floor(std::min(a.x, b.x) - pad)));
  const int64_t xb = std::min<int64_t>(S - 1, int64_t(std::ceil(std::max(a.x, b.x) + pad)));
  const int64_t ya = std::max<int64_t>(0, int64_t(std::floor(std::min(a.y, b.y) - pad)));
  const int64_t yb = std::min<int64_t>(S - 1, int64_t(std::ceil(std::max(a.y, b.y) + pad)));
  const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
  for (int64_t y = ya; y <= yb; ++y)
    for (int64_t x = xa; x <= xb; ++x) {
      const double px = x + 0.5, py = y + 0.5;
      double t = len2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / len2 : 0.0;
      t = std::clamp(t, 0.0, 1.0);
      const double ex = px - (a.x + t * dx), ey = py - (a.y + t * dy);
      const double cov = std::clamp(rad + 0.5 - std::sqrt(ex * ex + ey * ey), 0.0, 1.0);
      float& c = canvas(y, x);
      c = std::max(c, static_cast<float>(cov));
    }
}

// One jittered drawing of glyph g: its ink coverage.
Coverage draw_instance(const Glyph& g, Rng& r, int64_t S) {
  const double rot = 0.2 * r.normal();  // about 11 degrees
  const double scale = std::exp(0.12 * r.normal());
  const double shear = 0.1 * r.normal();
  const double sx = 0.08 * r.normal(), sy = 0.08 * r.normal();
  const double thick = g.thickness * std::exp(0.15 * r.normal()) * double(S) / 28.0;
  const double c = std::cos(rot), n = std::sin(rot);
  const double half = 0.45 * double(S);  // unit frame -> pixels: [-1, 1] -> S/2 ± 0.45 S
  Coverage canvas = xt::zeros<float>({std::size_t(S), std::size_t(S)});
  for (const auto& s : g.strokes) {
    const double ox = 0.07 * r.normal(), oy = 0.07 * r.normal();  // stroke placement
    Stroke j;
    for (const auto& p : s) {
      const double x = p.x + ox + 0.08 * r.normal(), y = p.y + oy + 0.08 * r.normal();
      const double xs = x + shear * y;
      const double u = scale * (c * xs - n * y) + sx, v = scale * (n * xs + c * y) + sy;
      j.push_back({S / 2.0 + half * u, S / 2.0 + half * v});
    }
    const auto line = centre_line(j, g.smooth);
    for (std::size_t k = 0; k + 1 < line.size(); ++k)
      draw_segment(canvas, S, line[k], line[k + 1], thick / 2);
  }
  return canvas;
}

// HSV (each in [0, 1]) to RGB in [0, 1].
xt::xtensor<double, 1> hsv_to_rgb(double h, double s, double v) {
  const double h6 = 6 * h, f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (static_cast<int>(std::floor(h6)) % 6) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}

// Ink bright: out (S, S) = 255·coverage, rounded.
void write_gray(const Coverage& cov, uint8_t* out) {
  auto o = xt::adapt(out, cov.size(), xt::no_ownership(), cov.shape());
  o = xt::cast<uint8_t>(xt::round(255.0 * cov));
}

// Coloured: out (S, S, 3) = coverage·ink + (1 − coverage)·background, the background blending
// two colours by a texture of two gratings. The ink's HSV value is in [0.8, 1] and the
// background's in [0.05, 0.5], so the glyph stays visible whatever the hues.
void write_rgb(const Coverage& cov, Rng& r, uint8_t* out) {
  const std::size_t S = cov.shape()[0];
  // Drawn in a fixed order (function arguments are evaluated in an unspecified one).
  auto colour = [&r](double s_lo, double s_hi, double v_lo, double v_hi) {
    const double h = r.uniform(), s = uniform(r, s_lo, s_hi), v = uniform(r, v_lo, v_hi);
    return hsv_to_rgb(h, s, v);
  };
  const auto ink = colour(0.5, 1, 0.8, 1);
  // A dark and a lighter ground colour, so that the texture always shows.
  const auto bg0 = colour(0, 0.6, 0.05, 0.2), bg1 = colour(0, 0.6, 0.3, 0.5);
  // Pixel centres in [0, 1): x along a row, y down a column.
  const xt::xtensor<double, 1> centre = (xt::arange<double>(double(S)) + 0.5) / double(S);
  const auto x = xt::view(centre, xt::newaxis(), xt::all());  // (1, S)
  const auto y = xt::view(centre, xt::all(), xt::newaxis());  // (S, 1)
  // texture (S, S) in [0, 1]: 0.5 plus a coarse (1.5-3 cycles per image) and a fine (3-7)
  // grating of amplitude 0.25, each at a random angle and phase.
  xt::xtensor<double, 2> texture({S, S}, 0.5);
  for (const auto& [lo, hi] : {std::pair{1.5, 3.0}, std::pair{3.0, 7.0}}) {
    const double f = 2 * pi * uniform(r, lo, hi), angle = uniform(r, 0, 2 * pi);
    const double phase = uniform(r, 0, 2 * pi);
    texture += 0.25 * xt::sin(f * (std::cos(angle) * x + std::sin(angle) * y) + phase);
  }
  const auto t = xt::view(texture, xt::all(), xt::all(), xt::newaxis());  // (S, S, 1)
  const auto w = xt::view(cov, xt::all(), xt::all(), xt::newaxis());      // (S, S, 1)
  auto o = xt::adapt(out, S * S * 3, xt::no_ownership(), std::array<std::size_t, 3>{S, S, 3});
  o = xt::cast<uint8_t>(xt::round(255.0 * (w * ink + (1.0 - w) * (bg0 + t * (bg1 - bg0)))));
}

std::string padded(const char* prefix, int64_t i, int64_t count) {
  std::size_t digits = 2;
  for (int64_t m = 100; m < count + 1; m *= 10) ++digits;
  std::string num = std::to_string(i);
  if (num.size() < digits) num.insert(0, digits - num.size(), '0');
  return prefix + num;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw usage_error(what);
}

}  // namespace

Dataset synthesize(const SynthOptions& opt) {
  check(opt.classes >= 1 && opt.classes <= 100000,
        "synth: classes must be in [1, 100000], got " + std::to_string(opt.classes));
  check(opt.instances >= 1 && opt.instances <= 10000,
        "synth: instances must be in [1, 10000], got " + std::to_string(opt.instances));
  check(opt.size >= 8 && opt.size <= 1024,
        "synth: size must be in [8, 1024], got " + std::to_string(opt.size));
  check(opt.classes_per_group >= 0 && opt.classes_per_group <= opt.classes,
        "synth: classes per group must be in [1, classes = " + std::to_string(opt.classes) +
            "] (or 0 = min(20, classes)), got " + std::to_string(opt.classes_per_group));
  check(opt.channels == 1 || opt.channels == 3,
        "synth: channels must be 1 (gray) or 3 (RGB), got " + std::to_string(opt.channels));
  check(opt.threads >= 0, "synth: threads must be >= 0, got " + std::to_string(opt.threads));

  const int64_t per_group =
      opt.classes_per_group > 0 ? opt.classes_per_group : std::min<int64_t>(20, opt.classes);
  const int64_t S = opt.size, n_groups = (opt.classes + per_group - 1) / per_group;
  Dataset d;
  d.height = d.width = S;
  d.channels = opt.channels;
  d.preparation = {true, false, "none"};  // drawn ink bright at this size: no files
  for (int64_t g = 0; g < n_groups; ++g) d.group_names.push_back(padded("alphabet", g, n_groups));
  for (int64_t c = 0; c < opt.classes; ++c) {
    const int64_t g = c / per_group;
    d.class_group.push_back(static_cast<int32_t>(g));
    d.class_names.push_back(d.group_names[g] + "/" +
                            padded("glyph", c % per_group, per_group));
  }
  for (int64_t c = 0; c < opt.classes; ++c)
    for (int64_t i = 0; i < opt.instances; ++i) d.labels.push_back(static_cast<int32_t>(c));
  d.images.assign(static_cast<std::size_t>(d.size() * d.image_size()), 0);

  std::vector<Style> styles;
  for (int64_t g = 0; g < n_groups; ++g) {
    Rng r = Rng::stream(opt.seed, (uint64_t(1) << 63) + uint64_t(g));
    styles.push_back(make_style(r));
  }
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t c; (c = next.fetch_add(1)) < opt.classes;) {
      Rng rc = Rng::stream(opt.seed, uint64_t(c));
      const Glyph glyph = make_glyph(styles[static_cast<std::size_t>(c / per_group)], rc);
      for (int64_t i = 0; i < opt.instances; ++i) {
        Rng ri = Rng::stream(opt.seed, uint64_t(c), uint64_t(i) + 1);
        const Coverage cov = draw_instance(glyph, ri, S);
        uint8_t* out = d.image(c * opt.instances + i);
        if (opt.channels == 1)
          write_gray(cov, out);
        else
          write_rgb(cov, ri, out);
      }
    }
  };
  int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, opt.classes));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return d;
}

}  // namespace fsh
