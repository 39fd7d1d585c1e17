// Store behaviour: reads and writes, batches, iteration, reopen, LOCK, and a
// differential run against std::map with reopens.
#include "engine/store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <thread>

#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

using testing::Dump;
using testing::GetOr;
using testing::OpenOrDie;
using testing::ScratchDir;
using testing::SmallOptions;

TEST(StoreTest, PutGetDeleteAndReopen) {
  ScratchDir dir;
  {
    auto s = OpenOrDie(dir.path(), SmallOptions());
    ASSERT_TRUE(s->Put("a", "1").ok());
    ASSERT_TRUE(s->Put("b", "2", Durability::kDurable).ok());
    ASSERT_TRUE(s->Put("a", "3").ok());
    ASSERT_TRUE(s->Delete("b").ok());
    EXPECT_EQ(GetOr(*s, "a"), "3");
    EXPECT_EQ(GetOr(*s, "b"), "<missing>");
    EXPECT_TRUE(s->Contains("a"));
    EXPECT_FALSE(s->Contains("b"));
    ASSERT_TRUE(s->Close().ok());
    EXPECT_FALSE(s->Put("c", "x").ok());
  }
  auto s = OpenOrDie(dir.path(), SmallOptions());
  EXPECT_EQ(GetOr(*s, "a"), "3");
  EXPECT_EQ(GetOr(*s, "b"), "<missing>");
  EXPECT_EQ(s->GetStats().keys, 1u);
}

TEST(StoreTest, EmptyValueAndBinaryKeys) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  std::string k1("\0\xff\x01", 3), k2("\xff", 1);
  ASSERT_TRUE(s->Put(k1, "").ok());
  ASSERT_TRUE(s->Put(k2, std::string(5000, 'v')).ok());
  EXPECT_EQ(GetOr(*s, k1), "");
  EXPECT_EQ(GetOr(*s, k2), std::string(5000, 'v'));
  EXPECT_FALSE(s->Put("", "x").ok());
  EXPECT_FALSE(s->Put(std::string(kMaxKeyBytes + 1, 'k'), "x").ok());
  EXPECT_TRUE(s->Put(std::string(kMaxKeyBytes, 'k'), "x").ok());
}

TEST(StoreTest, PinnedValueSurvivesOverwriteAndCompaction) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  ASSERT_TRUE(s->Put("k", "old").ok());
  PinnedValue v;
  ASSERT_TRUE(s->Get("k", &v).ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(s->Put("k" + std::to_string(i), std::string(100, 'x')).ok());
  ASSERT_TRUE(s->Put("k", "new").ok());
  ASSERT_TRUE(s->Compact().ok());
  EXPECT_EQ(v.value(), "old");
  EXPECT_EQ(GetOr(*s, "k"), "new");
  PinnedValue moved = std::move(v);
  EXPECT_EQ(moved.value(), "old");
  EXPECT_TRUE(v.value().empty());
}

TEST(StoreTest, BatchIsAppliedWholeAndInOrder) {
  ScratchDir dir;
  {
    auto s = OpenOrDie(dir.path(), SmallOptions());
    ASSERT_TRUE(s->Put("old", "x").ok());
    WriteBatch b;
    b.Delete("old");
    b.Put("new", "1");
    b.Put("new", "2");  // later op on the same key wins
    b.Put("other", "3");
    ASSERT_TRUE(s->Write(b, Durability::kDurable).ok());
    EXPECT_EQ(GetOr(*s, "new"), "2");
  }
  auto s = OpenOrDie(dir.path(), SmallOptions());
  EXPECT_EQ(GetOr(*s, "old"), "<missing>");
  EXPECT_EQ(GetOr(*s, "new"), "2");
  EXPECT_EQ(GetOr(*s, "other"), "3");
}

TEST(StoreTest, IteratorSeeksAndWalksInByteOrder) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  std::map<std::string, std::string> model;
  for (int i = 0; i < 3000; ++i) {
    std::string k = "dir/" + std::to_string(i * 7919 % 3001);
    model[k] = std::to_string(i);
    ASSERT_TRUE(s->Put(k, model[k]).ok());
  }
  model["\x80high"] = "h";
  ASSERT_TRUE(s->Put("\x80high", "h").ok());
  EXPECT_EQ(Dump(*s), model);
  auto it = s->NewIterator();
  it->Seek("dir/15");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), model.lower_bound("dir/15")->first);
  it->Seek("dir/99999");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "\x80high");
  it->Next();
  EXPECT_FALSE(it->Valid());
  it->Seek("\xff");
  EXPECT_FALSE(it->Valid());
}

