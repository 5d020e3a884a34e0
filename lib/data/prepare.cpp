// Preparing image files as model inputs (see prepare.hpp).
#include "data/prepare.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "util/error.hpp"

namespace fsh {

Image read_image_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::error_code ec;
  if (!f && !std::filesystem::exists(path, ec)) throw io_error(path + ": no such file");
  if (!f) throw io_error(path + ": cannot open for reading");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw io_error(path + ": read error");
  return decode_image(bytes.data(), bytes.size(), path);
}

Image prepare_image(const Image& decoded, const PrepareOptions& o) {
  // The importers' order (data/import.cpp decode_all): channels, inversion, then resize.
  Image img = convert_channels(decoded, o.channels);
  if (o.invert) invert(img);
  return resize_area(img, o.height, o.width);
}

double mean_brightness(const std::vector<uint8_t>& pixels) {
  if (pixels.empty()) return -1;
  uint64_t sum = 0;
  for (uint8_t v : pixels) sum += v;
  return double(sum) / (255.0 * double(pixels.size()));
}

bool polarity_mismatch(double mean, double reference) {
  if (mean < 0 || reference < 0) return false;
  const double as_is = std::fabs(mean - reference), inverted = std::fabs(1 - mean - reference);
  return as_is > 0.3 && inverted < as_is;
}

}  // namespace fsh
