// Tests of lib/data/image: decoding PNG/JPEG files that the test writes itself with libpng and
// libjpeg (gray, RGB, 1-bit, palette, 16-bit, alpha), area-averaging resize against values
// calculated by hand (integer, non-integer and upscaling ratios), channel conversion, PNG
// round trip, and corrupt inputs (format_error naming the file).
#include <doctest/doctest.h>

#include <cstdlib>

#include "data/image.hpp"
#include "image_writers.hpp"
#include "util/error.hpp"

using fsh::Image;

namespace {

Image make(int64_t h, int64_t w, int64_t c, std::vector<uint8_t> px) {
  Image img(h, w, c);
  REQUIRE(px.size() == img.pixels.size());
  img.pixels = std::move(px);
  return img;
}

std::vector<uint8_t> ramp(int64_t n, int mul) {
  std::vector<uint8_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * mul) % 256);
  return v;
}

std::string error_of(const std::vector<uint8_t>& bytes, const std::string& name) {
  try {
    fsh::decode_image(bytes.data(), bytes.size(), name);
  } catch (const fsh::format_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("8-bit gray and RGB PNGs decode exactly") {
  const auto gray = ramp(5 * 7, 7);
  auto png = fsh::test::write_png8(7, 5, 1, gray);
  Image g = fsh::decode_image(png.data(), png.size(), "g.png");
  CHECK(g.height == 5);
  CHECK(g.width == 7);
  CHECK(g.channels == 1);
  CHECK(g.pixels == gray);

  const auto rgb = ramp(4 * 3 * 3, 13);
  png = fsh::test::write_png8(3, 4, 3, rgb);
  Image c = fsh::decode_image(png.data(), png.size(), "c.png");
  CHECK(c.height == 4);
  CHECK(c.width == 3);
  CHECK(c.channels == 3);
  CHECK(c.pixels == rgb);
}

TEST_CASE("1-bit gray PNG (Omniglot's format) expands 0/1 to 0/255") {
  // 11 wide: not a multiple of 8, so the row padding bits are exercised.
  std::vector<uint8_t> bits(3 * 11);
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = (i * 7 + 3) % 5 < 2;
  auto png = fsh::test::write_png1(11, 3, bits);
  Image g = fsh::decode_png(png.data(), png.size(), "b.png");
  REQUIRE(g.channels == 1);
  REQUIRE(g.pixels.size() == bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) CHECK(g.pixels[i] == (bits[i] ? 255 : 0));
}

TEST_CASE("palette, 16-bit and alpha PNGs become 8-bit gray or RGB") {
  std::vector<png_color> pal = {{10, 20, 30}, {200, 100, 50}, {0, 255, 0}};
  // 2x2 palette image at 8 bits per index
  auto png = fsh::test::write_png_raw(2, 2, 8, PNG_COLOR_TYPE_PALETTE, {{0, 1}, {2, 0}}, pal);
  Image p = fsh::decode_image(png.data(), png.size(), "p.png");
  CHECK(p.channels == 3);
  CHECK(p.pixels == std::vector<uint8_t>{10, 20, 30, 200, 100, 50, 0, 255, 0, 10, 20, 30});

  // 16-bit gray, big-endian samples: 0x0000, 0xFFFF, 0x8080 (-> 128 exactly), 0x1234.
  // Scaling 16 -> 8 bits rounds v·255/65535: 0x1234 = 4660 -> 18.13 -> 18.
  png = fsh::test::write_png_raw(4, 1, 16, PNG_COLOR_TYPE_GRAY,
                                 {{0x00, 0x00, 0xff, 0xff, 0x80, 0x80, 0x12, 0x34}});
  Image s = fsh::decode_image(png.data(), png.size(), "s.png");
  CHECK(s.channels == 1);
  CHECK(s.pixels == std::vector<uint8_t>{0, 255, 128, 18});

  // RGBA: alpha is dropped, colour kept.
  png = fsh::test::write_png_raw(2, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA,
                                 {{1, 2, 3, 0, 250, 251, 252, 255}});
  Image a = fsh::decode_image(png.data(), png.size(), "a.png");
  CHECK(a.channels == 3);
  CHECK(a.pixels == std::vector<uint8_t>{1, 2, 3, 250, 251, 252});

  // gray + alpha
  png = fsh::test::write_png_raw(2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, {{7, 0, 99, 128}});
  Image ga = fsh::decode_image(png.data(), png.size(), "ga.png");
  CHECK(ga.channels == 1);
  CHECK(ga.pixels == std::vector<uint8_t>{7, 99});
}

TEST_CASE("JPEG gray and RGB decode close to the original (quality 100)") {
  // Smooth content: at quality 100 without subsampling the error stays within a few levels.
  const int64_t H = 16, W = 24;
  std::vector<uint8_t> gray(H * W), rgb(H * W * 3);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      gray[y * W + x] = static_cast<uint8_t>(40 + 6 * x + 3 * y);
      rgb[(y * W + x) * 3 + 0] = static_cast<uint8_t>(200 - 4 * x);
      rgb[(y * W + x) * 3 + 1] = static_cast<uint8_t>(30 + 5 * y);
      rgb[(y * W + x) * 3 + 2] = static_cast<uint8_t>(90 + 2 * x + 2 * y);
    }
  for (int c : {1, 3}) {
    const auto& ref = c == 1 ? gray : rgb;
    auto jpg = fsh::test::write_jpeg(W, H, c, ref);
    Image d = fsh::decode_image(jpg.data(), jpg.size(), "x.jpg");
    REQUIRE(d.height == H);
    REQUIRE(d.width == W);
    REQUIRE(d.channels == c);
    int worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, std::abs(int(d.pixels[i]) - int(ref[i])));
    CHECK(worst <= 3);
  }
}

