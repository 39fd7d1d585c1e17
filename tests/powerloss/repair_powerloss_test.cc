// Power loss during `alexfs check --repair` (tools/alexfs/store_check.h): a
// damaged store is repaired over a FaultEnv and the power is cut before each
// step of the repair in turn (every file opened or created, rename, removal,
// directory created or fsynced); the crash image replaces the files. After
// every cut the directory holds either the old store (it refuses to open with
// the same damage, and a repair run afterwards gives the repaired contents)
// or the repaired one (it opens with exactly the repaired contents), never a
// mix. And at every step the store's LOCK is held: an Open fails with kBusy.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/engine/engine_test_util.h"
#include "tests/support/fault_env.h"
#include "tools/alexfs/store_check.h"

namespace alexfs {
namespace {

using testing::Dump;
using testing::FaultEnv;
using testing::ScratchDir;
using tools::StoreCheck;

using State = std::map<std::string, std::string>;
namespace stdfs = std::filesystem;

constexpr uint64_t kSegmentBytes = 16 << 10;

// Forwards to a base Env and calls `step` before each directory-level
// operation and each file opened (the steps of a repair).
class SteppingEnv final : public Env {
 public:
  SteppingEnv(Env* base, std::function<void()> step) : base_(base), step_(std::move(step)) {}
  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override {
    step_();
    return base_->OpenFile(path, mode, out);
  }
  bool IsDirectory(const std::string& path) override { return base_->IsDirectory(path); }
  Status CreateDirs(const std::string& dir) override {
    step_();
    return base_->CreateDirs(dir);
  }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return base_->ListDir(dir, names);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    step_();
    return base_->Rename(from, to);
  }
  Status Remove(const std::string& path) override {
    step_();
    return base_->Remove(path);
  }
  Status SyncDir(const std::string& dir) override {
    step_();
    return base_->SyncDir(dir);
  }
  Status LockFile(const std::string& path, std::unique_ptr<File>* lock) override {
    return base_->LockFile(path, lock);
  }
  bool AllowsMappedWrites() const override { return base_->AllowsMappedWrites(); }

 private:
  Env* const base_;
  const std::function<void()> step_;
};

// A store of several segments with one byte flipped in a sealed one.
void MakeDamagedStore(const std::string& dir) {
  StoreOptions o = testing::SmallOptions();
  o.segment_bytes = kSegmentBytes;
  std::unique_ptr<Store> s = testing::OpenOrDie(dir, o);
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(s->Put("k" + std::to_string(i % 120), "v" + std::to_string(i) + std::string(i % 50, 'x')).ok());
    if (i % 17 == 0) {
      ASSERT_TRUE(s->Delete("k" + std::to_string((i * 7) % 120)).ok());
    }
  }
  ASSERT_TRUE(s->Close().ok());
  const std::string victim = dir + "/000001.log";  // sealed
  ASSERT_TRUE(stdfs::exists(victim));
  std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(3000);
  char c;
  f.get(c);
  f.seekp(3000);
  f.put(static_cast<char>(c ^ 0x10));
}

std::string OpenError(const std::string& dir) {
  std::unique_ptr<Store> s;
  Status st = Store::Open(dir, testing::SmallOptions(), &s);
  return st.ok() ? std::string("opened") : st.ToString();
}

// Repairs `dir` with the POSIX Env and returns the repaired contents.
State RepairAndDump(const std::string& dir) {
  StoreCheck check(Env::Default(), dir, kSegmentBytes);
  EXPECT_TRUE(check.Run(false).ok());
  EXPECT_FALSE(check.damage().empty());
  uint64_t keys = 0;
  std::string aside;
  Status st = check.Repair(&keys, &aside);
  EXPECT_TRUE(st.ok()) << st.ToString();
  check.ReleaseLock();
  std::unique_ptr<Store> s = testing::OpenOrDie(dir, testing::SmallOptions());
  return s ? Dump(*s) : State();
}

void CopyStore(const std::string& from, const std::string& to) {
  stdfs::remove_all(to);
  stdfs::copy(from, to, stdfs::copy_options::recursive);
}

TEST(RepairPowerLossTest, ACutAtEveryStepLeavesTheOldStoreOrTheRepairedOne) {
  ScratchDir scratch;
  const std::string pristine = scratch.Sub("pristine"), dir = scratch.Sub("store");
  ASSERT_NO_FATAL_FAILURE(MakeDamagedStore(pristine));
  const std::string damage = OpenError(pristine);
  ASSERT_NE(damage, "opened");
  CopyStore(pristine, dir);
  const State repaired = RepairAndDump(dir);
  ASSERT_GT(repaired.size(), 50u);

  int old_store = 0, new_store = 0;
  for (int cut_at = 0;; ++cut_at) {
    CopyStore(pristine, dir);
    FaultEnv fault;
    int steps = 0;
    bool busy_everywhere = true;
    SteppingEnv env(&fault, [&] {
      if (steps++ == cut_at) fault.SimulatePowerCut(static_cast<uint64_t>(cut_at));
      std::unique_ptr<Store> other;  // a mount attempt: the LOCK is held
      if (!Store::Open(dir, testing::SmallOptions(), &other).IsBusy()) busy_everywhere = false;
    });
    {
      StoreCheck check(&env, dir, kSegmentBytes);
      ASSERT_TRUE(check.Run(false).ok());
      uint64_t keys = 0;
      std::string aside;
      ASSERT_TRUE(check.Repair(&keys, &aside).ok());
    }
    EXPECT_TRUE(busy_everywhere) << "cut " << cut_at << ": the store opened during the repair";
    if (!fault.power_cut()) break;  // the repair had fewer steps: done
    ASSERT_TRUE(fault.MaterializeCrashImage().ok());
    const std::string after = OpenError(dir);
    if (after == "opened") {
      std::unique_ptr<Store> s = testing::OpenOrDie(dir, testing::SmallOptions());
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(Dump(*s), repaired) << "cut before step " << cut_at << ": a mixed store";
      ++new_store;
    } else {
      EXPECT_EQ(after, damage) << "cut before step " << cut_at << ": neither old nor repaired";
      EXPECT_EQ(RepairAndDump(dir), repaired) << "cut before step " << cut_at;
      ++old_store;
    }
  }
  std::printf("repair cut at %d steps: %d left the old store, %d the repaired one\n",
              old_store + new_store, old_store, new_store);
  EXPECT_GT(old_store, 3);
  EXPECT_GT(new_store, 0);
}

}  // namespace
}  // namespace alexfs
