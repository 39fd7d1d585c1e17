// Stress (meant for ThreadSanitizer too): writers, readers, iterators and
// Compact() at once. Every value names its key, so a torn or misplaced read is
// caught; at the end the store must equal what the writers last wrote.
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

TEST(StressTest, ReadersWritersAndCompactionTogether) {
  testing::ScratchDir dir;
  StoreOptions o = testing::SmallOptions();
  o.compaction_garbage_ratio = 0.3;  // the background compactor runs too
  o.compaction_min_garbage_bytes = 32 << 10;
  o.commit_interval = std::chrono::milliseconds(5);
  auto s = testing::OpenOrDie(dir.path(), o);
  constexpr int kWriters = 3;
  constexpr int kKeys = 200;
  std::atomic<bool> stop{false};
  std::vector<std::map<std::string, std::string>> last(kWriters);
  std::vector<std::thread> ts;
  for (int w = 0; w < kWriters; ++w) {
    ts.emplace_back([&, w] {
      std::mt19937_64 rng(w);
      for (int i = 0; !stop; ++i) {
        WriteBatch b;
        for (int j = 0; j < 3; ++j) {
          std::string k = "w" + std::to_string(w) + "/" + std::to_string(rng() % kKeys);
          if (rng() % 5 == 0) {
            b.Delete(k);
            last[w].erase(k);
          } else {
            std::string v = k + "=" + std::to_string(i) + std::string(rng() % 300, '.');
            b.Put(k, v);
            last[w][k] = v;
          }
        }
        ASSERT_TRUE(s->Write(b, i % 16 == 0 ? Durability::kDurable : Durability::kBuffered).ok());
      }
    });
  }
  std::atomic<uint64_t> reads{0};
  for (int r = 0; r < 2; ++r) {
    ts.emplace_back([&, r] {
      std::mt19937_64 rng(100 + r);
      while (!stop) {
        std::string k = "w" + std::to_string(rng() % kWriters) + "/" + std::to_string(rng() % kKeys);
        PinnedValue v;
        Status st = s->Get(k, &v);
        if (st.ok()) {
          ASSERT_EQ(v.value().substr(0, k.size() + 1), k + "=");
        } else {
          ASSERT_TRUE(st.IsNotFound()) << st.ToString();
        }
        if (rng() % 64 == 0) {
          auto it = s->NewIterator();
          std::string prev;
          int n = 0;
          for (it->Seek("w1/"); it->Valid() && n < 100; it->Next(), ++n) {
            ASSERT_LT(prev, it->key());
            prev = std::string(it->key());
            ASSERT_EQ(it->value().substr(0, prev.size() + 1), prev + "=");
          }
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  ts.emplace_back([&] {
    while (!stop) {
      ASSERT_TRUE(s->Compact().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : ts) t.join();
  EXPECT_GT(reads.load(), 0u);
  std::map<std::string, std::string> want;
  for (const auto& m : last) want.insert(m.begin(), m.end());
  EXPECT_EQ(testing::Dump(*s), want);
  s.reset();
  s = testing::OpenOrDie(dir.path(), o);
  EXPECT_EQ(testing::Dump(*s), want);
}

}  // namespace
}  // namespace alexfs