TEST_CASE("area resize, integer ratio: means of 2x2 blocks") {
  Image in = make(4, 4, 1, {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150});
  Image out = fsh::resize_area(in, 2, 2);
  // (0+10+40+50)/4, (20+30+60+70)/4, (80+90+120+130)/4, (100+110+140+150)/4
  CHECK(out.pixels == std::vector<uint8_t>{25, 45, 105, 125});
}

TEST_CASE("area resize, non-integer ratios use fractional coverage") {
  // 3 -> 2 along x: output 0 covers [0, 1.5): (1·0 + 0.5·90)/1.5 = 30;
  // output 1 covers [1.5, 3): (0.5·90 + 1·180)/1.5 = 150.
  CHECK(fsh::resize_area(make(1, 3, 1, {0, 90, 180}), 1, 2).pixels ==
        std::vector<uint8_t>{30, 150});
  // 3x3 -> 2x2 with only the centre lit: each output overlaps it by 0.5 × 0.5 of its
  // 1.5 × 1.5 area: 255 · 0.25 / 2.25 = 28.33 -> 28.
  Image c(3, 3, 1);
  c.at(1, 1) = 255;
  CHECK(fsh::resize_area(c, 2, 2).pixels == std::vector<uint8_t>{28, 28, 28, 28});
  // Omniglot's 105 -> 28 (ratio 3.75): ink in columns 0..3 only. Output column 0 covers
  // [0, 3.75): all ink -> 255; column 1 covers [3.75, 7.5): 0.25 of pixel 3 -> 255/15 = 17.
  Image o(105, 105, 1);
  for (int y = 0; y < 105; ++y)
    for (int x = 0; x < 4; ++x) o.at(y, x) = 255;
  Image r = fsh::resize_area(o, 28, 28);
  for (int y = 0; y < 28; ++y) {
    CHECK(r.at(y, 0) == 255);
    CHECK(r.at(y, 1) == 17);
    for (int x = 2; x < 28; ++x) CHECK(r.at(y, x) == 0);
  }
  // Rows 0..2 lit (3 of 3.75 in output row 0): 255 · 3/3.75 = 204 exactly.
  Image t(105, 105, 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 105; ++x) t.at(y, x) = 255;
  Image rt = fsh::resize_area(t, 28, 28);
  CHECK(rt.at(0, 0) == 204);
  CHECK(rt.at(0, 27) == 204);
  CHECK(rt.at(1, 5) == 0);
}

