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

// Where `key` lies against the keys that start with `prefix`: < 0 before all
// of them, > 0 after all of them, 0 if it starts with the prefix.
inline int CompareToPrefix(std::string_view key, std::string_view prefix) {
  const size_t p = prefix.size();
  if (p == 0) return 0;
  const size_t m = std::min(key.size(), p);
  // m == 0 for an empty key, whose data() may be null (memcmp must not see it).
  const int c = m == 0 ? 0 : std::memcmp(key.data(), prefix.data(), m);
  if (c != 0) return c;
  return key.size() < p ? -1 : 0;  // a proper prefix of the prefix sorts first
}

inline uint64_t ChunkOf(std::string_view key, std::string_view prefix) {
  const int c = CompareToPrefix(key, prefix);
  if (c != 0) return c < 0 ? 0 : UINT64_MAX;
  return SuffixChunk(key, prefix.size());
}

// A node's chunk selection: which bytes after the node's prefix form its
// chunk, and how. count == 0: the plain chunk (the 8 bytes right after the
// prefix). Otherwise the chunk is a mixed-radix number over the bytes at
// offsets pos[0] < ... < pos[count-1] after the prefix (count <= 16): digit i
// is byte - lo[i], in [0, radix_i = top[i] + 1), where [lo, lo + radix_i)
// covers the bytes
// the node's build keys have there; the product of the radixes is <= 2^64.
// The skipped offsets below pos[count-1] are "constant": bytes the build keys
// all share, read from a template (the node's first build key from offset 0
// after the prefix, tmpl_len bytes, which nodes keep right after their prefix
// bytes).
//
// A key that leaves this shape clamps the rest of its chunk: at a constant
// offset with another byte, or at a selected offset with a byte outside
// [lo, lo + radix), the remaining digits become all maximal (byte above) or
// all zero (byte below, or the key ended). This is monotone, like the plain
// chunk: at the first offset where two keys differ, either both digits are in
// range and ordered, or the smaller key clamps down / the larger clamps up;
// if they differ only beyond the selection, their chunks are equal.
//
// Chosen at build time (ChooseSelection). Path keys of one directory share
// "12/file-" inside the plain 8-byte window and tie there; the selection
// skips the shared bytes, and digits (radix 10) pack 11 decimal places into a
// chunk, so the node's keys get distinct chunks and its linear model sees
// evenly spread numbers instead of ASCII digits with 246-wide holes.
struct ChunkSelection {
  static constexpr unsigned kMaxCount = 16;
  uint8_t count = 0;
  uint8_t pos[kMaxCount] = {};
  uint8_t lo[kMaxCount] = {};
  uint8_t top[kMaxCount] = {};  // radix - 1
  uint8_t tmpl_len = 0;
};

// Offsets after the prefix that a selection may reach (bounds the build-time
// scan and the per-lookup work).
constexpr size_t kMaxSelectionWindow = 64;

// Chunk of a key whose digits [0, i) are v and whose remaining digits are all
// maximal (up) or all zero. Wrapping arithmetic is exact: the result is below
// the product of all radixes, <= 2^64.
inline uint64_t ClampChunk(const ChunkSelection& sel, uint64_t v, unsigned i, bool up) {
  for (; i < sel.count; ++i) v = v * (sel.top[i] + 1u) + (up ? sel.top[i] : 0u);
  return v;
}

// The selected chunk of a key known to start with the p-byte prefix.
// `tmpl` points at the template (see ChunkSelection).
inline uint64_t SelectedChunk(std::string_view key, size_t p, const ChunkSelection& sel, const char* tmpl) {
  const size_t avail = key.size() - p;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(key.data()) + p;
  const unsigned char* t = reinterpret_cast<const unsigned char*>(tmpl);
  uint64_t v = 0;
  size_t j = 0;  // next offset not yet looked at
  for (unsigned i = 0; i < sel.count; ++i) {
    const size_t q = sel.pos[i];
    if (j < q) {  // constant offsets [j, q)
      const size_t m = std::min(q, avail);
      if (m > j) {
        const int c = std::memcmp(s + j, t + j, m - j);
        if (c != 0) return ClampChunk(sel, v, i, c > 0);
      }
    }
    if (q >= avail) return ClampChunk(sel, v, i, false);  // ended
    const unsigned d = static_cast<unsigned>(s[q]) - sel.lo[i];  // wraps if below lo
    if (d > sel.top[i]) return ClampChunk(sel, v, i, s[q] >= sel.lo[i]);
    v = v * (sel.top[i] + 1u) + d;
    j = q + 1;
  }
  return v;
}

