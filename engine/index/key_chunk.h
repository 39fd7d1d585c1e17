// Key chunks: how a node turns a byte-string key into a number for its model.
//
// Each node keeps the common prefix of the keys it was built from. A key's
// chunk, relative to that prefix, is the next 8 bytes after it, big-endian,
// zero-padded. Keys that do not start with the prefix clamp to 0 (below it) or
// UINT64_MAX (above it). The mapping is monotone: a < b (memcmp order) implies
// ChunkOf(a) <= ChunkOf(b). Equal chunks ("ties") are resolved by comparing
// full keys; a tie is always correct, only slower.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace alexfs::index {

// The chunk of a key known to start with a p-byte prefix (key.size() >= p).
inline uint64_t SuffixChunk(std::string_view key, size_t p) {
  const size_t avail = key.size() - p;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(key.data()) + p;
  if (avail >= 8) {
    uint64_t v;
    std::memcpy(&v, s, 8);
    return __builtin_bswap64(v);
  }
  if (avail == 0) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < avail; ++i) v = (v << 8) | s[i];
  return v << (8 * (8 - avail));
}

inline uint64_t ChunkOf(std::string_view key, std::string_view prefix) {
  const size_t p = prefix.size();
  if (p != 0) {
    const size_t m = std::min(key.size(), p);
    // m == 0 for an empty key, whose data() may be null (memcmp must not see it).
    const int c = m == 0 ? 0 : std::memcmp(key.data(), prefix.data(), m);
    if (c < 0) return 0;
    if (c > 0) return UINT64_MAX;
    if (key.size() < p) return 0;  // a proper prefix of the prefix sorts first
  }
  const size_t avail = key.size() - p;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(key.data()) + p;
  if (avail >= 8) {
    uint64_t v;
    std::memcpy(&v, s, 8);
    return __builtin_bswap64(v);
  }
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | (i < avail ? s[i] : 0u);
  return v;
}

inline size_t CommonPrefixLength(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i + 8 <= n) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return i + static_cast<size_t>(__builtin_ctzll(x ^ y) / 8);
    i += 8;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// memcmp order, shorter prefix first: <0, 0, >0.
inline int CompareKeys(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

}  // namespace alexfs::index
