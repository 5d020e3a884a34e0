// Summaries of any fsh file, for `fsh-episodes info`: format and version, the content in a few
// lines (datasets and splits: images, classes, groups, parts; episodes: shape, count, source),
// provenance, and the file's arrays. Formats this build does not know in detail (later ones,
// such as fsh-model) still get the generic part. Reading validates the file as a reader would,
// so `info` doubles as a check.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace fsh {

namespace io {
class Reader;
}

// One line of a summary contributed by a layer above lib/io (models and adapted classifiers
// are described by lib/methods/describe.hpp): a label and its text for the human-readable
// form, a key and an already-rendered JSON value for --json (either pair may be empty: the line
// then appears in one form only).
struct InfoLine {
  std::string label, text, key, json;
};
// Describes formats this layer does not know; returns no lines for other formats.
using InfoDescriber = std::function<std::vector<InfoLine>(const io::Reader&)>;

// s as a JSON string literal (quoted, escaped).
std::string json_string(const std::string& s);

// Human-readable text (several lines, ending in '\n') or one JSON object (ending in '\n').
// With `dataset` (episodes files only), the episodes are also checked against that dataset
// (fingerprint, and every image's label against its episode class): format_error if not.
// `more` describes the formats of higher layers (fsh-model, fsh-adapted).
std::string file_info(const std::string& path, bool json, const std::string& dataset = "",
                      const InfoDescriber& more = {});

}  // namespace fsh
