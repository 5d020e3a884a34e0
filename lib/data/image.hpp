// Still images in memory: decoding PNG (libpng) and JPEG (libjpeg) from byte buffers, encoding
// PNG, exact area-averaging resize, and gray <-> RGB conversion. Pixels are uint8, row-major
// [H, W, C] with C = 1 (gray) or 3 (RGB). Decoders normalise every PNG flavour (1/2/4-bit gray,
// palette, 16-bit, alpha) to 8-bit gray or RGB; alpha is dropped (not composited). A corrupt or
// unsupported image throws fsh::format_error naming the file (the `name` argument).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fsh {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // [H, W, C]

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c)
      : height(h), width(w), channels(c), pixels(static_cast<std::size_t>(h * w * c), 0) {}
  uint8_t& at(int64_t y, int64_t x, int64_t c = 0) {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
  uint8_t at(int64_t y, int64_t x, int64_t c = 0) const {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
};

enum class ImageFormat { png, jpeg, unknown };

// Recognises PNG and JPEG by their signatures (not by file name).
ImageFormat sniff_image_format(const uint8_t* data, std::size_t size);

// Decodes a PNG or JPEG held in memory into 8-bit gray (C = 1) or RGB (C = 3), whichever the
// file stores (palette images become RGB). `name` is used in error messages only.
Image decode_image(const uint8_t* data, std::size_t size, const std::string& name);
Image decode_png(const uint8_t* data, std::size_t size, const std::string& name);
Image decode_jpeg(const uint8_t* data, std::size_t size, const std::string& name);

// Encodes an 8-bit gray or RGB image as PNG (default compression).
std::vector<uint8_t> encode_png(const Image& img);

// Resizes by area averaging: output pixel (y, x) is the mean of the input over the rectangle
// [y·H/h, (y+1)·H/h) × [x·W/w, (x+1)·W/w), each input pixel weighted by the area it shares with
// it. Exact for any ratio (integer arithmetic), rounded half up. Works for up- and downscaling.
Image resize_area(const Image& img, int64_t height, int64_t width);

// Gray -> RGB replicates; RGB -> gray uses ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B),
// rounded. Converting to the channel count an image already has returns a copy.
Image convert_channels(const Image& img, int64_t channels);

// 255 - v for every sample (e.g. dark ink on white paper -> bright ink).
void invert(Image& img);

}  // namespace fsh
