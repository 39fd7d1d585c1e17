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
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    mnt_ = dir_.Sub("mnt");
    std::filesystem::create_directory(mnt_);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=2m") != 0) {
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

}  // namespace
}  // namespace alexfs
