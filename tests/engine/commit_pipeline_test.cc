// The commit pipeline: appending and fdatasync are decoupled, so concurrent
// durable writers share fdatasyncs and buffered writers never wait for one;
// and readers see a multi-op batch all or nothing.
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/engine/engine_test_util.h"
#include "tests/support/fault_env.h"

namespace alexfs {
namespace {

using testing::GetOr;
using testing::OpenOrDie;
using testing::ScratchDir;
using testing::SmallOptions;

// The filesystem's fsync: a buffered write of the file's value, then Sync().
// With N threads at it, a Sync() that arrives while an fdatasync runs waits
// for it and is then covered by the next one together with everyone else that
// appended meanwhile: far fewer fdatasyncs than Sync() calls.
TEST(CommitPipelineTest, ConcurrentFsyncsShareFdatasyncs) {
  ScratchDir dir;
  StoreOptions o = SmallOptions();
  o.segment_bytes = 8 << 20;  // no roll (a roll syncs too)
  auto s = OpenOrDie(dir.path(), o);
  constexpr int kThreads = 4;
  constexpr int kRounds = 150;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string k = "file" + std::to_string(t);
        ASSERT_TRUE(s->Put(k, std::string(512, static_cast<char>('a' + i % 26))).ok());
        ASSERT_TRUE(s->Sync().ok());
      }
    });
  }
  for (auto& t : ts) t.join();
  const StoreStats st = s->GetStats();
  const uint64_t calls = kThreads * kRounds;
  std::printf("%llu Sync() calls, %llu fdatasyncs\n", static_cast<unsigned long long>(calls),
              static_cast<unsigned long long>(st.syncs));
  // Without sharing there is one fdatasync per call (900 of 903 measured).
  EXPECT_LT(st.syncs, calls * 3 / 4);
  EXPECT_GT(st.syncs, 0u);
}

// Sync() with nothing new to sync costs no fdatasync.
TEST(CommitPipelineTest, SyncWithNothingAppendedIsFree) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  ASSERT_TRUE(s->Sync().ok());
  EXPECT_EQ(s->GetStats().syncs, 0u);
  ASSERT_TRUE(s->Put("k", "v", Durability::kDurable).ok());
  EXPECT_EQ(s->GetStats().syncs, 1u);
  ASSERT_TRUE(s->Sync().ok());
  ASSERT_TRUE(s->Put("k", "v2", Durability::kDurable).ok());
  EXPECT_EQ(s->GetStats().syncs, 2u);
}

// Buffered writers keep going while durable writers sync: mixed load, and
// everything written durably is there after a reopen.
TEST(CommitPipelineTest, BufferedAndDurableWritersTogether) {
  ScratchDir dir;
  {
    auto s = OpenOrDie(dir.path(), SmallOptions());
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        const Durability d = t % 2 == 0 ? Durability::kDurable : Durability::kBuffered;
        for (int i = 0; i < 300; ++i) {
          ASSERT_TRUE(s->Put("t" + std::to_string(t) + "/" + std::to_string(i), "v", d).ok());
        }
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_TRUE(s->Close().ok());
  }
  auto s = OpenOrDie(dir.path(), SmallOptions());
  EXPECT_EQ(s->GetStats().keys, 1200u);
}

// A batch writes a := i, <filler>, b := i, in that order. A reader reads a
// then b: if it ever sees a newer a than b, it saw half of a batch (the index
// takes a batch key by key; a is applied first). Readers never lock, so this
// needs the overlay.
TEST(CommitPipelineTest, ReadersSeeABatchAllOrNothing) {
  ScratchDir dir;
  StoreOptions o = SmallOptions();
  o.segment_bytes = 4 << 20;
  auto s = OpenOrDie(dir.path(), o);
  auto num = [](int i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%09d", i);
    return std::string(buf);
  };
  {
    WriteBatch b;
    b.Put("a", num(0));
    b.Put("b", num(0));
    ASSERT_TRUE(s->Write(b, Durability::kBuffered).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      PinnedValue va, vb, vf;
      while (!stop.load(std::memory_order_relaxed)) {
        ASSERT_TRUE(s->Get("a", &va).ok());
        ASSERT_TRUE(s->Get("b", &vb).ok());
        if (va.value() > vb.value()) torn.fetch_add(1, std::memory_order_relaxed);
        // A deleted key reads as missing, never as the tombstone's empty value.
        Status st = s->Get("f3", &vf);
        ASSERT_TRUE(st.IsNotFound() || vf.value().size() == 9) << st.ToString();
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  constexpr int kBatches = 20000;
  for (int i = 1; i <= kBatches; ++i) {
    WriteBatch b;
    b.Put("a", num(i));
    // Filler between a and b widens the window in which a is new and b old.
    // Odd batches put the filler, even ones delete it (tombstones in the overlay).
    for (int f = 0; f < 8; ++f) {
      if (i % 2 == 1) {
        b.Put("f" + std::to_string(f), num(i));
      } else {
        b.Delete("f" + std::to_string(f));
      }
    }
    b.Put("b", num(i));
    ASSERT_TRUE(s->Write(b, Durability::kBuffered).ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  std::printf("%llu read pairs\n", static_cast<unsigned long long>(reads.load()));
  EXPECT_EQ(torn.load(), 0u) << "a reader saw a newer a with an older b";
  EXPECT_EQ(GetOr(*s, "a"), num(kBatches));
  EXPECT_EQ(GetOr(*s, "b"), num(kBatches));
}

// A failed fdatasync (injected through a FaultEnv: no device here fails one
// on demand) fails the durable write and Sync() waiting for it and every
// later write; what was appended stays readable; the store reopens.
TEST(CommitPipelineTest, FailedFdatasyncFailsEveryLaterWrite) {
  ScratchDir dir;
  {
    testing::FaultEnv env;
    StoreOptions o = SmallOptions();
    o.env = &env;
    auto s = OpenOrDie(dir.path(), o);
    ASSERT_TRUE(s->Put("a", "1", Durability::kDurable).ok());
    ASSERT_TRUE(s->Put("b", "2").ok());
    env.FailSyncs(EIO);
    Status st = s->Put("c", "3", Durability::kDurable);
    env.FailSyncs(0);
    EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
    EXPECT_FALSE(s->Put("d", "4").ok());
    EXPECT_FALSE(s->Sync().ok());
    WriteBatch empty;
    EXPECT_FALSE(s->Write(empty, Durability::kDurable).ok());
    EXPECT_EQ(GetOr(*s, "a"), "1");
    EXPECT_EQ(GetOr(*s, "b"), "2");
    EXPECT_EQ(GetOr(*s, "c"), "3");  // logged and visible; durability unknown
    EXPECT_EQ(GetOr(*s, "d"), "<missing>");
    EXPECT_FALSE(s->Close().ok());
  }
  auto s = OpenOrDie(dir.path(), SmallOptions());
  EXPECT_EQ(GetOr(*s, "a"), "1");
  ASSERT_TRUE(s->Put("e", "5", Durability::kDurable).ok());
}

}  // namespace
}  // namespace alexfs
