#include "engine/epoch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace alexfs {
namespace {

TEST(EpochManagerTest, FreesOnlyAfterOlderGuardsLeave) {
  EpochManager epochs;
  int freed = 0;
  {
    EpochManager::Guard outer = epochs.Enter();
    epochs.Retire([&] { ++freed; });
    epochs.ReclaimNow();
    EXPECT_EQ(freed, 0);
    {
      EpochManager::Guard nested = epochs.Enter();  // reentrant
      EpochManager::Guard moved = std::move(nested);
    }
    epochs.ReclaimNow();
    EXPECT_EQ(freed, 0);
  }
  epochs.ReclaimNow();
  EXPECT_EQ(freed, 1);
}

TEST(EpochManagerTest, GuardEnteredAfterRetireDoesNotBlock) {
  EpochManager epochs;
  int freed = 0;
  epochs.Retire([&] { ++freed; });
  EpochManager::Guard g = epochs.Enter();
  epochs.ReclaimNow();
  EXPECT_EQ(freed, 1);
}

TEST(EpochManagerTest, GuardOnAnotherThreadBlocks) {
  EpochManager epochs;
  std::atomic<int> stage{0};
  std::atomic<int> freed{0};
  std::thread reader([&] {
    EpochManager::Guard g = epochs.Enter();
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  epochs.Retire([&] { freed.fetch_add(1); });
  epochs.ReclaimNow();
  EXPECT_EQ(freed.load(), 0);
  stage.store(2);
  reader.join();
  epochs.ReclaimNow();
  EXPECT_EQ(freed.load(), 1);
}

TEST(EpochManagerTest, DestructorRunsPending) {
  int freed = 0;
  {
    EpochManager epochs;
    EpochManager::Guard g = epochs.Enter();
    epochs.Retire([&] { ++freed; });
    g = EpochManager::Guard();
  }
  EXPECT_EQ(freed, 1);
}

TEST(EpochManagerTest, ManyShortLivedThreadsReuseSlots) {
  EpochManager epochs;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> ts;
    for (int i = 0; i < 30; ++i) {
      ts.emplace_back([&] { EpochManager::Guard g = epochs.Enter(); });
    }
    for (auto& t : ts) t.join();
  }
  int freed = 0;
  epochs.Retire([&] { ++freed; });
  epochs.ReclaimNow();
  EXPECT_EQ(freed, 1);
}

// More threads than own slots (kMaxThreads) inside guards at once: the rest
// share the overflow slot instead of aborting, and nothing retired while any
// of them is inside is freed before they all leave.
TEST(EpochManagerTest, MoreThreadsThanSlotsShareTheOverflowSlot) {
  EpochManager epochs;
  constexpr size_t kThreads = EpochManager::kMaxThreads + 40;
  std::atomic<size_t> inside{0};
  std::atomic<bool> leave{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      EpochManager::Guard g = epochs.Enter();
      inside.fetch_add(1);
      while (!leave.load()) std::this_thread::yield();
    });
  }
  while (inside.load() < kThreads) std::this_thread::yield();
  std::atomic<int> freed{0};
  epochs.Retire([&] { freed.fetch_add(1); });
  epochs.ReclaimNow();
  EXPECT_EQ(freed.load(), 0);
  leave = true;
  for (auto& t : threads) t.join();
  epochs.ReclaimNow();
  EXPECT_EQ(freed.load(), 1);
}

}  // namespace
}  // namespace alexfs
