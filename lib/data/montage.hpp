// Episode montages for people to look at (fsh-episodes show): one row per episode class with
// its K support images, then a wider light band, then one row per class with its Q query
// images. Cells are separated by light-gray lines; images are enlarged by an integer factor
// (nearest neighbour, so pixels stay crisp). Output is 8-bit gray or RGB like the input.
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

}  // namespace fsh
