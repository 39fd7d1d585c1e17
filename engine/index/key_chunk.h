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
#include <string>
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

// A data node's chunk selection: which bytes after the node's prefix form
// its chunk. count == 0: the plain chunk (the 8 bytes right after the
// prefix). Otherwise the chunk is the bytes at offsets pos[0] < ... <
// pos[count-1] after the prefix (count <= 8, zero-padded on the right), and
// the skipped offsets below pos[count-1] are "constant": bytes the node's
// build keys all share, kept in tmpl (tmpl[j] for offset j). A key that
// differs from tmpl at a constant offset (or ends there) clamps the rest of
// its chunk to 0xff.. (byte above tmpl) or 0x00.. (below, or ended). This is
// monotone, like the plain chunk: the first differing byte of two keys is a
// selected offset (ordered bytes), a constant one (the smaller key clamps
// down or the larger up), or lies beyond the selection (equal chunks).
// Chosen at build time (ChooseSelection): the first 8 offsets where the build
// keys differ, so keys that share bytes inside the plain 8-byte window (path
// keys of one directory: "12/file-NNNNN") still get distinct chunks.
struct ChunkSelection {
  uint8_t count = 0;
  uint8_t pos[8] = {};
  std::string tmpl;
};

// Offsets after the prefix that a selection may reach (bounds the build-time
// scan and the per-lookup work).
constexpr size_t kMaxSelectionWindow = 64;

// The rest of a chunk, after i selected bytes v, clamped up or down.
inline uint64_t ClampChunk(uint64_t v, unsigned i, bool up) {
  if (i == 0) return up ? UINT64_MAX : 0;
  const unsigned rest = 8 * (8 - i);
  if (rest == 0) return v;
  return (v << rest) | (up ? (UINT64_MAX >> (64 - rest)) : 0);
}

// The selected chunk of a key known to start with the p-byte prefix.
inline uint64_t SelectedChunk(std::string_view key, size_t p, const ChunkSelection& sel) {
  const size_t avail = key.size() - p;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(key.data()) + p;
  const unsigned char* t = reinterpret_cast<const unsigned char*>(sel.tmpl.data());
  uint64_t v = 0;
  size_t j = 0;  // next offset not yet looked at
  for (unsigned i = 0; i < sel.count; ++i) {
    const size_t q = sel.pos[i];
    if (j < q) {  // constant offsets [j, q)
      const size_t m = std::min(q, avail);
      if (m > j) {
        const int c = std::memcmp(s + j, t + j, m - j);
        if (c != 0) return ClampChunk(v, i, c > 0);
      }
    }
    if (q >= avail) return ClampChunk(v, i, false);  // ended: the rest is zero
    v = (v << 8) | s[q];
    j = q + 1;
  }
  return ClampChunk(v, sel.count, false);
}

// Chooses a selection for sorted keys keys[0, n) that all start with their
// p-byte common prefix: the first (up to) 8 offsets after the prefix where
// some key differs from the first (a key ending there counts as differing),
// within kMaxSelectionWindow. Returns the plain selection (count 0) when that
// is the same as offsets 0.. contiguous, since the plain chunk is cheaper.
// `key_at(i)` returns key i.
template <typename KeyAtFn>
ChunkSelection ChooseSelection(size_t n, size_t p, KeyAtFn&& key_at) {
  ChunkSelection sel;
  if (n < 2) return sel;
  const std::string_view first = key_at(0).substr(p);
  bool vary[kMaxSelectionWindow] = {};
  size_t found = 0;
  size_t limit = kMaxSelectionWindow;  // offsets >= limit can no longer be selected
  for (size_t i = 1; i < n; ++i) {
    const std::string_view k = key_at(i).substr(p);
    const size_t both = std::min({k.size(), first.size(), limit});
    for (size_t j = 0; j < both; ++j) {
      if (!vary[j] && k[j] != first[j]) {
        vary[j] = true;
        ++found;
      }
    }
    // Offsets where exactly one of the two has ended differ too.
    const size_t either = std::min(std::max(k.size(), first.size()), limit);
    for (size_t j = both; j < either; ++j) {
      if (!vary[j]) {
        vary[j] = true;
        ++found;
      }
    }
    if (found >= 8) {
      // Keep only the first 8 differing offsets: the scan can stop at the 8th.
      size_t c = 0, j = 0;
      for (; j < limit; ++j) {
        if (vary[j] && ++c == 8) break;
      }
      limit = j + 1;
      found = 8;
      for (size_t x = limit; x < kMaxSelectionWindow; ++x) vary[x] = false;
    }
  }
  bool contiguous = true;
  for (size_t j = 0; j < limit && sel.count < 8; ++j) {
    if (!vary[j]) continue;
    if (j != sel.count) contiguous = false;
    sel.pos[sel.count++] = static_cast<uint8_t>(j);
  }
  if (contiguous) return ChunkSelection();
  sel.tmpl.assign(first.substr(0, sel.pos[sel.count - 1]));
  return sel;
}

// ChunkOf for a node with a chunk selection.
inline uint64_t ChunkOf(std::string_view key, std::string_view prefix, const ChunkSelection& sel) {
  if (sel.count == 0) return ChunkOf(key, prefix);
  const size_t p = prefix.size();
  if (p != 0) {
    const size_t m = std::min(key.size(), p);
    const int c = m == 0 ? 0 : std::memcmp(key.data(), prefix.data(), m);
    if (c < 0) return 0;
    if (c > 0) return UINT64_MAX;
    if (key.size() < p) return 0;
  }
  return SelectedChunk(key, p, sel);
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
