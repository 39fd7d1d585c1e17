// rename(2) and renameat2(2) through a real mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using RenameTest = MountTest;

int Rename2(const std::string& from, const std::string& to, unsigned flags) {
  return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}

TEST_F(RenameTest, FileMovesAndReplacesAnExistingFile) {
  ASSERT_TRUE(PutFile(Path("a"), "AAA"));
  ASSERT_TRUE(PutFile(Path("b"), "BBBBB"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path("a").c_str(), Path("d/a2").c_str()), 0);
  EXPECT_EQ(ErrnoOf(::access(Path("a").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(GetFile(Path("d/a2")), "AAA");
  ASSERT_EQ(::rename(Path("d/a2").c_str(), Path("b").c_str()), 0);
  EXPECT_EQ(GetFile(Path("b")), "AAA");
  EXPECT_EQ(StatOf(Path("b")).st_size, 3);
  EXPECT_EQ(ListDir(Path("d")).size(), 0u);
}

TEST_F(RenameTest, WriteTempThenRenameWhileOpen) {
  ASSERT_TRUE(PutFile(Path("config"), "old"));
  int fd = ::open(Path("config.tmp").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "new contents", 12), 12);
  // Renamed before close: the buffer goes with the rename.
  ASSERT_EQ(::rename(Path("config.tmp").c_str(), Path("config").c_str()), 0);
  EXPECT_EQ(GetFile(Path("config")), "new contents");
  ASSERT_EQ(::write(fd, "!", 1), 1);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("config")), "new contents!");
}

