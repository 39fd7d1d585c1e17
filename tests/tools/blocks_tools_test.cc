// The offline tools on stores holding files in blocks, written by a real
// mount: `alexfs check` finds blocks of no file and `--repair` deletes them;
// dump and load carry the block layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "engine/store.h"
#include "fs/value_format.h"
#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

TEST(BlocksTools, CheckFindsAndRepairsOrphanedBlocks) {
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

TEST(BlocksTools, DumpAndLoadCarryFilesInBlocks) {
  MountedStore mount;
  ASSERT_TRUE(mount.Mount()) << mount.last_output();
  const std::string big = Pattern(200 * 1024 + 7, 8);
  ASSERT_TRUE(PutFile(mount.Path("big"), big, true));
  int fd = ::open(mount.Path("sparse").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "tail", 4, off_t{1} << 33), 4);  // 8 GiB, one block stored
  ::close(fd);
  ASSERT_EQ(::link(mount.Path("big").c_str(), mount.Path("big-link").c_str()), 0);
  ASSERT_EQ(mount.Unmount(), 0);

  TempDir dir;
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "dump", mount.data_dir(), "-o", dir.Sub("dump")}, &out), 0)
      << out;
  MountedStore restored;
  // Load into the new mount's (still empty) data directory, then mount it.
  ASSERT_EQ(RunCommand({AlexfsBinary(), "load", restored.data_dir(), dir.Sub("dump")}, &out), 0)
      << out;
  ASSERT_TRUE(restored.Mount()) << restored.last_output();
  EXPECT_TRUE(GetFile(restored.Path("big")) == big);
  EXPECT_TRUE(GetFile(restored.Path("big-link")) == big);
  EXPECT_EQ(StatOf(restored.Path("big")).st_nlink, 2u);
  EXPECT_EQ(StatOf(restored.Path("sparse")).st_size, (off_t{1} << 33) + 4);
  fd = ::open(restored.Path("sparse").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[4] = {};
  EXPECT_EQ(::pread(fd, buf, 4, off_t{1} << 33), 4);
  EXPECT_EQ(std::string(buf, 4), "tail");
  ::close(fd);
}

}  // namespace
}  // namespace alexfs::testing
