// Episode montage layout (see montage.hpp). With cell = scale·(H, W) and gap g = scale:
//   width  = g + cols·(cell_w + g),  cols = max(K, Q)   (prediction_montage: max(K, 2·Q))
//   height = g + N·(cell_h + g) + band + N·(cell_h + g),  band = 3g (support/query divider)
// Rows shorter than cols leave the background showing.
#include "data/montage.hpp"

#include <algorithm>
#include <string>

#include "util/error.hpp"

namespace fsh {
namespace {

constexpr uint8_t separator = 190;  // light gray lines between cells
constexpr uint8_t band = 235;       // the support/query divider, lighter still

// Both montages: `predicted` null draws the plain one in the images' channels; otherwise the
// query rows hold (query, confusion) pairs and the output is RGB.
Image draw(const std::vector<uint8_t>& support, const std::vector<uint8_t>& query,
           const std::vector<int32_t>* predicted, int64_t n_way, int64_t k_shot, int64_t n_query,
           int64_t height, int64_t width, int64_t channels, int64_t scale) {
  if (scale < 1 || scale > 32)
    throw usage_error("scale must be in [1, 32], got " + std::to_string(scale));
  if (channels != 1 && channels != 3)
    throw shape_error("montage: images must have 1 or 3 channels, got " + std::to_string(channels));
  if (n_way < 1 || k_shot < 0 || n_query < 0 || height < 1 || width < 1)
    throw shape_error("montage: empty episode");
  const int64_t P = height * width * channels;
  if (static_cast<int64_t>(support.size()) != n_way * k_shot * P ||
      static_cast<int64_t>(query.size()) != n_way * n_query * P)
    throw shape_error("montage: support/query sizes do not match N, K, Q and the image shape");
  if (predicted) {
    if (static_cast<int64_t>(predicted->size()) != n_way * n_query)
      throw shape_error("montage: " + std::to_string(predicted->size()) + " predictions for " +
                        std::to_string(n_way * n_query) + " queries");
    for (int32_t p : *predicted)
      if (p < 0 || p >= n_way)
        throw shape_error("montage: predicted label " + std::to_string(p) + " is not in [0, " +
                          std::to_string(n_way) + ")");
    if (k_shot < 1) throw shape_error("montage: predictions need support images to show");
  }
  const int64_t out_channels = predicted ? 3 : channels;
  const int64_t per_query = predicted ? 2 : 1;  // cells per query
  const int64_t g = scale, ch = height * scale, cw = width * scale;
  const int64_t cols = std::max<int64_t>(1, std::max(k_shot, per_query * n_query));
  const int64_t section = n_way * (ch + g);
  const int64_t H = g + section + 3 * g + section, W = g + cols * (cw + g);
  Image out(H, W, out_channels);
  std::fill(out.pixels.begin(), out.pixels.end(), separator);
  const int64_t band_top = g + section;
  for (int64_t y = band_top; y < band_top + 2 * g; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < out_channels; ++c) out.at(y, x, c) = band;

  // Copies image (H, W, C) enlarged by `scale` with its top-left corner at (y0, x0); a gray
  // image fills every output channel.
  auto put = [&](const uint8_t* img, int64_t y0, int64_t x0) {
    for (int64_t y = 0; y < ch; ++y)
      for (int64_t x = 0; x < cw; ++x)
        for (int64_t c = 0; c < out_channels; ++c)
          out.at(y0 + y, x0 + x, c) =
              img[((y / scale) * width + x / scale) * channels + (channels == 1 ? 0 : c)];
  };
  // Paints a g-wide frame over the edge of the cell at (y0, x0): inside the cell, so that
  // frames of neighbouring cells never meet (it covers the image's outermost pixel ring).
  auto frame = [&](int64_t y0, int64_t x0, const uint8_t* rgb) {
    for (int64_t y = y0; y < y0 + ch; ++y)
      for (int64_t x = x0; x < x0 + cw; ++x) {
        if (y >= y0 + g && y < y0 + ch - g && x >= x0 + g && x < x0 + cw - g) continue;
        for (int64_t c = 0; c < 3; ++c) out.at(y, x, c) = rgb[c];
      }
  };
  for (int64_t cls = 0; cls < n_way; ++cls) {
    for (int64_t k = 0; k < k_shot; ++k)
      put(support.data() + (cls * k_shot + k) * P, g + cls * (ch + g), g + k * (cw + g));
    for (int64_t q = 0; q < n_query; ++q) {
      const int64_t i = cls * n_query + q;
      const int64_t y0 = band_top + 3 * g + cls * (ch + g), x0 = g + per_query * q * (cw + g);
      put(query.data() + i * P, y0, x0);
      if (!predicted || (*predicted)[std::size_t(i)] == cls) continue;
      frame(y0, x0, wrong_frame_rgb);
      put(support.data() + (*predicted)[std::size_t(i)] * k_shot * P, y0, x0 + cw + g);
      frame(y0, x0 + cw + g, confusion_frame_rgb);
    }
  }
  return out;
}

}  // namespace

Image episode_montage(const std::vector<uint8_t>& support, const std::vector<uint8_t>& query,
                      int64_t n_way, int64_t k_shot, int64_t n_query, int64_t height,
                      int64_t width, int64_t channels, int64_t scale) {
  return draw(support, query, nullptr, n_way, k_shot, n_query, height, width, channels, scale);
}

Image prediction_montage(const std::vector<uint8_t>& support, const std::vector<uint8_t>& query,
                         const std::vector<int32_t>& predicted, int64_t n_way, int64_t k_shot,
                         int64_t n_query, int64_t height, int64_t width, int64_t channels,
                         int64_t scale) {
  return draw(support, query, &predicted, n_way, k_shot, n_query, height, width, channels, scale);
}

}  // namespace fsh
