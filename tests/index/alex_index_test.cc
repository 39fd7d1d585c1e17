// Differential tests: AlexIndex against std::map over many random operations,
// one fixed seed per key set, then full ordered scans and LowerBound checks.
#include "engine/index/alex_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/epoch.h"
#include "tests/index/test_keys.h"

namespace alexfs::index {
namespace {

using testing::ArenaKeys;
using testing::KeySet;
using testing::MakeKey;

struct Sizes {
  size_t bulk;
  size_t pool;  // distinct keys the ops draw from
  size_t ops;
};

Sizes SizesFor(KeySet set) {
  if (set == KeySet::kHuge) return {5000, 15000, 40000};
  return {50000, 150000, 400000};
}

class Harness {
 public:
  Harness() : index_(&keys_, &epochs_) {}

  void ExpectSameScan() {
    EpochManager::Guard g = epochs_.Enter();
    auto it = index_.Begin();
    size_t n = 0;
    for (const auto& [k, loc] : model_) {
      ASSERT_TRUE(it.Valid()) << "scan ended early at entry " << n;
      ASSERT_EQ(it.key(), k) << "entry " << n;
      ASSERT_EQ(it.location(), loc);
      it.Next();
      ++n;
    }
    EXPECT_FALSE(it.Valid());
    EXPECT_EQ(index_.size(), model_.size());
  }

  void ExpectLowerBound(const std::string& target) {
    EpochManager::Guard g = epochs_.Enter();
    auto it = index_.LowerBound(target);
    auto mit = model_.lower_bound(target);
    if (mit == model_.end()) {
      ASSERT_FALSE(it.Valid());
      return;
    }
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), mit->first);
    ASSERT_EQ(it.location(), mit->second);
    // A few steps forward agree too.
    for (int i = 0; i < 3; ++i) {
      it.Next();
      ++mit;
      if (mit == model_.end()) {
        ASSERT_FALSE(it.Valid());
        return;
      }
      ASSERT_TRUE(it.Valid());
      ASSERT_EQ(it.key(), mit->first);
    }
  }

