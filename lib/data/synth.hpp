// fsh's built-in data: procedurally generated glyphs, Omniglot-like (many classes, few drawings
// each, ink bright uint8, square images). Classes come in groups ("alphabets") whose glyphs
// share a stroke style (a pool of primitive strokes, curviness, smooth or angular strokes,
// stroke count and thickness), so a split by group holds out whole styles, as Omniglot's
// alphabets do. A class is 2-4 strokes; each instance re-draws it with per-point stroke noise,
// a per-stroke offset, a small rotation/scale/shear/shift and a thickness change, rendered
// anti-aliased (coverage from the distance to the stroke's centre line).
//
// With 3 channels (the shape of mini-ImageNet's inputs) each drawing is coloured: the glyph's
// coverage blends a bright, saturated ink over a darker background textured by two sinusoidal
// gratings (frequencies in cycles per image, so any size looks alike). Ink colour, background
// colours and texture are drawn per instance: they are nuisances, and the class is still told
// by shape alone. The coverage is exactly that of the 1-channel drawing with the same options.
//
// Deterministic: alphabet g draws from Rng::stream(seed, 2^63 + g), class c from
// Rng::stream(seed, c) and instance i of class c from Rng::stream(seed, c, i + 1) (its colours
// from the same stream, after the geometry), so the bytes depend only on the options and the
// seed, never on the thread count.
#pragma once
#include <cstdint>

#include "data/dataset.hpp"

namespace fsh {

struct SynthOptions {
  int64_t classes = 400;           // [1, 100000]
  int64_t instances = 20;          // drawings per class, [1, 10000]
  int64_t size = 28;               // image side in pixels, [8, 1024]
  int64_t channels = 1;            // 1: gray ink on black; 3: coloured, textured (see above)
  int64_t classes_per_group = 0;   // glyphs per alphabet, [1, classes], the last may be smaller;
                                   // 0 = min(20, classes)
  uint64_t seed = 1;
  int threads = 0;  // 0 = all cores
};

// Classes are named "alphabetGG/glyphCC" (CC counts within the alphabet), groups "alphabetGG".
// Images: [classes·instances, size, size, channels], class-major; instance names are empty.
// Throws usage_error for options outside the ranges above.
Dataset synthesize(const SynthOptions& opt);

}  // namespace fsh
