// The offline tools on stores holding files in blocks, written by a real
// mount: `alexfs check` finds blocks of no file and `--repair` deletes them;
// dump and load carry the block layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
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

TEST(BlocksTools, VersionOneStoreReadsAndALargeFileMovesToBlocksOnWrite) {
  MountedStore mount;
  const std::string big = Pattern(200 * 1024, 9);
  fs::Attr attr;
  attr.mode = S_IFREG | 0644;
  attr.uid = ::getuid();
  attr.gid = ::getgid();
  attr.mtime_ns = attr.ctime_ns = attr.atime_ns = 1;
  {  // records as a store written before blocks existed holds them
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(mount.data_dir(), StoreOptions(), &store).ok());
    for (auto [key, bytes] : {std::pair<std::string, std::string>{"old", big}, {"small", "hi"}}) {
      std::string v1 = fs::EncodeObject(attr, bytes);
      v1[0] = 1;  // format version 1
      ASSERT_TRUE(store->Put(key, v1).ok());
    }
    ASSERT_TRUE(store->Close().ok());
  }
  ASSERT_TRUE(mount.Mount()) << mount.last_output();
  EXPECT_TRUE(GetFile(mount.Path("old")) == big);
  EXPECT_EQ(GetFile(mount.Path("small")), "hi");
  int fd = ::open(mount.Path("old").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "!", 1), 1);
  ::close(fd);
  ASSERT_EQ(mount.Unmount(), 0);
  {  // the written file is in blocks now; the other one is untouched
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(mount.data_dir(), StoreOptions(), &store).ok());
    PinnedValue value;
    ASSERT_TRUE(store->Get("old", &value).ok());
    auto decoded = fs::DecodeValue(value.value());
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->in_blocks);
    EXPECT_EQ(decoded->size, big.size() + 1);
    EXPECT_TRUE(store->Contains(fs::BlockKey(decoded->file_id, 3)));
    ASSERT_TRUE(store->Get("small", &value).ok());
    EXPECT_EQ(static_cast<uint8_t>(value.value()[0]), 1);
    value.Reset();
    ASSERT_TRUE(store->Close().ok());
  }
  ASSERT_TRUE(mount.Remount()) << mount.last_output();
  EXPECT_TRUE(GetFile(mount.Path("old")) == big + "!");
}

}  // namespace
}  // namespace alexfs::testing
