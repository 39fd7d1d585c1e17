// `alexfs check` finds blocks of no file, and `--repair` deletes them, on a
// store written by a real mount.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/store.h"
#include "fs/value_format.h"
#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

TEST(CheckOrphanBlocks, FindsAndRepairsBlocksOfNoFile) {
  MountedStore mount;
  ASSERT_TRUE(mount.Mount()) << mount.last_output();
  const std::string data = Pattern(300 * 1024, 4);  // five blocks
  ASSERT_TRUE(PutFile(mount.Path("big"), data, true));
  ASSERT_EQ(mount.Unmount(), 0);
  const std::string dir = mount.data_dir();

  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", dir}, &out), 0) << out;
  EXPECT_NE(out.find("1 files in blocks, 5 blocks, 0 orphaned"), std::string::npos) << out;

  {  // a block of a file id no record names, as a lost delete would leave
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(dir, StoreOptions(), &store).ok());
    ASSERT_TRUE(store->Put(fs::BlockKey(999999, 3), "stray").ok());
    ASSERT_TRUE(store->Close().ok());
  }
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", dir}, &out), 1) << out;
  EXPECT_NE(out.find("6 blocks, 1 orphaned (5 bytes)"), std::string::npos) << out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", "--repair", dir}, &out), 0) << out;
  EXPECT_NE(out.find("1 orphaned (5 bytes), deleted"), std::string::npos) << out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", dir}, &out), 0) << out;
  EXPECT_NE(out.find("5 blocks, 0 orphaned"), std::string::npos) << out;

  ASSERT_TRUE(mount.Remount()) << mount.last_output();
  EXPECT_TRUE(GetFile(mount.Path("big")) == data);
}

}  // namespace
}  // namespace alexfs::testing
