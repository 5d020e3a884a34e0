// Dataset fingerprints (see fingerprint.hpp).
#include "data/fingerprint.hpp"

#include <cstdio>

namespace fsh {

void Fnv1a64::update(const void* data, std::size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = h_;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  h_ = h;
}

void Fnv1a64::update_i64(int64_t v) {
  uint8_t b[8];
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(u >> (8 * i));
  update(b, 8);
}

void Fnv1a64::update_i32(int32_t v) {
  uint8_t b[4];
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(u >> (8 * i));
  update(b, 4);
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string dataset_fingerprint(const Dataset& d) {
  Fnv1a64 h;
  h.update_i64(d.size());
  h.update_i64(d.height);
  h.update_i64(d.width);
  h.update_i64(d.channels);
  h.update(d.images.data(), d.images.size());
  for (int32_t l : d.labels) h.update_i32(l);
  return hex64(h.value());
}

bool is_fingerprint_spelling(const std::string& s) {
  if (s.size() != 16) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

}  // namespace fsh