  // CompareAndSwapSorted against the model applying the same requests one by
  // one: a sorted batch of present keys (right and wrong expectations),
  // absent keys and duplicates. Every `expected` holds its key (the API's
  // precondition): present keys use their current or an older location,
  // absent ones a fresh copy.
  void BatchSwap(const std::vector<std::string>& pool, std::mt19937_64& rng, size_t count) {
    std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> reqs;
    for (size_t i = 0; i < count; ++i) {
      const std::string& k = pool[rng() % pool.size()];
      auto it = model_.find(k);
      const uint64_t stale = keys_.Add(k);
      const uint64_t expected = (it != model_.end() && rng() % 4 != 0) ? it->second : stale;
      reqs.push_back({k, {expected, keys_.Add(k)}});
    }
    std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<AlexIndex::SwapRequest> batch;
    for (const auto& [k, ed] : reqs) batch.push_back({k, ed.first, ed.second});
    std::vector<bool> swapped;
    const size_t n = index_.CompareAndSwapSorted(batch, &swapped);
    size_t want_n = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto it = model_.find(reqs[i].first);
      const bool want = it != model_.end() && it->second == reqs[i].second.first;
      ASSERT_EQ(swapped[i], want) << "request " << i;
      if (want) {
        it->second = reqs[i].second.second;
        ++want_n;
      }
    }
    ASSERT_EQ(n, want_n);
    ASSERT_EQ(index_.CheckInvariants(), "");
    EpochManager::Guard g = epochs_.Enter();
    for (const auto& [k, ed] : reqs) {
      uint64_t loc = 0;
      auto it = model_.find(k);
      ASSERT_EQ(index_.Find(k, &loc), it != model_.end());
      if (it != model_.end()) {
        ASSERT_EQ(loc, it->second);
      }
    }
  }

  void Run(KeySet set, uint64_t seed) {
    const Sizes sz = SizesFor(set);
    std::mt19937_64 rng(seed);
    std::vector<std::string> pool;
    pool.reserve(sz.pool);
    for (size_t i = 0; i < sz.pool; ++i) pool.push_back(MakeKey(set, i, rng));
    // Bulk load a random subset.
    std::vector<std::string> initial(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(sz.bulk));
    std::sort(initial.begin(), initial.end());
    initial.erase(std::unique(initial.begin(), initial.end()), initial.end());
    std::vector<std::pair<std::string_view, uint64_t>> sorted;
    for (const std::string& k : initial) {
      const uint64_t loc = keys_.Add(k);
      model_[k] = loc;
    }
    for (const auto& [k, loc] : model_) sorted.emplace_back(keys_.KeyAt(loc), loc);
    index_.BulkLoad(sorted);
    ASSERT_EQ(index_.CheckInvariants(), "");
    ExpectSameScan();
    BatchSwap(pool, rng, 20000);
    if (::testing::Test::HasFatalFailure()) return;
    BatchSwap(pool, rng, 50);  // sparse: requests far apart
    if (::testing::Test::HasFatalFailure()) return;

    for (size_t op = 0; op < sz.ops; ++op) {
      const std::string& k = pool[rng() % pool.size()];
      const uint64_t r = rng() % 100;
      if (r < 40) {
        const uint64_t loc = keys_.Add(k);
        uint64_t old = 0;
        const bool fresh = index_.Upsert(k, loc, &old);
        auto it = model_.find(k);
        ASSERT_EQ(fresh, it == model_.end()) << "op " << op;
        if (!fresh) {
          ASSERT_EQ(old, it->second);
        }
        model_[k] = loc;
      } else if (r < 60) {
        uint64_t old = 0;
        const bool had = index_.Erase(k, &old);
        auto it = model_.find(k);
        ASSERT_EQ(had, it != model_.end()) << "op " << op;
        if (had) {
          ASSERT_EQ(old, it->second);
          model_.erase(it);
        }
      } else if (r < 80) {
        EpochManager::Guard g = epochs_.Enter();
        uint64_t loc = 0;
        const bool found = index_.Find(k, &loc);
        auto it = model_.find(k);
        ASSERT_EQ(found, it != model_.end()) << "op " << op;
        if (found) {
          ASSERT_EQ(loc, it->second);
        }
      } else if (r < 90) {
        auto it = model_.find(k);
        const uint64_t loc = keys_.Add(k);
        const uint64_t expected = (it != model_.end() && rng() % 2) ? it->second : loc + 1000000;
        const bool swapped = index_.CompareAndSwap(k, expected, loc);
        ASSERT_EQ(swapped, it != model_.end() && it->second == expected) << "op " << op;
        if (swapped) it->second = loc;
      } else {
        std::string target = k;
        if (rng() % 2) target.push_back(static_cast<char>(rng()));
        else target.back() = static_cast<char>(static_cast<unsigned char>(target.back()) + 1);
        ExpectLowerBound(target);
      }
      if (::testing::Test::HasFatalFailure()) return;
      if (op % 100000 == 99999) {
        ASSERT_EQ(index_.CheckInvariants(), "") << "after op " << op;
        epochs_.ReclaimNow();
      }
    }
    ASSERT_EQ(index_.CheckInvariants(), "");
    ExpectSameScan();
    BatchSwap(pool, rng, 30000);
    if (::testing::Test::HasFatalFailure()) return;
    ExpectSameScan();
    // Erase everything in random order: shrink and merge down to empty.
    std::vector<std::string> rest;
    for (const auto& [k, loc] : model_) rest.push_back(k);
    std::shuffle(rest.begin(), rest.end(), rng);
    for (size_t i = 0; i < rest.size(); ++i) {
      ASSERT_TRUE(index_.Erase(rest[i]));
      model_.erase(rest[i]);
      if (i % 20000 == 0) {
        ASSERT_EQ(index_.CheckInvariants(), "");
      }
    }
    ASSERT_EQ(index_.size(), 0u);
    ASSERT_EQ(index_.CheckInvariants(), "");
    ExpectSameScan();
  }

 private:
  ArenaKeys keys_;
  EpochManager epochs_;
  AlexIndex index_;
  std::map<std::string, uint64_t> model_;
};

class AlexIndexDifferentialTest : public ::testing::TestWithParam<KeySet> {};

