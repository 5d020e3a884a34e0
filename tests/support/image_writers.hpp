// Test-only PNG and JPEG writers built directly on libpng / libjpeg (not on fsh's encoder), so
// the decoders are checked against files made independently. Also a zip writer on libzip.
// Header-only: included by test_image.cpp and test_import.cpp.
#pragma once
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <zip.h>

namespace fsh::test {

inline void png_append(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
inline void png_no_flush(png_structp) {}

// Writes a PNG of the given bit depth and colour type. `rows` are already packed the way the
// PNG stores them (e.g. 8 pixels per byte for 1-bit gray, big-endian 16-bit samples).
// `palette` is used for PNG_COLOR_TYPE_PALETTE (RGB triples).
inline std::vector<uint8_t> write_png_raw(uint32_t w, uint32_t h, int depth, int color_type,
                                          const std::vector<std::vector<uint8_t>>& rows,
                                          const std::vector<png_color>& palette = {}) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, png_append, png_no_flush);
  png_set_IHDR(png, info, w, h, depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  png_write_info(png, info);
  for (const auto& r : rows) png_write_row(png, r.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// 8-bit gray (c = 1) or RGB (c = 3) PNG from [H, W, C] pixels.
inline std::vector<uint8_t> write_png8(uint32_t w, uint32_t h, int c,
                                       const std::vector<uint8_t>& px) {
  std::vector<std::vector<uint8_t>> rows(h);
  for (uint32_t y = 0; y < h; ++y)
    rows[y].assign(px.begin() + y * w * c, px.begin() + (y + 1) * w * c);
  return write_png_raw(w, h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, rows);
}

// 1-bit gray PNG from a 0/1 mask [H, W].
inline std::vector<uint8_t> write_png1(uint32_t w, uint32_t h, const std::vector<uint8_t>& bits) {
  std::vector<std::vector<uint8_t>> rows(h, std::vector<uint8_t>((w + 7) / 8, 0));
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      if (bits[y * w + x]) rows[y][x / 8] |= static_cast<uint8_t>(0x80 >> (x % 8));
  return write_png_raw(w, h, 1, PNG_COLOR_TYPE_GRAY, rows);
}

inline void jpeg_append_init(j_compress_ptr) {}

// Baseline JPEG (quality 100, no chroma subsampling) of [H, W, C] pixels, C = 1 or 3.
inline std::vector<uint8_t> write_jpeg(uint32_t w, uint32_t h, int c,
                                       const std::vector<uint8_t>& px) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = c;
  cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  for (int i = 0; i < cinfo.num_components; ++i) {
    cinfo.comp_info[i].h_samp_factor = 1;
    cinfo.comp_info[i].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < h) {
    JSAMPROW row = const_cast<JSAMPROW>(px.data() + cinfo.next_scanline * w * c);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

// Writes a zip holding (entry name, bytes) pairs; names ending in '/' become directories.
inline void write_zip(const std::string& path,
                      const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw std::runtime_error("zip_open failed for " + path);
  for (const auto& [name, bytes] : entries) {
    if (!name.empty() && name.back() == '/') {
      zip_dir_add(z, name.c_str(), ZIP_FL_ENC_UTF_8);
      continue;
    }
    // libzip reads the buffer at zip_close: the data lives in `entries` until then.
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    if (!s || zip_file_add(z, name.c_str(), s, ZIP_FL_ENC_UTF_8) < 0)
      throw std::runtime_error("zip_file_add failed for " + name);
  }
  if (zip_close(z) != 0) throw std::runtime_error("zip_close failed for " + path);
}

}  // namespace fsh::test
