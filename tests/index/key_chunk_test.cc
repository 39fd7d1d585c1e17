// Key chunks with a chunk selection (key_chunk.h): monotone for every key,
// including keys the selection was not chosen from, and distinct for build
// keys that differ within the selected offsets.
#include "engine/index/key_chunk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace alexfs::index {
namespace {

// Keys over a small alphabet (so shared runs and ties are common), with a
// common start and random lengths.
std::string RandomKey(std::mt19937_64& rng, const std::string& base) {
  static const char kAlphabet[] = {'\0', 'a', 'b', '\xff'};
  std::string k = base;
  const size_t muts = rng() % 4;
  for (size_t i = 0; i < muts && !k.empty(); ++i) k[rng() % k.size()] = kAlphabet[rng() % 4];
  if (rng() % 5 == 0) k.resize(rng() % (k.size() + 1));
  if (rng() % 5 == 0) k.push_back(kAlphabet[rng() % 4]);
  return k;
}

TEST(KeyChunkTest, SelectedChunkIsMonotoneForAllKeys) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string base;
    const size_t len = 1 + rng() % 80;
    for (size_t i = 0; i < len; ++i) base.push_back("ab\xff"[rng() % 3]);
    std::set<std::string> all;
    for (int i = 0; i < 300; ++i) all.insert(RandomKey(rng, base));
    std::vector<std::string> sorted(all.begin(), all.end());
    // Build keys: a sorted random subset; the node prefix is their common prefix.
    std::vector<std::string> build;
    for (const std::string& k : sorted) {
      if (rng() % 3 == 0) build.push_back(k);
    }
    if (build.size() < 2) continue;
    const size_t p = CommonPrefixLength(build.front(), build.back());
    const std::string prefix = build.front().substr(0, p);
    const ChunkSelection sel = ChooseSelection(build.size(), p, [&](size_t i) { return std::string_view(build[i]); });
    uint64_t prev = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      const uint64_t c = ChunkOf(sorted[i], prefix, sel, build.front().data() + p);
      ASSERT_LE(prev, c) << "round " << round << " key " << i;
      prev = c;
    }
    // Build keys agree with the prefix-relative SelectedChunk.
    for (const std::string& k : build) {
      ASSERT_EQ(ChunkOf(k, prefix, sel, build.front().data() + p),
                sel.count ? SelectedChunk(k, p, sel, build.front().data() + p) : SuffixChunk(k, p));
    }
  }
}

TEST(KeyChunkTest, SelectionSkipsSharedBytes) {
  // Five directories: the plain chunk after the prefix "srv/node-1" would be
  // "N/file-0" for the ~100 keys of a directory; the selection picks the
  // digits.
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "srv/node-%02d/file-%05d", 10 + i / 100, i * 37 % 100000);
    keys.push_back(buf);
  }
  std::sort(keys.begin(), keys.end());
  const size_t p = CommonPrefixLength(keys.front(), keys.back());
  ASSERT_EQ(p, 10u);  // "srv/node-1"
  const ChunkSelection sel = ChooseSelection(keys.size(), p, [&](size_t i) { return std::string_view(keys[i]); });
  ASSERT_EQ(sel.count, 6);  // 1 directory digit + 5 file digits
  EXPECT_EQ(sel.pos[0], 0);
  EXPECT_EQ(sel.pos[1], 7);  // after "/file-"
  std::set<uint64_t> chunks;
  for (const std::string& k : keys) chunks.insert(ChunkOf(k, keys.front().substr(0, p), sel, keys.front().data() + p));
  EXPECT_EQ(chunks.size(), keys.size());
}

TEST(KeyChunkTest, ContiguousSelectionIsPlain) {
  std::vector<std::string> keys = {"k0000000000", "k1234567890", "k9999999999"};
  const ChunkSelection sel = ChooseSelection(keys.size(), 1, [&](size_t i) { return std::string_view(keys[i]); });
  EXPECT_EQ(sel.count, 0);
}

}  // namespace
}  // namespace alexfs::index