TEST_P(AlexIndexDifferentialTest, MatchesStdMap) {
  Harness h;
  h.Run(GetParam(), 0xA1E5 + static_cast<uint64_t>(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(KeySets, AlexIndexDifferentialTest,
                         ::testing::Values(KeySet::kSequential, KeySet::kUniform, KeySet::kPathLike,
                                           KeySet::kLateDifference, KeySet::kBinary, KeySet::kHuge,
                                           KeySet::kExponential, KeySet::kCluster, KeySet::kSparseBytes),
                         [](const ::testing::TestParamInfo<KeySet>& info) {
                           return std::string(testing::KeySetName(info.param));
                         });

TEST(AlexIndexTest, EmptyIndex) {
  ArenaKeys keys;
  EpochManager epochs;
  AlexIndex index(&keys, &epochs);
  EpochManager::Guard g = epochs.Enter();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.Begin().Valid());
  EXPECT_FALSE(index.LowerBound("a").Valid());
  uint64_t loc;
  EXPECT_FALSE(index.Find("a", &loc));
  EXPECT_FALSE(index.Erase("a"));
  EXPECT_FALSE(index.CompareAndSwap("a", 0, 1));
  std::vector<AlexIndex::SwapRequest> reqs = {{"a", 0, 1}, {"b", 0, 1}};
  std::vector<bool> swapped;
  EXPECT_EQ(index.CompareAndSwapSorted(reqs, &swapped), 0u);
  EXPECT_EQ(swapped, std::vector<bool>({false, false}));
  EXPECT_GT(index.memory_bytes(), 0u);
}

TEST(AlexIndexTest, SequentialInsertsGrowTheTree) {
  ArenaKeys keys;
  EpochManager epochs;
  AlexIndex index(&keys, &epochs);
  for (uint64_t i = 0; i < 200000; ++i) {
    const std::string k = testing::BigEndian(i * 7);
    ASSERT_TRUE(index.Upsert(k, keys.Add(k)));
  }
  ASSERT_EQ(index.CheckInvariants(), "");
  EpochManager::Guard g = epochs.Enter();
  uint64_t loc;
  for (uint64_t i = 0; i < 200000; i += 997) {
    ASSERT_TRUE(index.Find(testing::BigEndian(i * 7), &loc));
    ASSERT_EQ(keys.KeyAt(loc), testing::BigEndian(i * 7));
    ASSERT_FALSE(index.Find(testing::BigEndian(i * 7 + 1), &loc));
  }
  // Reverse-order inserts in front of everything.
  for (uint64_t i = 0; i < 50000; ++i) {
    const std::string k = std::string(1, '\0') + testing::BigEndian(~i);
    ASSERT_TRUE(index.Upsert(k, keys.Add(k)));
  }
  ASSERT_EQ(index.CheckInvariants(), "");
  EXPECT_EQ(index.size(), 250000u);
}

TEST(AlexIndexTest, KeysDifferingOnlyInTrailingZeros) {
  // All these keys have the same chunk under any prefix: the index must still
  // order them by full key.
  ArenaKeys keys;
  EpochManager epochs;
  AlexIndex index(&keys, &epochs);
  std::map<std::string, uint64_t> model;
  for (size_t len = 1; len <= 4096; len += 1) {
    std::string k = "z" + std::string(len - 1, '\0');
    const uint64_t loc = keys.Add(k);
    ASSERT_TRUE(index.Upsert(k, loc));
    model[k] = loc;
  }
  ASSERT_EQ(index.CheckInvariants(), "");
  EpochManager::Guard g = epochs.Enter();
  auto it = index.Begin();
  for (const auto& [k, loc] : model) {
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), k);
    it.Next();
  }
  EXPECT_FALSE(it.Valid());
}

// Deleting half the keys gives the memory back: data nodes shrink (and small
// neighbours merge), so bytes per live key stay within 1.3x of a fresh bulk
// load of the remaining keys.
TEST(AlexIndexTest, MemoryPerKeyAfterDeletingHalf) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  const size_t kKeys = 200000;  // 1M takes ~3 min under TSan; the ratio is the same
#else
  const size_t kKeys = 1000000;
#endif
  for (KeySet set : {KeySet::kUniform, KeySet::kPathLike}) {
    SCOPED_TRACE(testing::KeySetName(set));
    ArenaKeys keys;
    EpochManager epochs;
    std::mt19937_64 rng(17);
    std::vector<std::string> all;
    for (uint64_t i = 0; all.size() < kKeys; ++i) all.push_back(MakeKey(set, i, rng));
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::vector<std::pair<std::string_view, uint64_t>> sorted;
    for (const std::string& k : all) {
      const uint64_t loc = keys.Add(k);
      sorted.emplace_back(keys.KeyAt(loc), loc);
    }
    AlexIndex index(&keys, &epochs);
    index.BulkLoad(sorted);
    // Delete every other key, in random order.
    std::vector<size_t> victims;
    for (size_t i = 0; i < sorted.size(); i += 2) victims.push_back(i);
    std::shuffle(victims.begin(), victims.end(), rng);
    for (size_t i : victims) ASSERT_TRUE(index.Erase(sorted[i].first));
    epochs.ReclaimNow();
    ASSERT_EQ(index.CheckInvariants(), "");
    const size_t live = sorted.size() - victims.size();
    ASSERT_EQ(index.size(), live);
    const double after = static_cast<double>(index.memory_bytes()) / static_cast<double>(live);

    std::vector<std::pair<std::string_view, uint64_t>> rest;
    for (size_t i = 1; i < sorted.size(); i += 2) rest.push_back(sorted[i]);
    AlexIndex fresh(&keys, &epochs);
    fresh.BulkLoad(rest);
    const double bulk = static_cast<double>(fresh.memory_bytes()) / static_cast<double>(live);
    std::printf("%s: %.1f B/key after deleting half, %.1f B/key fresh bulk load (%.2fx)\n",
                testing::KeySetName(set), after, bulk, after / bulk);
    EXPECT_LE(after, 1.3 * bulk);
  }
}

}  // namespace
}  // namespace alexfs::index
