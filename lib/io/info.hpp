// Summaries of any fsh file, for `fsh-episodes info`: format and version, the content in a few
// lines (datasets and splits: images, classes, groups, parts; episodes: shape, count, source),
// provenance, and the file's arrays. Formats this build does not know in detail (later ones,
// such as fsh-model) still get the generic part. Reading validates the file as a reader would,
// so `info` doubles as a check.
#pragma once
#include <string>

namespace fsh {

// Human-readable text (several lines, ending in '\n') or one JSON object (ending in '\n').
// With `dataset` (episodes files only), the episodes are also checked against that dataset
// (fingerprint, and every image's label against its episode class): format_error if not.
std::string file_info(const std::string& path, bool json, const std::string& dataset = "");

}  // namespace fsh
