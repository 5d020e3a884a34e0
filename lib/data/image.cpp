// PNG/JPEG decoding, PNG encoding, area-averaging resize, channel conversion (see image.hpp).
// libpng and libjpeg report errors by longjmp: each setjmp-guarded function below touches only
// memory its caller owns (no C++ object with a destructor lives in a frame that longjmp skips),
// and the caller turns the recorded message into fsh::format_error.
// Pixel arithmetic is written on (H, W, C) arrays (xtensor adaptors over Image::pixels, no
// copy), so channels and rows are named by views instead of index formulas.
#include "data/image.hpp"

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: message codes (JWRN_JPEG_EOF)
#include <png.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "util/error.hpp"

namespace fsh {
namespace {

// Largest accepted side and area: a header is checked before anything of its size is
// allocated, so a few bytes claiming 30000x30000 cannot ask for gigabytes (before, with the
// side limit alone, a 675-byte JPEG made the import allocate 2.7 GB). 2^26 pixels keeps one
// image's import, RGB conversion and resize below about 2 GB.
constexpr uint32_t max_side = 1u << 15;
constexpr uint64_t max_pixels = uint64_t{1} << 26;

using Shape3 = std::array<std::size_t, 3>;

Shape3 shape_of(const Image& img) {
  return {static_cast<std::size_t>(img.height), static_cast<std::size_t>(img.width),
          static_cast<std::size_t>(img.channels)};
}

// The pixels of img as an (H, W, C) array sharing its memory.
auto as_array(Image& img) { return xt::adapt(img.pixels, shape_of(img)); }
auto as_array(const Image& img) { return xt::adapt(img.pixels, shape_of(img)); }

// ---- PNG ----------------------------------------------------------------------------------

struct PngSource {
  const uint8_t* data;
  std::size_t size;
  std::size_t pos;
};

struct PngMessage {
  char text[256];
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "unexpected end of data (truncated file?)");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* m = static_cast<PngMessage*>(png_get_error_ptr(png));
  std::snprintf(m->text, sizeof m->text, "%s", msg);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

struct PngDecoded {
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  uint32_t height = 0, width = 0;
  int channels = 0;
};

// Reads the whole PNG into out as 8-bit gray/gray+alpha/RGB/RGBA with alpha stripped.
// Returns false after a libpng error (message in the error pointer's PngMessage).
bool png_decode_guarded(png_structp png, png_infop info, PngSource* src, PngDecoded* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, src, png_read_bytes);
  png_set_user_limits(png, max_side, max_side);
  png_read_info(png, info);
  const int depth = png_get_bit_depth(png, info);
  const int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_scale_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = png_get_channels(png, info);
  if (uint64_t(out->width) * out->height > max_pixels) {
    char too_large[128];
    std::snprintf(too_large, sizeof too_large, "image too large (%ux%u, at most %llu pixels)",
                  out->width, out->height, static_cast<unsigned long long>(max_pixels));
    png_error(png, too_large);
  }
  const std::size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != std::size_t(out->width) * std::size_t(out->channels))
    png_error(png, "unsupported pixel layout after conversion to 8 bits");
  out->pixels.resize(row_bytes * out->height);
  out->rows.resize(out->height);
  for (uint32_t y = 0; y < out->height; ++y) out->rows[y] = out->pixels.data() + y * row_bytes;
  png_read_image(png, out->rows.data());
  png_read_end(png, nullptr);
  return true;
}

struct PngWriteState {
  std::vector<uint8_t>* out;
};

void png_write_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* s = static_cast<PngWriteState*>(png_get_io_ptr(png));
  s->out->insert(s->out->end(), data, data + n);
}

void png_flush_nothing(png_structp) {}

bool png_encode_guarded(png_structp png, png_infop info, const Image* img, PngWriteState* dst,
                        std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, dst, png_write_bytes, png_flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img->width),
               static_cast<png_uint_32>(img->height), 8,
               img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows->data());
  png_write_end(png, nullptr);
  return true;
}

// ---- JPEG ---------------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg hands us a pointer to it
  std::jmp_buf jump;
  char text[JMSG_LENGTH_MAX];
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->text);
  std::longjmp(e->jump, 1);
}

// libjpeg treats a truncated file as a warning and pads with gray; we refuse it instead.
// Other warnings (e.g. extraneous bytes after a marker) leave a usable image and are ignored.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

struct JpegDecoded {
  std::vector<uint8_t> pixels;
  uint32_t height = 0, width = 0;
  int channels = 0;
};

