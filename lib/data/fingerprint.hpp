// Dataset fingerprints: a 64-bit FNV-1a hash of a dataset's images and labels, written as 16
// lowercase hex digits. Episode files store the fingerprint of the dataset they index, so a
// mismatched dataset is caught before any index is used. The exact byte sequence hashed is
// specified in man 5 fsh-dataset, so other languages can compute it:
//   int64 little-endian M, H, W, C; then the M*H*W*C image bytes (row-major [M,H,W,C]);
//   then the M labels as int32 little-endian.
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.hpp"

namespace fsh {

// 64-bit FNV-1a: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
class Fnv1a64 {
 public:
  void update(const void* data, std::size_t n);
  void update_i64(int64_t v);  // as 8 little-endian bytes
  void update_i32(int32_t v);  // as 4 little-endian bytes
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

// "%016x" of v.
std::string hex64(uint64_t v);

// The dataset fingerprint described above, e.g. "9f3c0a1d2b4e5f60".
std::string dataset_fingerprint(const Dataset& d);

// Whether s is spelled as a fingerprint: exactly 16 lowercase hex digits. Readers check the
// spelling before comparing, so "9F3C..." is reported as misspelled, not as a mismatch.
bool is_fingerprint_spelling(const std::string& s);

}  // namespace fsh
