// Turning image files into model inputs exactly as the importers turned the training data's
// files into a dataset (data/import.hpp): decode, convert to the model's channels (gray <-> RGB),
// invert when the training files were inverted, resize by area averaging -- in that order, the
// importers' order, so that a file the importer read gives the very bytes it stored.
//
// And the one check a recorded mean brightness allows: whether new pictures have the opposite
// ink polarity from the training data (dark ink on light paper given to a model trained on
// bright ink), which would otherwise give confident nonsense.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.hpp"

namespace fsh {

struct PrepareOptions {
  int64_t height = 28, width = 28, channels = 1;  // the model's input
  bool invert = false;                            // 255 - v after the channel conversion
};

// Reads and decodes a PNG or JPEG file (by its signature, not its name): io_error when it
// cannot be read, format_error naming it when it is not a PNG or JPEG or is corrupt.
Image read_image_file(const std::string& path);

// The model input [H, W, C] of a decoded image (see the file comment).
Image prepare_image(const Image& decoded, const PrepareOptions& o);

// Mean of the samples as a fraction of 255, in [0, 1]; -1 for no samples. Exact (integer sum).
double mean_brightness(const std::vector<uint8_t>& pixels);

// True when images of mean brightness `mean` look inverted relative to training images of mean
// `reference` (both in [0, 1]): they differ by more than 0.3 and inverting them would bring them
// closer. Never true when either is unknown (< 0). Glyph datasets (ink bright) average about
// 0.1, the same drawings on paper about 0.9; natural images of either polarity sit near the
// middle and never trip it.
bool polarity_mismatch(double mean, double reference);

}  // namespace fsh
