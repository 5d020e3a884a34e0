// Few-shot classification of image files (see images.hpp).
#include "methods/images.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/fingerprint.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {

std::string fraction(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

}  // namespace

PrepareOptions input_preparation(const ModelConfig& cfg, const InputChoice& choice,
                                 const std::string& where) {
  PrepareOptions o;
  o.height = cfg.backbone.height;
  o.width = cfg.backbone.width;
  o.channels = cfg.backbone.in_channels;
  if (choice.invert) {
    o.invert = *choice.invert;
  } else if (cfg.input.known) {
    o.invert = cfg.input.inverted;
  } else {
    throw usage_error(where +
                      " does not record whether its training images were inverted (trained on "
                      "data that did not say how it was made); pass --invert (dark drawings on "
                      "light paper) or --no-invert (images as they are)");
  }
  return o;
}

void check_polarity(const ModelConfig& cfg, const InputChoice& choice,
                    const std::vector<uint8_t>& prepared, const std::string& what) {
  if (choice.invert) return;  // the user said how; trust it
  const double mean = mean_brightness(prepared);
  if (!polarity_mismatch(mean, cfg.input_mean)) return;
  const bool inverted = cfg.input.known && cfg.input.inverted;
  throw usage_error(what + " look" + " inverted for this model: mean brightness " + fraction(mean) +
                    " after preparation, the training images' " + fraction(cfg.input_mean) +
                    "; pass " +
                    (inverted ? "--no-invert (they are already light on dark)"
                              : "--invert (dark on light: make them light on dark)") +
                    ", or fix the images");
}

AdaptedSet adapt_support_folder(Method& m, const SupportFolder& f, const InputChoice& choice,
                                const std::string& where) {
  const PrepareOptions prep = input_preparation(m.config(), choice, where);
  const int64_t N = static_cast<int64_t>(f.class_names.size()), K = f.k_shot;
  if (N < 2 || K < 1 || static_cast<int64_t>(f.images.size()) != N * K)
    throw usage_error(
        "adapt_support_folder: a support set needs at least 2 classes of K >= 1 "
        "images each");
  // The support set as an episode without queries, through the same conversion every episode
  // takes (to_tensors), so that the same images give the same classifier.
  EpisodeImages ep;
  ep.n_way = N;
  ep.k_shot = K;
  ep.n_query = 0;
  ep.height = prep.height;
  ep.width = prep.width;
  ep.channels = prep.channels;
  for (int64_t i = 0; i < N * K; ++i) {
    const Image img = prepare_image(f.images[std::size_t(i)], prep);
    ep.support.insert(ep.support.end(), img.pixels.begin(), img.pixels.end());
    ep.support_labels.push_back(static_cast<int32_t>(i / K));
  }
  check_polarity(m.config(), choice, ep.support, "the images in " + f.root);

  AdaptedSet s;
  s.model = m.config();
  s.model.input.known = true;
  s.model.input.inverted = prep.invert;
  s.n_way = static_cast<int>(N);
  s.k_shot = K;
  s.n_query = 0;
  s.first = 0;
  s.episodes_seed = 0;
  Dataset d;
  d.height = prep.height;
  d.width = prep.width;
  d.channels = prep.channels;
  d.images = ep.support;
  d.labels = ep.support_labels;
  s.dataset_fingerprint = dataset_fingerprint(d);
  s.base = m.base_convolutions();
  s.add(m.adapt(to_tensors(ep)));
  s.class_names = f.class_names;
  if (!choice.any_size) {
    s.source_height = f.images.front().height;
    s.source_width = f.images.front().width;
  }
  return s;
}

std::vector<std::vector<double>> class_probabilities(const AdaptedSet& a, int64_t e,
                                                     const std::vector<uint8_t>& images,
                                                     int64_t count,
                                                     std::vector<int32_t>* predicted) {
  const Conv4Config& cfg = a.model.backbone;
  const std::size_t per = std::size_t(cfg.in_channels) * cfg.height * cfg.width;
  if (count < 0 || images.size() != per * std::size_t(count))
    throw shape_error("class_probabilities: " + std::to_string(images.size()) + " bytes are not " +
                      std::to_string(count) + " images of " + std::to_string(per));
  const AdaptedClassifier c = a.episode(e);
  const int N = a.n_way;
  std::vector<std::vector<double>> probs;
  if (predicted) predicted->clear();
  // One image at a time: an image's probabilities then depend on nothing but the image (a
  // batch's size changes how the convolution's matrix products are blocked, hence the last bits).
  for (int64_t i = 0; i < count; ++i) {
    EpisodeImages ep;
    ep.n_way = N;
    ep.height = cfg.height;
    ep.width = cfg.width;
    ep.channels = cfg.in_channels;
    ep.query.assign(images.begin() + i * per, images.begin() + (i + 1) * per);
    ep.query_labels.assign(1, 0);
    std::vector<float> logits;
    const std::vector<int32_t> pred = classify(a.model, c, to_tensors(ep), &logits);
    const double top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(static_cast<std::size_t>(N));
    double sum = 0;
    for (int k = 0; k < N; ++k) sum += p[k] = std::exp(double(logits[k]) - top);
    for (double& v : p) v /= sum;
    probs.push_back(std::move(p));
    if (predicted) predicted->push_back(pred[0]);
  }
  return probs;
}

}  // namespace fsh
