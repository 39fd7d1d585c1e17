// Test support for the index tests: a KeyReader over an append-only arena
// (location = index into it, never freed during a test) and key generators
// for the key sets the issue names.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <string_view>

#include "engine/index/alex_index.h"

namespace alexfs::index::testing {

class ArenaKeys final : public KeyReader {
 public:
  // Appends a key; returns its location. Not thread-safe against itself, but
  // concurrent KeyAt on earlier locations is safe (deque never moves elements;
  // the writer publishes a location only after the key is stored).
  uint64_t Add(std::string key) {
    keys_.push_back(std::move(key));
    return keys_.size() - 1;
  }
  std::string_view KeyAt(uint64_t location) const override { return keys_[location]; }
  size_t count() const { return keys_.size(); }

 private:
  std::deque<std::string> keys_;
};

enum class KeySet {
  kSequential,
  kUniform,
  kPathLike,
  kLateDifference,  // differ only after byte 100
  kBinary,          // any bytes incl. 0x00 / 0xff, varied lengths
  kHuge,            // 4096-byte keys
  kExponential,     // exponentially spaced big-endian integers
  kCluster,         // one dense cluster among sparse keys
  kSparseBytes,     // differing bytes far apart, separated by long shared runs
};

inline const char* KeySetName(KeySet s) {
  switch (s) {
    case KeySet::kSequential: return "Sequential";
    case KeySet::kUniform: return "Uniform";
    case KeySet::kPathLike: return "PathLike";
    case KeySet::kLateDifference: return "LateDifference";
    case KeySet::kBinary: return "Binary";
    case KeySet::kHuge: return "Huge";
    case KeySet::kExponential: return "Exponential";
    case KeySet::kCluster: return "Cluster";
    case KeySet::kSparseBytes: return "SparseBytes";
  }
  return "?";
}

inline std::string BigEndian(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

// Generates key number i (i drawn by the caller) of a key set. Keys are
// deterministic in (set, i, rng state).
inline std::string MakeKey(KeySet set, uint64_t i, std::mt19937_64& rng) {
  switch (set) {
    case KeySet::kSequential:
      return BigEndian(i);
    case KeySet::kUniform:
      return BigEndian(rng());
    case KeySet::kPathLike: {
      char buf[96];
      std::snprintf(buf, sizeof buf, "srv/cluster-%02u/node-%04u/config/file-%06u",
                    static_cast<unsigned>(rng() % 16), static_cast<unsigned>(rng() % 2000),
                    static_cast<unsigned>(rng() % 1000000));
      return buf;
    }
    case KeySet::kLateDifference: {
      std::string s(100, 'p');
      s += BigEndian(rng() % 100000000);
      return s;
    }
    case KeySet::kBinary: {
      const size_t len = 1 + rng() % 24;
      std::string s(len, '\0');
      for (char& c : s) {
        const uint64_t r = rng() % 4;
        c = static_cast<char>(r == 0 ? 0x00 : r == 1 ? 0xff : static_cast<unsigned char>(rng()));
      }
      return s;
    }
    case KeySet::kHuge: {
      std::string s(4096, 'h');
      const std::string tail = BigEndian(rng());
      s.replace(4096 - 8 - (rng() % 3) * 1000, 8, tail);
      return s;
    }
    case KeySet::kExponential: {
      const uint64_t e = rng() % 64;
      return BigEndian((uint64_t{1} << e) + (rng() % 16));
    }
    case KeySet::kCluster: {
      if (rng() % 4 == 0) return BigEndian(rng());
      return BigEndian(0x5000000000000000ull + rng() % 200000);
    }
    case KeySet::kSparseBytes: {
      // Digits at offsets 4-5, 30-32 and 90-93 (beyond the 64-byte selection
      // window of a node whose prefix ends before 30); sometimes a shorter key
      // or a different byte inside a shared run.
      std::string s = "dir/" + std::to_string(10 + rng() % 20) + std::string(24, '-') +
                      std::to_string(100 + rng() % 30) + std::string(57, '.') + std::to_string(1000 + rng() % 9000);
      const uint64_t r = rng() % 16;
      if (r == 0) s.resize(rng() % s.size() + 1);
      if (r == 1) s[rng() % s.size()] = static_cast<char>(rng());
      return s;
    }
  }
  return "x";
}

}  // namespace alexfs::index::testing