TEST_F(RenameTest, DirectoryMovesWithEverythingBelowIt) {
  ASSERT_EQ(::mkdir(Path("src").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("src/sub").c_str(), 0700), 0);
  ASSERT_TRUE(PutFile(Path("src/f"), "f"));
  ASSERT_TRUE(PutFile(Path("src/sub/g"), "g"));
  ino_t sub_ino = StatOf(Path("src/sub")).st_ino;
  ino_t g_ino = StatOf(Path("src/sub/g")).st_ino;
  // An open file below the directory keeps working across the move.
  int fd = ::open(Path("src/sub/g").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::mkdir(Path("other").c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path("src").c_str(), Path("other/dst").c_str()), 0);
  ASSERT_EQ(::pwrite(fd, "G", 1, 0), 1);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("other/dst/f")), "f");
  EXPECT_EQ(GetFile(Path("other/dst/sub/g")), "G");
  EXPECT_EQ(StatOf(Path("other/dst/sub")).st_mode & 07777, 0700u);
  EXPECT_EQ(StatOf(Path("other/dst/sub")).st_ino, sub_ino);
  EXPECT_EQ(StatOf(Path("other/dst/sub/g")).st_ino, g_ino);
  EXPECT_EQ(ErrnoOf(::access(Path("src").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(StatOf(store_->mountpoint()).st_nlink, 3u);  // root: 2 + other
  EXPECT_EQ(StatOf(Path("other")).st_nlink, 3u);
  // Names that sort next to the directory are not taken along.
  ASSERT_EQ(::mkdir(Path("x").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("x.txt"), "neighbour"));
  ASSERT_TRUE(PutFile(Path("x/in"), "in"));
  ASSERT_EQ(::rename(Path("x").c_str(), Path("y").c_str()), 0);
  EXPECT_EQ(GetFile(Path("x.txt")), "neighbour");
  EXPECT_EQ(GetFile(Path("y/in")), "in");
}

TEST_F(RenameTest, ErrnosOfRename) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("d/sub").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("full").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("full/x"), "x"));
  ASSERT_EQ(::mkdir(Path("empty").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("f"), "f"));
  EXPECT_EQ(ErrnoOf(::rename(Path("d").c_str(), Path("d/sub/into").c_str())), EINVAL);
  EXPECT_EQ(ErrnoOf(::rename(Path("d").c_str(), Path("full").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(::rename(Path("d").c_str(), Path("f").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(::rename(Path("f").c_str(), Path("empty").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(::rename(Path("nope").c_str(), Path("x").c_str())), ENOENT);
  // Directory over an empty directory is fine.
  ASSERT_EQ(::rename(Path("d").c_str(), Path("empty").c_str()), 0);
  EXPECT_TRUE(S_ISDIR(StatOf(Path("empty/sub")).st_mode));
  EXPECT_EQ(StatOf(store_->mountpoint()).st_nlink, 4u);  // empty, full + 2
  // Renaming to itself is a no-op.
  EXPECT_EQ(::rename(Path("f").c_str(), Path("f").c_str()), 0);
  EXPECT_EQ(GetFile(Path("f")), "f");
}

// Paths near 4095 bytes are longer than the kernel lets one syscall name from
// the mountpoint, so the test walks down with directory descriptors.
TEST_F(RenameTest, DirectoryRenameKeepsEveryPathBelowWithinThePathLimit) {
  // d/<20 directories of 200 bytes>/<73-byte file>: exactly 4095 bytes.
  int root = ::open(Path("").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  ASSERT_EQ(::mkdirat(root, "d", 0755), 0);
  int dir = ::openat(root, "d", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  size_t path_bytes = 1;
  for (int i = 0; i < 20; ++i) {
    std::string name(200, static_cast<char>('a' + i));
    ASSERT_EQ(::mkdirat(dir, name.c_str(), 0755), 0) << i;
    int below = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(below, 0);
    ::close(dir);
    dir = below;
    path_bytes += 1 + name.size();
  }
  std::string file(4095 - path_bytes - 1, 'f');
  ASSERT_EQ(file.size(), 73u);
  int fd = ::openat(dir, file.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0) << "a 4095-byte path must be allowed";
  ASSERT_EQ(::write(fd, "deep", 4), 4);
  ASSERT_EQ(::close(fd), 0);
  // One byte more anywhere above would make the file's path 4096 bytes.
  EXPECT_EQ(::renameat(root, "d", root, "dd") == 0 ? 0 : errno, ENAMETOOLONG);
  ASSERT_EQ(::mkdirat(root, "e", 0755), 0);
  EXPECT_EQ(::renameat(root, "d", root, "e/d") == 0 ? 0 : errno, ENAMETOOLONG);
  // The same length is fine, and the file is still there.
  EXPECT_EQ(::renameat(root, "d", root, "x"), 0) << std::strerror(errno);
  char buf[8] = {0};
  fd = ::openat(dir, file.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::read(fd, buf, sizeof buf), 4);
  EXPECT_STREQ(buf, "deep");
  ::close(fd);
  ::close(dir);
  ::close(root);
}

TEST_F(RenameTest, NoReplaceAndExchange) {
  ASSERT_TRUE(PutFile(Path("a"), "A"));
  ASSERT_TRUE(PutFile(Path("b"), "B"));
  EXPECT_EQ(ErrnoOf(Rename2(Path("a"), Path("b"), RENAME_NOREPLACE)), EEXIST);
  EXPECT_EQ(GetFile(Path("b")), "B");
  ASSERT_EQ(Rename2(Path("a"), Path("c"), RENAME_NOREPLACE), 0);
  EXPECT_EQ(GetFile(Path("c")), "A");

  ASSERT_EQ(Rename2(Path("b"), Path("c"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(GetFile(Path("b")), "A");
  EXPECT_EQ(GetFile(Path("c")), "B");
  EXPECT_EQ(ErrnoOf(Rename2(Path("b"), Path("nope"), RENAME_EXCHANGE)), ENOENT);

  // Exchange a file and a directory tree.
  ASSERT_EQ(::mkdir(Path("dir").c_str(), 0755), 0);
  ASSERT_TRUE(PutFile(Path("dir/inside"), "I"));
  ino_t dir_ino = StatOf(Path("dir")).st_ino;
  ino_t b_ino = StatOf(Path("b")).st_ino;
  ASSERT_EQ(Rename2(Path("b"), Path("dir"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(GetFile(Path("dir")), "A");
  EXPECT_EQ(GetFile(Path("b/inside")), "I");
  EXPECT_EQ(StatOf(Path("b")).st_ino, dir_ino);
  EXPECT_EQ(StatOf(Path("dir")).st_ino, b_ino);
}

TEST_F(RenameTest, LargeDirectoryRenameIsOneBatch) {
  // 2,000 files of 1 KiB under a tree: the rename rewrites every key at once.
  ASSERT_EQ(::mkdir(Path("big").c_str(), 0755), 0);
  for (int d = 0; d < 10; ++d) {
    std::string dir = "big/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(Path(dir).c_str(), 0755), 0);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(PutFile(Path(dir + "/f" + std::to_string(i)), Pattern(1024, d * 1000 + i)));
    }
  }
  auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(::rename(Path("big").c_str(), Path("moved").c_str()), 0);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
  RecordProperty("rename_2000_files_ms", static_cast<int>(ms));
  std::printf("renaming a directory of 2,010 keys (2 MiB) took %lld ms\n",
              static_cast<long long>(ms));
  EXPECT_EQ(ErrnoOf(::access(Path("big").c_str(), F_OK)), ENOENT);
  for (int d = 0; d < 10; ++d) {
    std::string dir = "moved/d" + std::to_string(d);
    EXPECT_EQ(ListDir(Path(dir)).size(), 200u);
    EXPECT_EQ(GetFile(Path(dir + "/f7")), Pattern(1024, d * 1000 + 7));
  }
}

}  // namespace
}  // namespace alexfs::testing
