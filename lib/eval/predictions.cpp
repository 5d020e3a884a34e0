// Reading fsh-eval's per-query predictions (see predictions.hpp).
#include "eval/predictions.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "util/error.hpp"

namespace fsh {

namespace {

const char* const header = "episode\tquery\timage\tlabel\tpredicted\tcorrect";

// Splits a line at tabs into integers; false unless there are exactly `n` plain decimal ones.
bool parse_fields(const std::string& line, std::size_t n, std::vector<int64_t>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = std::min(line.find('\t', start), line.size());
    const std::string f = line.substr(start, tab - start);
    if (f.empty() || f.size() > 18 ||
        f.find_first_not_of("0123456789", f[0] == '-' ? 1 : 0) != std::string::npos ||
        f == "-")
      return false;
    out.push_back(std::strtoll(f.c_str(), nullptr, 10));
    if (tab == line.size()) break;
    start = tab + 1;
  }
  return out.size() == n;
}

}  // namespace

std::vector<PredictionRow> read_predictions(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string where = path == "-" ? "<stdin>" : path;
  if (path != "-") {
    file.open(path);
    if (!file) throw io_error(path + ": cannot open the predictions file for reading");
    in = &file;
  }
  std::string line;
  if (!std::getline(*in, line)) throw format_error(where + ": empty (expected fsh-eval "
                                                           "--predictions TSV)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line != header)
    throw format_error(where + ":1: not an fsh-eval predictions file (expected the header "
                       "'episode query image label predicted correct', tab-separated)");
  std::vector<PredictionRow> rows;
  std::vector<int64_t> f;
  for (int64_t n = 2; std::getline(*in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string at = where + ":" + std::to_string(n) + ": ";
    if (!parse_fields(line, 6, f)) throw format_error(at + "expected 6 tab-separated integers");
    for (int64_t v : f)
      if (v < 0) throw format_error(at + "negative value");
    if (f[5] > 1) throw format_error(at + "correct must be 0 or 1");
    if (f[3] > INT32_MAX || f[4] > INT32_MAX) throw format_error(at + "label out of range");
    PredictionRow r{f[0], f[1], f[2], int32_t(f[3]), int32_t(f[4]), f[5] == 1};
    if (r.correct != (r.label == r.predicted))
      throw format_error(at + "correct is " + std::to_string(f[5]) + " but label " +
                         std::to_string(r.label) + " and predicted " +
                         std::to_string(r.predicted) + " say otherwise");
    rows.push_back(r);
  }
  if (in->bad()) throw io_error(where + ": read error");
  return rows;
}

std::vector<int32_t> episode_predictions(const std::vector<PredictionRow>& rows,
                                         const Episodes& e, int64_t episode,
                                         const std::string& where) {
  const int64_t nq = e.query_size();
  std::vector<int32_t> pred(static_cast<std::size_t>(nq), -1);
  for (const PredictionRow& r : rows) {
    if (r.episode != episode) continue;
    const std::string at = where + ": episode " + std::to_string(episode) + ", query " +
                           std::to_string(r.query) + ": ";
    if (r.query >= nq)
      throw format_error(at + "the episode has " + std::to_string(nq) + " queries");
    const int32_t image = e.query[std::size_t(episode * nq + r.query)];
    const int64_t label = r.query / e.n_query;
    if (r.image != image || r.label != label)
      throw format_error(at + "image " + std::to_string(r.image) + " label " +
                         std::to_string(r.label) + ", but the episodes have image " +
                         std::to_string(image) + " label " + std::to_string(label) +
                         " (predictions of other episodes?)");
    if (r.predicted >= e.n_way)
      throw format_error(at + "predicted " + std::to_string(r.predicted) + " is not in [0, " +
                         std::to_string(e.n_way) + ")");
    if (pred[std::size_t(r.query)] >= 0) throw format_error(at + "listed twice");
    pred[std::size_t(r.query)] = r.predicted;
  }
  for (int64_t q = 0; q < nq; ++q)
    if (pred[std::size_t(q)] < 0)
      throw format_error(where + ": no prediction for query " + std::to_string(q) +
                         " of episode " + std::to_string(episode));
  return pred;
}

}  // namespace fsh
