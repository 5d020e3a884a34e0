// Per-query predictions as fsh-eval --predictions writes them (man 1 fsh-eval): a TSV file with
// the header line "episode query image label predicted correct" (tab-separated) and one line
// per query: the episode's index within its episodes file, the query's index within the
// episode (class-major: query q of an N-way Q-query episode has label q / Q), the dataset
// index of the query image, the true and the predicted episode label, and 1 or 0. Read back
// here for fsh-episodes show --predictions, checked against the episodes they claim to be of.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/episodes.hpp"

namespace fsh {

struct PredictionRow {
  int64_t episode = 0, query = 0, image = 0;
  int32_t label = 0, predicted = 0;
  bool correct = false;
};

// Reads a predictions TSV ("-" = stdin). format_error "<path>:<line>: ..." for a wrong header,
// a line without six integer fields, a negative index or a `correct` that disagrees with
// label and predicted; io_error when the file cannot be read.
std::vector<PredictionRow> read_predictions(const std::string& path);

// The predicted labels of episode `episode` (index within e) in query order (N·Q values),
// checked against e: format_error "<where>: ..." when a query of the episode is missing or
// listed twice, when a row's query index, image or label is not that of e's query (predictions
// of other episodes), or when a prediction is not in [0, N).
std::vector<int32_t> episode_predictions(const std::vector<PredictionRow>& rows,
                                         const Episodes& e, int64_t episode,
                                         const std::string& where);

}  // namespace fsh
