// One writer, two readers: readers must only ever see valid states. Run under
// ThreadSanitizer (ALEXFS_SANITIZE=thread) to check the optimistic reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/epoch.h"
#include "engine/index/alex_index.h"
#include "tests/index/test_keys.h"

namespace alexfs::index {
namespace {

// Keys are fixed before any thread starts; a location is
// (key number << 20) | generation, so every location names its own key.
class PoolKeys final : public KeyReader {
 public:
  explicit PoolKeys(std::vector<std::string> pool) : pool_(std::move(pool)) {}
  std::string_view KeyAt(uint64_t location) const override { return pool_[location >> 20]; }
  const std::string& key(size_t i) const { return pool_[i]; }
  size_t count() const { return pool_.size(); }

 private:
  const std::vector<std::string> pool_;
};

void Stress(testing::KeySet set, size_t pool_size, size_t writer_ops) {
  std::mt19937_64 rng(42 + static_cast<int>(set));
  std::vector<std::string> pool;
  for (size_t i = 0; i < pool_size; ++i) pool.push_back(testing::MakeKey(set, i, rng));
  std::sort(pool.begin(), pool.end());
  pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
  PoolKeys keys(pool);
  EpochManager epochs;
  AlexIndex index(&keys, &epochs);
  // Even-numbered keys are loaded and never touched again: readers must always
  // find them. Odd-numbered keys churn.
  std::vector<std::pair<std::string_view, uint64_t>> sorted;
  for (size_t i = 0; i < keys.count(); i += 2) sorted.emplace_back(keys.key(i), uint64_t{i} << 20);
  index.BulkLoad(sorted);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reader_errors{0};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 r(seed);
    while (!stop.load(std::memory_order_relaxed)) {
      EpochManager::Guard g = epochs.Enter();
      const size_t i = r() % keys.count();
      uint64_t loc = 0;
      const bool found = index.Find(keys.key(i), &loc);
      if (i % 2 == 0 && !found) {
        ADD_FAILURE() << "stable key " << i << " not found";
        reader_errors.fetch_add(1);
      }
      if (found && (loc >> 20) != i) {
        ADD_FAILURE() << "key " << i << " found with location of key " << (loc >> 20);
        reader_errors.fetch_add(1);
      }
      // Seek and scan a few keys: ascending, each location names its key.
      auto it = index.LowerBound(keys.key(r() % keys.count()));
      std::string prev;
      for (int n = 0; n < 40 && it.Valid(); ++n, it.Next()) {
        const std::string_view k = it.key();
        if (n > 0 && !(prev < k)) {
          ADD_FAILURE() << "scan step " << n << " not ascending";
          reader_errors.fetch_add(1);
        }
        prev.assign(k);
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  uint64_t generation = 1;
  for (size_t op = 0; op < writer_ops; ++op) {
    const size_t i = (rng() % (keys.count() / 2)) * 2 + 1;
    if (i >= keys.count()) continue;
    const uint64_t loc = (uint64_t{i} << 20) | (generation++ & 0xfffff);
    switch (rng() % 3) {
      case 0:
      case 1:
        index.Upsert(keys.key(i), loc);
        break;
      default:
        index.Erase(keys.key(i));
        break;
    }
    if (op % 1000 == 0) epochs.ReclaimNow();
  }
  stop.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(reader_errors.load(), 0u);
  EXPECT_EQ(index.CheckInvariants(), "");
}

#if defined(__SANITIZE_THREAD__)
constexpr size_t kScale = 1;
#else
constexpr size_t kScale = 4;
#endif

TEST(AlexIndexConcurrencyTest, ReadersSeeValidStatesUniform) {
  Stress(testing::KeySet::kUniform, 20000 * kScale, 100000 * kScale);
}

TEST(AlexIndexConcurrencyTest, ReadersSeeValidStatesPathLike) {
  Stress(testing::KeySet::kPathLike, 20000 * kScale, 100000 * kScale);
}

TEST(AlexIndexConcurrencyTest, ReadersSeeValidStatesSequential) {
  Stress(testing::KeySet::kSequential, 20000 * kScale, 100000 * kScale);
}

}  // namespace
}  // namespace alexfs::index
