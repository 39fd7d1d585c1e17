// The offline tools on stores holding files in blocks, written by a real
// mount: `alexfs check` finds blocks of no file and `--repair` deletes them;
// dump and load carry the block layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
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

// The slices stored under each block of file "big" (block index -> count), and
// whether each block has a base record; and the file's id.
struct StoredLayout {
  uint64_t file_id = 0;
  std::map<uint64_t, int> slices;
  std::map<uint64_t, bool> base;
};
StoredLayout LayoutOf(const std::string& dir, const std::string& name) {
  StoredLayout layout;
  std::unique_ptr<Store> store;
  EXPECT_TRUE(Store::Open(dir, StoreOptions(), &store).ok());
  PinnedValue value;
  EXPECT_TRUE(store->Get(name, &value).ok());
  auto decoded = fs::DecodeValue(value.value());
  EXPECT_TRUE(decoded && decoded->in_blocks);
  if (!decoded) return layout;
  layout.file_id = decoded->file_id;
  value.Reset();
  std::unique_ptr<Iterator> it = store->NewIterator();
  for (it->Seek(fs::BlockKey(layout.file_id, 0));
       it->Valid() && it->key() < fs::BlockRangeEnd(layout.file_id); it->Next()) {
    uint64_t id = 0, index = 0;
    uint32_t seq = 0;
    EXPECT_TRUE(fs::ParseBlockKey(it->key(), &id, &index, &seq));
    if (seq == 0) {
      layout.base[index] = true;
    } else {
      layout.slices[index]++;
    }
  }
  it.reset();
  EXPECT_TRUE(store->Close().ok());
  return layout;
}

void AppendSynced(const std::string& path, int count, std::string* model) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < count; ++i) {
    const std::string line = Pattern(99, static_cast<unsigned>(model->size())) + "\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ASSERT_EQ(::fdatasync(fd), 0);
    *model += line;
  }
  ::close(fd);
}

// A small write to a stored block is logged as a slice, not as the block:
// ten appends + fdatasync leave ten slices under the last block, a 4 KiB
// overwrite one under its block. Past kMaxSlices the commit writes the block
// whole and deletes its slices in the same batch. check counts slices with
// the blocks and finds those of no file.
TEST(BlocksTools, SmallWritesAreLoggedAsSlicesUpToTheLimit) {
  MountedStore mount;
  ASSERT_TRUE(mount.Mount()) << mount.last_output();
  std::string model = Pattern(200 * 1024 + 10, 6);  // blocks 0-3, the last one short
  ASSERT_TRUE(PutFile(mount.Path("big"), model, true));
  AppendSynced(mount.Path("big"), 10, &model);
  const std::string page = Pattern(4096, 9);
  int fd = ::open(mount.Path("big").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, page.data(), page.size(), 70000), 4096);
  ASSERT_EQ(::fdatasync(fd), 0);
  ::close(fd);
  model.replace(70000, 4096, page);
  ASSERT_EQ(mount.Unmount(), 0);
  StoredLayout layout = LayoutOf(mount.data_dir(), "big");
  EXPECT_EQ(layout.slices[3], 10);
  EXPECT_EQ(layout.slices[1], 1);
  EXPECT_EQ(layout.slices.count(0) + layout.slices.count(2), 0u);

  ASSERT_TRUE(mount.Remount()) << mount.last_output();
  EXPECT_TRUE(GetFile(mount.Path("big")) == model);
  // 33 slices would pass kMaxSlices (32): the 23rd append writes block 3
  // whole; seven more follow as slices.
  AppendSynced(mount.Path("big"), 30, &model);
  EXPECT_TRUE(GetFile(mount.Path("big")) == model);
  ASSERT_EQ(mount.Unmount(), 0);
  layout = LayoutOf(mount.data_dir(), "big");
  EXPECT_EQ(layout.slices[3], 7);
  EXPECT_TRUE(layout.base[3]);

  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", mount.data_dir()}, &out), 0) << out;
  EXPECT_NE(out.find("1 files in blocks, 12 blocks, 0 orphaned"), std::string::npos) << out;
  {  // a slice of a file id no record names
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(mount.data_dir(), StoreOptions(), &store).ok());
    ASSERT_TRUE(store->Put(fs::SliceKey(999999, 3, 1), fs::EncodeSlice(0, "stray")).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  ASSERT_EQ(RunCommand({AlexfsBinary(), "check", "--repair", mount.data_dir()}, &out), 0) << out;
  EXPECT_NE(out.find("13 blocks, 1 orphaned (9 bytes), deleted"), std::string::npos) << out;

  ASSERT_TRUE(mount.Remount()) << mount.last_output();
  EXPECT_TRUE(GetFile(mount.Path("big")) == model);
  ASSERT_EQ(::truncate(mount.Path("big").c_str(), 100 * 1024), 0);  // drops block 3 and its slices
  model.resize(100 * 1024);
  EXPECT_TRUE(GetFile(mount.Path("big")) == model);
  ASSERT_EQ(mount.Unmount(), 0);
  layout = LayoutOf(mount.data_dir(), "big");
  EXPECT_EQ(layout.slices.count(3) + layout.base.count(3), 0u);
  EXPECT_EQ(layout.slices[1], 0);  // trimmed: written whole
}

}  // namespace
}  // namespace alexfs::testing
