// fsh-bench's SVG plot (see report.hpp): small multiples, one panel per configuration, each
// with accuracy (%) against the median adaptation time per episode (ms, log10 scale), 95% CI
// error bars, and one legend for all panels. Plain SVG 1.1 (no scripts, no CSS, no external
// fonts), with explicit width, height and viewBox, so that browsers and image viewers draw it
// the same way.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "bench/report.hpp"

namespace fsh::bench {

namespace {

std::string xml(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// A tick label: "0.5", "2", "100", "1e+04".
std::string tick(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// Colours (Tableau 10, distinguishable in print) and marker shapes, by method.
const char* const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string marker(int i, double x, double y) {
  const std::string fill = std::string("fill=\"") + colours[i % 10] + "\" stroke=\"#000\" "
                           "stroke-width=\"0.6\"";
  switch (i % 4) {
    case 0:
      return "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"5\" " + fill + "/>";
    case 1:
      return "<rect x=\"" + num(x - 4.5) + "\" y=\"" + num(y - 4.5) +
             "\" width=\"9\" height=\"9\" " + fill + "/>";
    case 2:
      return "<polygon points=\"" + num(x) + "," + num(y - 6) + " " + num(x + 5.5) + "," +
             num(y + 4) + " " + num(x - 5.5) + "," + num(y + 4) + "\" " + fill + "/>";
    default:
      return "<polygon points=\"" + num(x) + "," + num(y - 6) + " " + num(x + 6) + "," + num(y) +
             " " + num(x) + "," + num(y + 6) + " " + num(x - 6) + "," + num(y) + "\" " + fill +
             "/>";
  }
}

// Ticks at 1, 2 and 5 times powers of ten within [lo, hi] (lo > 0).
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  for (int d = int(std::floor(std::log10(lo))); d <= int(std::ceil(std::log10(hi))); ++d)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, d);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  return t;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about 5 ticks over `span`.
double nice_step(double span) {
  const double raw = span / 5, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

}  // namespace

std::string report_svg(const Report& r) {
  struct Panel {
    const SectionResult* s;
    const ConfigResult* c;
  };
  std::vector<Panel> panels;
  for (const SectionResult& s : r.sections)
    for (const ConfigResult& c : s.configs) panels.push_back({&s, &c});
  // Methods in order of first appearance: one colour and marker each, across panels.
  std::vector<std::string> labels;
  for (const Panel& p : panels)
    for (const Cell& c : p.c->cells)
      if (std::find(labels.begin(), labels.end(), c.label) == labels.end())
        labels.push_back(c.label);

  const double pw = 360, ph = 300;                       // panel size
  const double ml = 62, mr = 18, mt = 40, mb = 52;        // plot margins inside a panel
  const int cols = std::max<int>(1, std::min<int>(3, int(panels.size())));
  const int rows = std::max<int>(1, int((panels.size() + cols - 1) / cols));
  const double legend_h = 30 + 20.0 * ((labels.size() + 3) / 4);
  // At least 760 wide, so that the legend and the caption fit; the panels centred.
  const double top = 34 + legend_h, W = std::max(760.0, 20 + cols * pw), H = top + rows * ph + 52;
  const double left = (W - cols * pw) / 2;
  const int T = r.kernels.threads;

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << num(W)
    << "\" height=\"" << num(H) << "\" viewBox=\"0 0 " << num(W) << " " << num(H)
    << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"12\">\n";
  o << "<title>fsh-bench: accuracy against adaptation time</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << num(W) << "\" height=\"" << num(H)
    << "\" fill=\"#ffffff\"/>\n";
  o << "<text x=\"" << num(W / 2) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
       "font-weight=\"bold\">Accuracy against adaptation time per episode</text>\n";
  // Legend: up to 4 entries per row.
  o << "<g id=\"legend\">\n";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double x = 30 + double(i % 4) * ((W - 40) / 4), y = 44 + 20.0 * double(i / 4);
    o << marker(int(i), x, y) << "\n<text x=\"" << num(x + 12) << "\" y=\"" << num(y + 4) << "\">"
      << xml(labels[i]) << "</text>\n";
  }
  o << "</g>\n";

  for (std::size_t pi = 0; pi < panels.size(); ++pi) {
    const Panel& p = panels[pi];
    const double ox = left + double(pi % cols) * pw, oy = top + double(pi / cols) * ph;
    const double x0 = ox + ml, x1 = ox + pw - mr, y0 = oy + mt, y1 = oy + ph - mb;
    // Data ranges: times (ms, > 0) on a log scale padded by a factor of 2 each way and at
    // least one decade wide; accuracies (%) with their CIs, padded, at least 2 points wide.
    double tlo = 1e300, thi = 0, alo = 100, ahi = 0;
    for (const Cell& c : p.c->cells) {
      const double t = std::max(c.adapt_ms_nt.median, 1e-4);
      tlo = std::min(tlo, t);
      thi = std::max(thi, t);
      alo = std::min(alo, 100 * (c.accuracy.mean - c.accuracy.ci95));
      ahi = std::max(ahi, 100 * (c.accuracy.mean + c.accuracy.ci95));
    }
    double llo = std::log10(tlo) - std::log10(2.0), lhi = std::log10(thi) + std::log10(2.0);
    if (lhi - llo < 1) {
      const double mid = (llo + lhi) / 2;
      llo = mid - 0.5;
      lhi = mid + 0.5;
    }
    if (ahi - alo < 2) {
      const double mid = (alo + ahi) / 2;
      alo = mid - 1;
      ahi = mid + 1;
    }
    const double pad = 0.08 * (ahi - alo);
    alo = std::max(0.0, alo - pad);
    ahi = std::min(100.0, ahi + pad);
    if (ahi - alo < 1e-9) ahi = alo + 1;
    auto X = [&](double ms) { return x0 + (std::log10(ms) - llo) / (lhi - llo) * (x1 - x0); };
    auto Y = [&](double a) { return y1 - (a - alo) / (ahi - alo) * (y1 - y0); };

    o << "<g class=\"panel\">\n";
    const std::string title = p.s->name + " " + std::to_string(p.s->height) + "x" +
                              std::to_string(p.s->width) + "x" + std::to_string(p.s->channels) +
                              ": " + p.c->spec.name() + " (" + std::to_string(p.c->episodes) +
                              " episodes)";
    o << "<text x=\"" << num((x0 + x1) / 2) << "\" y=\"" << num(oy + 24)
      << "\" text-anchor=\"middle\" font-weight=\"bold\">" << xml(title) << "</text>\n";
    o << "<rect x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\"" << num(x1 - x0)
      << "\" height=\"" << num(y1 - y0) << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double v : log_ticks(std::pow(10.0, llo), std::pow(10.0, lhi))) {
      const double x = X(v);
      o << "<line x1=\"" << num(x) << "\" y1=\"" << num(y0) << "\" x2=\"" << num(x) << "\" y2=\""
        << num(y1) << "\" stroke=\"#e3e3e3\"/>\n";
      o << "<text x=\"" << num(x) << "\" y=\"" << num(y1 + 16) << "\" text-anchor=\"middle\">"
        << tick(v) << "</text>\n";
    }
    const double step = nice_step(ahi - alo);
    for (double v = std::ceil(alo / step) * step; v <= ahi + 1e-9; v += step) {
      const double y = Y(v);
      o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x1) << "\" y2=\""
        << num(y) << "\" stroke=\"#e3e3e3\"/>\n";
      o << "<text x=\"" << num(x0 - 6) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">"
        << tick(std::round(v * 1e6) / 1e6) << "</text>\n";
    }
    o << "<text x=\"" << num((x0 + x1) / 2) << "\" y=\"" << num(y1 + 36)
      << "\" text-anchor=\"middle\">adaptation time per episode (ms, log scale)</text>\n";
    o << "<text transform=\"translate(" << num(ox + 16) << "," << num((y0 + y1) / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">accuracy (%), 95% CI</text>\n";
    for (const Cell& c : p.c->cells) {
      const int i = int(std::find(labels.begin(), labels.end(), c.label) - labels.begin());
      const double x = X(std::max(c.adapt_ms_nt.median, 1e-4)), y = Y(100 * c.accuracy.mean);
      const double ya = Y(100 * (c.accuracy.mean + c.accuracy.ci95)),
                   yb = Y(100 * (c.accuracy.mean - c.accuracy.ci95));
      o << "<g class=\"point\"><title>" << xml(c.label) << " (" << xml(c.model)
        << "): " << num(100 * c.accuracy.mean)
        << "% ± " << num(100 * c.accuracy.ci95) << "%, " << num(c.adapt_ms_nt.median)
        << " ms</title>\n";
      o << "<line class=\"errorbar\" x1=\"" << num(x) << "\" y1=\"" << num(ya) << "\" x2=\""
        << num(x) << "\" y2=\"" << num(yb) << "\" stroke=\"" << colours[i % 10]
        << "\" stroke-width=\"1.5\"/>\n";
      for (double yc : {ya, yb})
        o << "<line x1=\"" << num(x - 5) << "\" y1=\"" << num(yc) << "\" x2=\"" << num(x + 5)
          << "\" y2=\"" << num(yc) << "\" stroke=\"" << colours[i % 10]
          << "\" stroke-width=\"1.5\"/>\n";
      o << marker(i, x, y) << "\n</g>\n";
    }
    o << "</g>\n";
  }
  o << "<text x=\"10\" y=\"" << num(H - 28) << "\" font-size=\"11\" fill=\"#555\">"
    << "Points: mean accuracy over the test episodes; median time from support set to adapted "
       "classifier (warm, "
    << T << (T == 1 ? " thread" : " threads") << ").</text>\n";
  o << "<text x=\"10\" y=\"" << num(H - 12) << "\" font-size=\"11\" fill=\"#555\">"
    << "Bars: 95% confidence interval of the accuracy over the episodes.</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace fsh::bench