bool jpeg_decode_guarded(jpeg_decompress_struct* cinfo, JpegError* err, const uint8_t* data,
                         std::size_t size, JpegDecoded* out) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  if (cinfo->jpeg_color_space == JCS_GRAYSCALE) {
    cinfo->out_color_space = JCS_GRAYSCALE;
  } else if (cinfo->jpeg_color_space == JCS_YCbCr || cinfo->jpeg_color_space == JCS_RGB) {
    cinfo->out_color_space = JCS_RGB;
  } else {
    std::snprintf(err->text, sizeof err->text,
                  "CMYK/YCCK JPEG is not supported (convert it to RGB first)");
    return false;
  }
  if (cinfo->image_width > max_side || cinfo->image_height > max_side ||
      uint64_t(cinfo->image_width) * cinfo->image_height > max_pixels) {
    std::snprintf(err->text, sizeof err->text,
                  "image too large (%ux%u, at most %u per side and %llu pixels)",
                  cinfo->image_width, cinfo->image_height, max_side,
                  static_cast<unsigned long long>(max_pixels));
    return false;
  }
  jpeg_start_decompress(cinfo);
  out->width = cinfo->output_width;
  out->height = cinfo->output_height;
  out->channels = cinfo->output_components;
  const std::size_t row_bytes = std::size_t(out->width) * std::size_t(out->channels);
  out->pixels.resize(row_bytes * out->height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out->pixels.data() + std::size_t(cinfo->output_scanline) * row_bytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

// Per-axis area weights: output index o covers input [o·n_in/n_out, (o+1)·n_in/n_out). In units
// of 1/n_out input pixels, input pixel i spans [i·n_out, (i+1)·n_out) and output o spans
// [o·n_in, (o+1)·n_in): the overlaps are integers that sum to n_in for every o.
struct AxisWeights {
  std::vector<int64_t> first;   // [n_out] first input index
  std::vector<int64_t> offset;  // [n_out + 1] into weight
  std::vector<int64_t> weight;  // overlaps, in units of 1/n_out input pixel
};

AxisWeights axis_weights(int64_t n_in, int64_t n_out) {
  AxisWeights a;
  a.first.resize(n_out);
  a.offset.assign(1, 0);
  for (int64_t o = 0; o < n_out; ++o) {
    const int64_t lo = o * n_in, hi = (o + 1) * n_in;
    a.first[o] = lo / n_out;
    for (int64_t i = lo / n_out; i * n_out < hi; ++i) {
      const int64_t w = std::min(hi, (i + 1) * n_out) - std::max(lo, i * n_out);
      a.weight.push_back(w);
    }
    a.offset.push_back(static_cast<int64_t>(a.weight.size()));
  }
  return a;
}

using Sums3 = xt::xtensor<int64_t, 3>;

// Area sums along axis 0: in: (n_in, X, Y) -> (n_out, X, Y), slice o the overlap-weighted sum
// of the input slices it covers, in units of 1/n_out input pixel (axis_weights). Whole slices
// are contiguous, so each term is one pass over memory. `in` may be the uint8 image itself:
// each slice is widened to int64 as it is added, never the whole image at once (that copy was
// 8 bytes a sample, 1.6 GB for the largest RGB image accepted).
template <class In>
Sums3 area_sums(const In& in, int64_t n_in, int64_t n_out) {
  const AxisWeights w = axis_weights(n_in, n_out);
  Sums3 out = xt::zeros<int64_t>({std::size_t(n_out), in.shape()[1], in.shape()[2]});
  for (int64_t o = 0; o < n_out; ++o) {
    auto slice = xt::view(out, o);
    for (int64_t k = w.offset[o]; k < w.offset[o + 1]; ++k)
      slice += w.weight[k] * xt::cast<int64_t>(xt::view(in, w.first[o] + (k - w.offset[o])));
  }
  return out;
}

std::string prefix(const std::string& name) { return name.empty() ? "image" : name; }

}  // namespace

ImageFormat sniff_image_format(const uint8_t* data, std::size_t size) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, png_sig, 8) == 0) return ImageFormat::png;
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::jpeg;
  return ImageFormat::unknown;
}

Image decode_image(const uint8_t* data, std::size_t size, const std::string& name) {
  switch (sniff_image_format(data, size)) {
    case ImageFormat::png: return decode_png(data, size, name);
    case ImageFormat::jpeg: return decode_jpeg(data, size, name);
    default: break;
  }
  throw format_error(prefix(name) + ": not a PNG or JPEG image (" + std::to_string(size) +
                     " bytes, unrecognised signature)");
}