TEST(StoreTest, LargeValueGetsItsOwnSegment) {
  ScratchDir dir;
  StoreOptions o = SmallOptions();
  std::string big(1 << 20, 'B');  // 16x the segment size
  big[12345] = 'c';
  {
    auto s = OpenOrDie(dir.path(), o);
    ASSERT_TRUE(s->Put("small", "1").ok());
    ASSERT_TRUE(s->Put("big", big, Durability::kDurable).ok());
    ASSERT_TRUE(s->Put("after", "2").ok());
    EXPECT_EQ(GetOr(*s, "big"), big);
  }
  auto s = OpenOrDie(dir.path(), o);
  EXPECT_EQ(GetOr(*s, "big"), big);
  EXPECT_EQ(GetOr(*s, "after"), "2");
}

TEST(StoreTest, SecondOpenFailsNamingThePid) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  if (child == 0) {
    std::unique_ptr<Store> other;
    Status st = Store::Open(dir.path(), SmallOptions(), &other);
    std::string msg = std::to_string(static_cast<int>(st.code())) + " " + st.message();
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(got.substr(0, got.find(' ')), std::to_string(static_cast<int>(Status::Code::kBusy)));
  EXPECT_NE(got.find("pid " + std::to_string(::getpid())), std::string::npos) << got;
  // Same process, second open: busy as well.
  std::unique_ptr<Store> again;
  EXPECT_TRUE(Store::Open(dir.path(), SmallOptions(), &again).IsBusy());
}

TEST(StoreTest, DifferentialAgainstMapWithReopens) {
  ScratchDir dir;
  StoreOptions o = SmallOptions();
  std::mt19937_64 rng(42);
  std::map<std::string, std::string> model;
  auto s = OpenOrDie(dir.path(), o);
  for (int step = 0; step < 30; ++step) {
    for (int i = 0; i < 400; ++i) {
      std::string key = "k" + std::to_string(rng() % 600);
      int op = static_cast<int>(rng() % 10);
      if (op < 6) {
        std::string v(rng() % 300, static_cast<char>('a' + rng() % 26));
        ASSERT_TRUE(s->Put(key, v).ok());
        model[key] = v;
      } else if (op < 8) {
        ASSERT_TRUE(s->Delete(key).ok());
        model.erase(key);
      } else {
        WriteBatch b;
        for (int j = 0; j < 4; ++j) {
          std::string k2 = "k" + std::to_string(rng() % 600);
          if (rng() % 3 == 0) {
            b.Delete(k2);
            model.erase(k2);
          } else {
            std::string v = std::to_string(rng());
            b.Put(k2, v);
            model[k2] = v;
          }
        }
        ASSERT_TRUE(s->Write(b, Durability::kBuffered).ok());
      }
    }
    if (step % 7 == 3) {
      ASSERT_TRUE(s->Compact().ok());
    }
    if (step % 3 == 2) {
      s.reset();
      s = OpenOrDie(dir.path(), o);
    }
    ASSERT_EQ(Dump(*s), model) << "step " << step;
    for (int i = 0; i < 50; ++i) {
      std::string key = "k" + std::to_string(rng() % 600);
      auto it = model.find(key);
      ASSERT_EQ(GetOr(*s, key), it == model.end() ? "<missing>" : it->second);
    }
  }
  StoreStats st = s->GetStats();
  EXPECT_EQ(st.keys, model.size());
}

TEST(StoreTest, ConcurrentWritersAreGroupCommitted) {
  ScratchDir dir;
  auto s = OpenOrDie(dir.path(), SmallOptions());
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(s->Put("t" + std::to_string(t) + "/" + std::to_string(i), "v",
                           Durability::kDurable)
                        .ok());
      }
    });
  }
  for (auto& t : ts) t.join();
  StoreStats st = s->GetStats();
  EXPECT_EQ(st.keys, 1600u);
  EXPECT_LE(st.syncs, st.batches);
  s.reset();
  s = OpenOrDie(dir.path(), SmallOptions());
  EXPECT_EQ(s->GetStats().keys, 1600u);
}

}  // namespace
}  // namespace alexfs
