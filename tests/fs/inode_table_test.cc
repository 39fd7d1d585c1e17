// InodeTable without a mount: lookup counts, re-keying (one inode, a prefix),
// orphans, the dirty set, references that outlive the table's; and InodeMutex.
#include "fs/inode_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/value_format.h"

namespace alexfs::fs {
namespace {

TEST(InodeTable, LookupsCountAndForgetRemoves) {
  InodeTable t(7);
  EXPECT_EQ(t.size(), 1u);  // the root
  ASSERT_TRUE(t.Get(FUSE_ROOT_ID));
  EXPECT_EQ(t.KeyOf(*t.Get(FUSE_ROOT_ID)), RootKey());
  auto a = t.LookupOrInsert("a", false);
  auto again = t.LookupOrInsert("a", false);
  EXPECT_EQ(a.get(), again.get());
  EXPECT_NE(a->ino, FUSE_ROOT_ID);
  EXPECT_EQ(t.Find("a").get(), a.get());
  EXPECT_EQ(t.Get(a->ino).get(), a.get());
  EXPECT_EQ(t.size(), 2u);
  const fuse_ino_t ino = a->ino;
  t.Forget(ino, 1);
  EXPECT_TRUE(t.Get(ino));
  t.Forget(ino, 1);
  EXPECT_FALSE(t.Get(ino));
  EXPECT_FALSE(t.Find("a"));
  EXPECT_EQ(t.size(), 1u);
  // A handler's reference outlives the table's; a new lookup gets a new number.
  EXPECT_EQ(t.KeyOf(*a), "a");
  auto b = t.LookupOrInsert("a", false);
  EXPECT_NE(b->ino, ino);
}

TEST(InodeTable, RekeyPrefixMovesExactlyWhatIsBelow) {
  InodeTable t(1);
  std::vector<std::string> below = {"d/", "d/x", "d/e/", "d/e/y", "d/" + std::string(300, 'l')};
  std::vector<std::string> beside = {"d", "d0", "dd/", "c/d/x", "e/"};
  std::vector<fuse_ino_t> inos;
  for (const std::string& k : below) inos.push_back(t.LookupOrInsert(k, k.back() == '/')->ino);
  for (const std::string& k : beside) t.LookupOrInsert(k, k.back() == '/');
  EXPECT_EQ(t.Under("d/").size(), below.size());
  // Into a longer prefix (keys outgrow their inline room) and back.
  EXPECT_EQ(t.RekeyPrefix("d/", "a-much-longer-directory-name/"), below.size());
  for (size_t i = 0; i < below.size(); ++i) {
    std::string moved = "a-much-longer-directory-name/" + below[i].substr(2);
    auto inode = t.Find(moved);
    ASSERT_TRUE(inode) << moved;
    EXPECT_EQ(inode->ino, inos[i]);
    EXPECT_EQ(t.KeyOf(*inode), moved);
    EXPECT_FALSE(t.Find(below[i]));
  }
  for (const std::string& k : beside) EXPECT_TRUE(t.Find(k)) << k;
  EXPECT_EQ(t.Under("d/").size(), 0u);
  EXPECT_EQ(t.RekeyPrefix("a-much-longer-directory-name/", "d/"), below.size());
  for (size_t i = 0; i < below.size(); ++i) EXPECT_EQ(t.Find(below[i])->ino, inos[i]) << below[i];
  EXPECT_EQ(t.RekeyPrefix("nothing/", "here/"), 0u);
}

TEST(InodeTable, RekeyAndOrphan) {
  InodeTable t(1);
  auto f = t.LookupOrInsert("f", false);
  t.Rekey("f", "a-longer-name-than-the-first-one");
  EXPECT_FALSE(t.Find("f"));
  EXPECT_EQ(t.Find("a-longer-name-than-the-first-one").get(), f.get());
  t.Rekey("a-longer-name-than-the-first-one", "g");
  EXPECT_EQ(t.KeyOf(*f), "g");
  t.Rekey("absent", "h");
  EXPECT_FALSE(t.Find("h"));
  // A key taken by another inode (the filesystem orphans a rename's target
  // first) now names the moved one; the other stays reachable by number.
  auto other = t.LookupOrInsert("x", false);
  auto mover = t.LookupOrInsert("y", false);
  t.Rekey("y", "x");
  EXPECT_EQ(t.Find("x").get(), mover.get());
  EXPECT_EQ(t.Get(other->ino).get(), other.get());
  t.Forget(other->ino, 1);
  EXPECT_FALSE(t.Get(other->ino));
  EXPECT_EQ(t.Find("x").get(), mover.get());
  t.Forget(mover->ino, 1);
  // An orphan is reachable by number only, until forgotten.
  t.Orphan("g");
  EXPECT_EQ(t.KeyOf(*f), "");
  EXPECT_FALSE(t.Find("g"));
  EXPECT_EQ(t.Get(f->ino).get(), f.get());
  t.Forget(f->ino, 1);
  EXPECT_FALSE(t.Get(f->ino));
}

TEST(InodeTable, OpenAndDirtyInodesStayAfterForget) {
  InodeTable t(1);
  auto f = t.LookupOrInsert("f", false);
  t.Opened(*f);
  t.SetDirty(*f, true);
  t.Forget(f->ino, 1);
  EXPECT_EQ(t.Released(*f), 0u);
  EXPECT_EQ(t.Find("f").get(), f.get());  // dirty: stays until committed
  ASSERT_EQ(t.Dirty().size(), 1u);
  t.SetDirty(*f, false);
  EXPECT_FALSE(t.Get(f->ino));
  EXPECT_TRUE(t.Dirty().empty());
  // Calls on an inode already gone change nothing.
  t.SetDirty(*f, true);
  EXPECT_TRUE(t.Dirty().empty());
  EXPECT_EQ(t.Released(*f), 0u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeTable, ManyInodesInAndOut) {
  InodeTable t(1);
  std::vector<fuse_ino_t> inos;
  for (int i = 0; i < 100000; ++i) inos.push_back(t.LookupOrInsert("k" + std::to_string(i), false)->ino);
  for (int i = 0; i < 100000; i += 2) t.Forget(inos[i], 1);
  EXPECT_EQ(t.size(), 50001u);
  for (int i = 0; i < 100000; ++i) {
    auto inode = t.Get(inos[i]);
    EXPECT_EQ(static_cast<bool>(inode), i % 2 == 1) << i;
    if (inode) {
      EXPECT_EQ(t.KeyOf(*inode), "k" + std::to_string(i));
    }
  }
  for (int i = 1; i < 100000; i += 2) t.Forget(inos[i], 1);
  EXPECT_EQ(t.size(), 1u);
}

// Lookups, forgets, renames and references crossing threads (for TSan: the
// intrusive counts and the last reference destroying an inode).
TEST(InodeTable, ConcurrentLookupsForgetsAndRenames) {
  InodeTable t(1);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::mutex handoff_mu;
  std::vector<InodeRef> handoff;  // refs made on one thread, dropped on another
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 20000; ++i) {
        const std::string key = "d/" + std::to_string((i * 7 + w) % 64);
        InodeRef inode = t.LookupOrInsert(key, false);
        {
          std::unique_lock<InodeMutex> lock(inode->mutex);
          InodeRef same = t.Get(inode->ino);
          EXPECT_EQ(same.get(), inode.get());
        }
        if (i % 16 == 0) {
          std::lock_guard<std::mutex> l(handoff_mu);
          handoff.push_back(inode);
          if (handoff.size() > 8) handoff.erase(handoff.begin());
        }
        t.Find(key);
        t.Forget(inode->ino, 1);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      t.RekeyPrefix("d/", "e/");
      t.Under("e/");
      t.RekeyPrefix("e/", "d/");
      std::lock_guard<std::mutex> l(handoff_mu);
      handoff.clear();
    }
  });
  for (int w = 0; w < 3; ++w) threads[w].join();
  stop = true;
  threads.back().join();
  handoff.clear();
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeMutex, ExcludesWritersAndSharesReaders) {
  InodeMutex mu;
  int64_t value = 0;  // guarded by mu
  std::atomic<int> readers{0}, max_readers{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::unique_lock<InodeMutex> lock(mu);
        int64_t v = value;
        value = v + 1;
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::shared_lock<InodeMutex> lock(mu);
        int n = ++readers;
        int m = max_readers.load();
        while (n > m && !max_readers.compare_exchange_weak(m, n)) {
        }
        EXPECT_GE(value, 0);
        --readers;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(value, 60000);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();
  mu.unlock_shared();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace alexfs::fs