// Chooses a selection for sorted keys keys[0, n) that all start with their
// p-byte common prefix: the offsets after the prefix where some key differs
// from the first (a key ending there counts as differing), in order, within
// kMaxSelectionWindow, as many as the 64-bit radix product allows (at most
// 16). Returns the plain selection (count 0) when the first 8 offsets all
// differ: the plain chunk is cheaper to compute and as good there.
// `key_at(i)` returns key i. With max_keys < n only about max_keys keys
// (evenly spaced, and the last) are looked at: the selection may then miss
// offsets or byte values of other keys, which costs chunk ties (clamped
// chunks), never correctness.
template <typename KeyAtFn>
ChunkSelection ChooseSelection(size_t n, size_t p, KeyAtFn&& key_at, size_t max_keys = SIZE_MAX) {
  ChunkSelection sel;
  if (n < 2) return sel;
  constexpr size_t kW = kMaxSelectionWindow;
  const std::string_view first = key_at(0).substr(p);
  bool vary[kW] = {};
  unsigned char lo[kW], hi[kW];
  for (size_t j = 0; j < kW; ++j) {
    lo[j] = hi[j] = j < first.size() ? static_cast<unsigned char>(first[j]) : 0;
  }
  size_t found = 0;
  size_t limit = std::min(kW, std::max<size_t>(first.size(), 1));  // offsets >= limit are not selected
  size_t reach = first.size();                                      // longest key seen (after the prefix)
  const size_t stride = max_keys < n ? n / std::max<size_t>(max_keys, 1) : 1;
  for (size_t i = 1; i < n; i = (i + stride < n || i == n - 1) ? i + stride : n - 1) {
    const std::string_view k = key_at(i).substr(p);
    if (k.size() > reach) {
      reach = k.size();
      if (found < ChunkSelection::kMaxCount) limit = std::min(kW, reach);
    }
    const size_t both = std::min({k.size(), first.size(), limit});
    for (size_t j = 0; j < both; ++j) {
      const unsigned char b = static_cast<unsigned char>(k[j]);
      lo[j] = std::min(lo[j], b);
      hi[j] = std::max(hi[j], b);
      if (!vary[j] && b != static_cast<unsigned char>(first[j])) {
        vary[j] = true;
        ++found;
      }
    }
    // Offsets where exactly one of the two has ended differ too.
    const size_t either = std::min(std::max(k.size(), first.size()), limit);
    for (size_t j = both; j < either; ++j) {
      if (j < k.size()) {
        const unsigned char b = static_cast<unsigned char>(k[j]);
        lo[j] = std::min(lo[j], b);
        hi[j] = std::max(hi[j], b);
      }
      if (!vary[j]) {
        vary[j] = true;
        ++found;
      }
    }
    if (found >= ChunkSelection::kMaxCount) {
      // Only the first kMaxCount differing offsets can be selected.
      size_t c = 0, j = 0;
      for (; j < limit; ++j) {
        if (vary[j] && ++c == ChunkSelection::kMaxCount) break;
      }
      limit = j + 1;
      found = ChunkSelection::kMaxCount;
    }
  }
  bool plain = limit >= 8;
  for (size_t j = 0; j < 8 && plain; ++j) plain = vary[j];
  if (plain) return sel;
  unsigned __int128 product = 1;
  for (size_t j = 0; j < limit && sel.count < ChunkSelection::kMaxCount; ++j) {
    if (!vary[j]) continue;
    const unsigned radix = std::max(2u, static_cast<unsigned>(hi[j] - lo[j]) + 1u);
    if (product * radix > (static_cast<unsigned __int128>(1) << 64)) break;
    product *= radix;
    sel.pos[sel.count] = static_cast<uint8_t>(j);
    sel.lo[sel.count] = lo[j];
    sel.top[sel.count] = static_cast<uint8_t>(radix - 1);
    ++sel.count;
  }
  if (sel.count == 0) return ChunkSelection();
  sel.tmpl_len = static_cast<uint8_t>(std::min<size_t>(first.size(), sel.pos[sel.count - 1]));
  return sel;
}

// ChunkOf for a node with a chunk selection; tmpl as for SelectedChunk.
inline uint64_t ChunkOf(std::string_view key, std::string_view prefix, const ChunkSelection& sel, const char* tmpl) {
  if (sel.count == 0) return ChunkOf(key, prefix);
  const int c = CompareToPrefix(key, prefix);
  if (c != 0) return c < 0 ? 0 : UINT64_MAX;
  return SelectedChunk(key, prefix.size(), sel, tmpl);
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
