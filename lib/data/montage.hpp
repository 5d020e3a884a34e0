// Episode montages for people to look at (fsh-episodes show): one row per episode class with
// its K support images, then a wider light band, then one row per class with its Q query
// images. Cells are separated by light-gray lines; images are enlarged by an integer factor
// (nearest neighbour, so pixels stay crisp). Output is 8-bit gray or RGB like the input;
// prediction_montage adds what a classifier got wrong.
#pragma once
#include <cstdint>
#include <vector>

#include "data/image.hpp"

namespace fsh {

// support: [N*K, H, W, C] class-major; query: [N*Q, H, W, C] class-major; C = 1 or 3.
// scale in [1, 32]. Throws shape_error / usage_error on inconsistent arguments.
Image episode_montage(const std::vector<uint8_t>& support, const std::vector<uint8_t>& query,
                      int64_t n_way, int64_t k_shot, int64_t n_query, int64_t height,
                      int64_t width, int64_t channels, int64_t scale);

// The same episode with a classifier's predictions, so that a person can see what it confuses:
// `predicted` holds the predicted episode label of each query ([N*Q], query order; query q's
// true label is q / Q). Each query row has two cells per query: the query, then -- when the
// prediction is wrong -- the first support image of the class it was taken for. The wrong
// query gets a red frame, the image beside it a light red one, each `scale` pixels wide over
// the cell's edge (covering the image's outermost pixel ring, so that frames of neighbouring
// cells never meet). Correct queries have no frame and an empty second cell. Always RGB (gray
// images are repeated over the channels):
//   width = g + max(K, 2·Q)·(cell_w + g); height as episode_montage.
// Throws as episode_montage, and shape_error when predicted has the wrong size or a label
// outside [0, N).
Image prediction_montage(const std::vector<uint8_t>& support, const std::vector<uint8_t>& query,
                         const std::vector<int32_t>& predicted, int64_t n_way, int64_t k_shot,
                         int64_t n_query, int64_t height, int64_t width, int64_t channels,
                         int64_t scale);

// The frames around a wrongly classified query and around the support image beside it.
constexpr uint8_t wrong_frame_rgb[3] = {220, 20, 20};
constexpr uint8_t confusion_frame_rgb[3] = {245, 170, 170};

}  // namespace fsh
