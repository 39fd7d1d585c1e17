// A full disk: writes fail with kNoSpace, nothing acknowledged is lost, and the
// store works again once space returns. Runs on a 2 MiB tmpfs mounted in a
// scratch directory (needs root; skipped otherwise).
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/engine/engine_test_util.h"

namespace alexfs {
namespace {

using testing::GetOr;

class NoSpaceTest : public ::testing::Test {
 protected:
  // The tmpfs's size option.
  virtual const char* Size() const { return "size=2m"; }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    mnt_ = dir_.Sub("mnt");
    std::filesystem::create_directory(mnt_);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, Size()) != 0) {
      GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  testing::ScratchDir dir_;
  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(NoSpaceTest, FullDiskFailsLosesNothingAndRecovers) {
  StoreOptions o;
  o.segment_bytes = 128 << 10;
  o.compaction_garbage_ratio = 0;
  const std::string path = mnt_ + "/store";
  const std::string filler = mnt_ + "/filler";
  {
    std::ofstream f(filler);
    f << std::string(1200 << 10, 'f');
  }
  std::map<std::string, std::string> acked;
  auto s = testing::OpenOrDie(path, o);
  Status last;
  int i = 0;
  for (; i < 10000; ++i) {
    std::string k = "key" + std::to_string(i);
    std::string v(3000, static_cast<char>('a' + i % 26));
    last = s->Put(k, v, i % 3 == 0 ? Durability::kDurable : Durability::kBuffered);
    if (!last.ok()) break;
    acked[k] = v;
  }
  ASSERT_TRUE(last.IsNoSpace()) << last.ToString();
  EXPECT_EQ(last.errno_value(), ENOSPC);
  EXPECT_GT(acked.size(), 10u);
  // Still full: fails again, cleanly; reads go on.
  EXPECT_TRUE(s->Put("another", std::string(3000, 'x')).IsNoSpace());
  EXPECT_TRUE(s->Sync().ok());
  for (const auto& [k, v] : acked) ASSERT_EQ(GetOr(*s, k), v);
  EXPECT_GE(s->GetStats().write_errors, 2u);

  // Space returns.
  std::filesystem::remove(filler);
  for (int j = 0; j < 100; ++j) {
    std::string k = "after" + std::to_string(j);
    ASSERT_TRUE(s->Put(k, std::string(3000, 'z'), Durability::kDurable).ok()) << j;
    acked[k] = std::string(3000, 'z');
  }
  ASSERT_TRUE(s->Close().ok());
  s.reset();
  s = testing::OpenOrDie(path, o);
  EXPECT_EQ(testing::Dump(*s), acked);
}

TEST_F(NoSpaceTest, ValueLargerThanFreeSpaceFails) {
  StoreOptions o;
  o.segment_bytes = 64 << 10;
  o.compaction_garbage_ratio = 0;
  auto s = testing::OpenOrDie(mnt_ + "/store", o);
  ASSERT_TRUE(s->Put("small", "1", Durability::kDurable).ok());
  Status st = s->Put("huge", std::string(4 << 20, 'h'), Durability::kDurable);
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  EXPECT_EQ(GetOr(*s, "huge"), "<missing>");
  ASSERT_TRUE(s->Put("fits", std::string(100 << 10, 'f'), Durability::kDurable).ok());
  s.reset();
  s = testing::OpenOrDie(mnt_ + "/store", o);
  EXPECT_EQ(GetOr(*s, "small"), "1");
  EXPECT_EQ(GetOr(*s, "fits"), std::string(100 << 10, 'f'));
}

// A store closed on a full disk opens on it: its newest segment, which Open
// preallocates to a whole segment again, stays at its data when that fails,
// every record reads back, and writes fail cleanly until space returns.
TEST_F(NoSpaceTest, AStoreOnAFullDiskOpens) {
  StoreOptions o;
  o.segment_bytes = 256 << 10;
  o.compaction_garbage_ratio = 0;
  const std::string path = mnt_ + "/store";
  std::map<std::string, std::string> acked;
  {
    auto s = testing::OpenOrDie(path, o);
    for (int i = 0; i < 10000; ++i) {
      std::string k = "key" + std::to_string(i);
      std::string v(3000, static_cast<char>('a' + i % 26));
      if (!s->Put(k, v).ok()) break;
      acked[k] = v;
    }
    ASSERT_GT(acked.size(), 10u);
    ASSERT_TRUE(s->Close().ok());
  }
  // Take what space is left, up to the last page.
  const std::string filler = mnt_ + "/filler";
  {
    std::ofstream f(filler);
    for (int i = 0; i < 4096 && f; ++i) f << std::string(1024, 'f');
  }
  std::unique_ptr<Store> s;
  Status st = Store::Open(path, o, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(testing::Dump(*s), acked);
  EXPECT_TRUE(s->Put("more", std::string(64 << 10, 'm')).IsNoSpace());
  std::filesystem::remove(filler);
  ASSERT_TRUE(s->Put("more", std::string(64 << 10, 'm'), Durability::kDurable).ok());
  acked["more"] = std::string(64 << 10, 'm');
  ASSERT_TRUE(s->Close().ok());
  s.reset();
  s = testing::OpenOrDie(path, o);
  EXPECT_EQ(testing::Dump(*s), acked);
}

// A 16 MiB filesystem with the default options: segments shrink to fit
// (1 MiB), a reserve of two stays free, and on the full disk deletes and
// compaction still run, after which writes succeed again.
class SmallDiskTest : public NoSpaceTest {
 protected:
  const char* Size() const override { return "size=16m"; }
};

TEST_F(SmallDiskTest, ReserveLetsDeletesAndCompactionRunOnAFullDisk) {
  StoreOptions o;
  o.compaction_garbage_ratio = 0;  // compaction only when the test asks
  const std::string path = mnt_ + "/store";
  std::map<std::string, std::string> acked;
  auto s = testing::OpenOrDie(path, o);
  EXPECT_EQ(s->GetStats().segment_bytes, uint64_t{1} << 20);
  EXPECT_EQ(s->GetStats().reserve_bytes, uint64_t{2} << 20);
  Status last;
  for (int i = 0; i < 10000; ++i) {
    std::string k = "key" + std::to_string(i);
    std::string v(10000, static_cast<char>('a' + i % 26));
    last = s->Put(k, v);
    if (!last.ok()) break;
    acked[k] = v;
  }
  ASSERT_TRUE(last.IsNoSpace()) << last.ToString();
  EXPECT_GT(acked.size(), 1000u);
  EXPECT_LT(s->WritableBytes(), 20000u);  // less than the next put needs
  // The reserve is there: a batch that may use it goes through...
  WriteBatch deletes;
  deletes.UseReserve();
  int n = 0;
  for (auto it = acked.begin(); it != acked.end(); ++n) {
    if (n % 4 == 0) {
      ++it;
      continue;
    }
    deletes.Delete(it->first);
    it = acked.erase(it);
  }
  ASSERT_TRUE(s->Write(deletes, Durability::kDurable).ok());
  // ... and so does compaction, in rounds as the space allows.
  Status c = s->Compact();
  ASSERT_TRUE(c.ok()) << c.ToString();
  EXPECT_GT(s->WritableBytes(), uint64_t{4} << 20);
  // Writes work again, without a reopen.
  for (int j = 0; j < 300; ++j) {
    std::string k = "after" + std::to_string(j);
    std::string v(10000, 'z');
    Status w = s->Put(k, v);
    ASSERT_TRUE(w.ok()) << j << ": " << w.ToString();
    acked[k] = v;
  }
  ASSERT_TRUE(s->Close().ok());
  s.reset();
  s = testing::OpenOrDie(path, o);
  EXPECT_EQ(testing::Dump(*s), acked);
}

}  // namespace
}  // namespace alexfs
