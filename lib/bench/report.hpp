// fsh-bench's outputs, all from one Report: a markdown page (tables per section and
// configuration, a methods table with a row per model, the kernel figures), CSV (one row per
// section, configuration and method), JSON (everything, per-episode accuracies included) and an
// SVG plot (accuracy against adaptation time, one panel per configuration). Each says which
// model file scored each result: the CSV's model column, the JSON's "model" of each result, the
// SVG's point titles; the markdown names the model in a configuration's row when its method
// has several (one per way count) and lists every model in its methods table. Accuracies are fractions in CSV and
// JSON (as fsh-eval --json prints them) and percentages in the markdown and the plot.
#pragma once
#include <string>

#include "bench/bench.hpp"

namespace fsh::bench {

std::string report_markdown(const Report& r);
std::string report_csv(const Report& r);
std::string report_json(const Report& r);

// A standalone SVG 1.1 document: one panel per (section, configuration), x = median
// adaptation time per episode with all threads (ms, logarithmic), y = accuracy (%) with its
// 95% CI as an error bar; a legend of the methods (colour and marker shape).
std::string report_svg(const Report& r);

}  // namespace fsh::bench