TEST_CASE("area resize rounds half up, upscales, and treats channels independently") {
  CHECK(fsh::resize_area(make(1, 2, 1, {0, 1}), 1, 1).pixels == std::vector<uint8_t>{1});
  CHECK(fsh::resize_area(make(1, 2, 1, {254, 255}), 1, 1).pixels == std::vector<uint8_t>{255});
  CHECK(fsh::resize_area(make(1, 2, 1, {10, 13}), 1, 1).pixels == std::vector<uint8_t>{12});
  // 2 -> 4: each output lies inside one input pixel.
  CHECK(fsh::resize_area(make(1, 2, 1, {0, 100}), 1, 4).pixels ==
        std::vector<uint8_t>{0, 0, 100, 100});
  // 2 -> 3: the middle output covers [2/3, 4/3): half of each input pixel -> 50.
  CHECK(fsh::resize_area(make(1, 2, 1, {0, 100}), 1, 3).pixels ==
        std::vector<uint8_t>{0, 50, 100});
  // RGB 1x2 -> 1x1: per-channel means.
  CHECK(fsh::resize_area(make(1, 2, 3, {0, 100, 200, 2, 50, 100}), 1, 1).pixels ==
        std::vector<uint8_t>{1, 75, 150});
  // Same size: identity.
  const auto px = ramp(6 * 5 * 3, 11);
  CHECK(fsh::resize_area(make(6, 5, 3, px), 6, 5).pixels == px);
  CHECK_THROWS_AS(fsh::resize_area(make(1, 2, 1, {0, 1}), 0, 1), fsh::usage_error);
}

TEST_CASE("gray <-> RGB conversion") {
  Image g = make(1, 2, 1, {0, 200});
  CHECK(fsh::convert_channels(g, 3).pixels == std::vector<uint8_t>{0, 0, 0, 200, 200, 200});
  // 0.299·100 + 0.587·200 + 0.114·50 = 29.9 + 117.4 + 5.7 = 153.0
  CHECK(fsh::convert_channels(make(1, 1, 3, {100, 200, 50}), 1).pixels ==
        std::vector<uint8_t>{153});
  CHECK(fsh::convert_channels(make(1, 1, 3, {255, 255, 255}), 1).pixels ==
        std::vector<uint8_t>{255});
  CHECK_THROWS_AS(fsh::convert_channels(g, 2), fsh::usage_error);
}

TEST_CASE("encode_png round-trips through the decoder") {
  for (int c : {1, 3}) {
    Image img = make(9, 13, c, ramp(9 * 13 * c, 31));
    const auto bytes = fsh::encode_png(img);
    CHECK(fsh::sniff_image_format(bytes.data(), bytes.size()) == fsh::ImageFormat::png);
    Image back = fsh::decode_image(bytes.data(), bytes.size(), "rt.png");
    CHECK(back.channels == c);
    CHECK(back.pixels == img.pixels);
  }
}

TEST_CASE("corrupt images throw format_error naming the file") {
  auto png = fsh::test::write_png8(8, 8, 1, ramp(64, 3));
  auto truncated = std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2);
  std::string e = error_of(truncated, "dir/half.png");
  CHECK(e.find("dir/half.png") != std::string::npos);
  CHECK(e.find("PNG") != std::string::npos);

  auto flipped = png;  // a damaged byte inside the image data: the CRC check catches it
  flipped[png.size() - 20] ^= 0x5a;
  CHECK(error_of(flipped, "crc.png").find("crc.png") != std::string::npos);

  CHECK(error_of({}, "empty.png").find("empty.png: not a PNG or JPEG") != std::string::npos);
  CHECK(error_of({'h', 'e', 'l', 'l', 'o'}, "text.jpg").find("text.jpg") != std::string::npos);

  auto jpg = fsh::test::write_jpeg(16, 16, 1, ramp(256, 5));
  auto jcut = std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 2);
  e = error_of(jcut, "cut.jpg");
  CHECK(e.find("cut.jpg") != std::string::npos);
  CHECK(e.find("JPEG") != std::string::npos);
  // Only a JPEG signature: the header is missing.
  CHECK(error_of({0xff, 0xd8, 0xff}, "stub.jpg").find("stub.jpg") != std::string::npos);
}