Image decode_png(const uint8_t* data, std::size_t size, const std::string& name) {
  PngMessage msg{};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &msg, png_on_error, png_on_warning);
  if (!png) throw error(prefix(name) + ": cannot initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw error(prefix(name) + ": cannot initialise libpng");
  }
  PngSource src{data, size, 0};
  PngDecoded dec;
  const bool ok = png_decode_guarded(png, info, &src, &dec);
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) throw format_error(prefix(name) + ": corrupt or unsupported PNG: " + msg.text);
  Image img(dec.height, dec.width, dec.channels == 1 ? 1 : 3);
  if (dec.channels == 1 || dec.channels == 3) {
    img.pixels = std::move(dec.pixels);
  } else {  // gray+alpha or RGBA that libpng left in place: keep the colour samples
    const auto src =
        xt::adapt(dec.pixels, Shape3{dec.height, dec.width, std::size_t(dec.channels)});
    as_array(img) = xt::view(src, xt::all(), xt::all(), xt::range(0, img.channels));
  }
  return img;
}

Image decode_jpeg(const uint8_t* data, std::size_t size, const std::string& name) {
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  JpegDecoded dec;
  const bool ok = jpeg_decode_guarded(&cinfo, &err, data, size, &dec);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) throw format_error(prefix(name) + ": corrupt or unsupported JPEG: " + err.text);
  Image img;
  img.height = dec.height;
  img.width = dec.width;
  img.channels = dec.channels;
  img.pixels = std::move(dec.pixels);
  return img;
}

std::vector<uint8_t> encode_png(const Image& img) {
  if (img.channels != 1 && img.channels != 3)
    throw shape_error("encode_png: images must have 1 or 3 channels, got " +
                      std::to_string(img.channels));
  if (img.height <= 0 || img.width <= 0)
    throw shape_error("encode_png: empty image (" + std::to_string(img.height) + "x" +
                      std::to_string(img.width) + ")");
  std::vector<uint8_t> out;
  PngMessage msg{};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &msg, png_on_error, png_on_warning);
  if (!png) throw error("encode_png: cannot initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw error("encode_png: cannot initialise libpng");
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(img.height));
  const std::size_t row_bytes = static_cast<std::size_t>(img.width * img.channels);
  for (int64_t y = 0; y < img.height; ++y)
    rows[y] = const_cast<png_bytep>(img.pixels.data()) + y * row_bytes;
  PngWriteState dst{&out};
  const bool ok = png_encode_guarded(png, info, &img, &dst, &rows);
  png_destroy_write_struct(&png, &info);
  if (!ok) throw error(std::string("encode_png: libpng failed: ") + msg.text);
  return out;
}

Image resize_area(const Image& img, int64_t height, int64_t width) {
  if (height <= 0 || width <= 0)
    throw usage_error("resize: target size must be positive, got " + std::to_string(height) +
                      "x" + std::to_string(width));
  if (img.height <= 0 || img.width <= 0 || img.channels <= 0)
    throw shape_error("resize: empty input image");
  // Separable: area sums along y, then the same along x of the transposed result.
  const Sums3 by_rows = area_sums(as_array(img), img.height, height);
  const Sums3 both =
      area_sums(Sums3(xt::transpose(by_rows, {1, 0, 2})), img.width, width);  // (w, h, C)
  // Weights sum to W_in along x and H_in along y: dividing by D = H_in·W_in gives the mean,
  // rounded half up as floor((2S + D) / 2D).
  const int64_t D = img.height * img.width;
  Image out(height, width, img.channels);
  as_array(out) = xt::cast<uint8_t>((2 * xt::transpose(both, {1, 0, 2}) + D) / (2 * D));
  return out;
}

Image convert_channels(const Image& img, int64_t channels) {
  if (channels != 1 && channels != 3)
    throw usage_error("channels must be 1 (gray) or 3 (RGB), got " + std::to_string(channels));
  if (img.channels == channels) return img;
  if (img.channels != 1 && img.channels != 3)
    throw shape_error("convert_channels: input has " + std::to_string(img.channels) +
                      " channels (expected 1 or 3)");
  Image out(img.height, img.width, channels);
  const auto in = as_array(img);
  auto o = as_array(out);
  if (channels == 3) {
    o = xt::broadcast(in, o.shape());  // (H, W, 1) -> (H, W, 3)
  } else {  // BT.601 luma in thousandths, rounded half up
    const auto rgb = xt::cast<int64_t>(in);
    auto ch = [&](int c) { return xt::view(rgb, xt::all(), xt::all(), xt::range(c, c + 1)); };
    o = xt::cast<uint8_t>((299 * ch(0) + 587 * ch(1) + 114 * ch(2) + 500) / 1000);
  }
  return out;
}

void invert(Image& img) {
  auto a = as_array(img);
  a = xt::cast<uint8_t>(255 - a);
}

}  // namespace fsh
