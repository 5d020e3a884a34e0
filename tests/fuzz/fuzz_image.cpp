// libFuzzer target: the image decoders behind `fsh-episodes import` (PNG and JPEG, recognised by
// signature), followed by what the importer does with a decoded image: conversion to gray and
// to RGB, inversion, area-averaging resize. A corrupt image may be refused only with an
// fsh::error naming it; anything else is a finding. Seeds: tests/fuzz/corpus/fuzz_image.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/image.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    fsh::Image img = fsh::decode_image(data, size, "fuzz.png");
    for (int64_t channels : {1, 3}) {
      fsh::Image c = fsh::convert_channels(img, channels);
      fsh::invert(c);
      fsh::resize_area(c, 7, 5);
    }
  } catch (const fsh::error& e) {
    const std::string what = e.what();
    if (what.find('\n') != std::string::npos || what.rfind("fuzz.png: ", 0) != 0) {
      std::fprintf(stderr, "refusal is not one line naming the image: %s\n", what.c_str());
      std::abort();
    }
  }
  return 0;
}
