// Few-shot classification of the user's own image files: a support set given as class folders
// becomes one adapted classifier that carries its class names (fsh-adapt --support), and new
// pictures get class probabilities from it (fsh-eval --images). Whatever the method: the
// support set goes through Method::adapt like any episode's, so a folder holding an episode's
// support images gives that episode's classifier bit for bit.
//
// Files are prepared as the model's training data was (data/prepare.hpp), from what the model
// records (ModelConfig::input): its size and channels, and whether the training files were
// inverted. The user may override the inversion (--invert / --no-invert); without an override,
// images whose mean brightness says "opposite polarity" are refused, naming the flag.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/import.hpp"
#include "data/prepare.hpp"
#include "methods/adapted.hpp"

namespace fsh {

// What the user chose about preparing image files.
struct InputChoice {
  std::optional<bool> invert;  // --invert / --no-invert; unset: as the model records
  bool any_size = false;       // --any-size: resize files of any size, each on its own
};

// How files are prepared for a model of configuration `cfg` (read from `where`): its input size
// and channels, and the inversion chosen or recorded. usage_error naming --invert / --no-invert
// when neither the choice nor `cfg` says whether to invert.
PrepareOptions input_preparation(const ModelConfig& cfg, const InputChoice& choice,
                                 const std::string& where);

// usage_error when no inversion was chosen explicitly and `prepared` (uint8 samples of prepared
// images) looks inverted relative to the model's training images (polarity_mismatch against
// cfg.input_mean); the message names `what`, both means, and the flag that fixes it.
void check_polarity(const ModelConfig& cfg, const InputChoice& choice,
                    const std::vector<uint8_t>& prepared, const std::string& what);

// m (read from `where`) adapted to the images of `f`, prepared per `choice`: a set of one
// classifier (k_shot = images per class, n_query 0) with the folder's class names, the files'
// size (0 with any_size) and, in model.input, the preparation that was applied. Its
// dataset_fingerprint is that of the prepared support images as a dataset (labels = classes).
AdaptedSet adapt_support_folder(Method& m, const SupportFolder& f, const InputChoice& choice,
                                const std::string& where);

// Class probabilities (softmax of the logits, in double) of `count` prepared images
// ([count, H, W, C] uint8) under classifier e of `a`: [count][N]. `predicted` receives the
// classifier's predictions (argmax of the logits, the first on ties), as fsh-eval reports them
// for episode queries. Each image is classified alone, so that its result does not depend on
// the other images given (a batch's size can change the logits' last bits).
std::vector<std::vector<double>> class_probabilities(const AdaptedSet& a, int64_t e,
                                                     const std::vector<uint8_t>& images,
                                                     int64_t count,
                                                     std::vector<int32_t>* predicted);

}  // namespace fsh
