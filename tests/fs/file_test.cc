// Files through a real mount: open/read/write/stat/truncate/fsync with syscalls.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using FileTest = MountTest;

TEST_F(FileTest, WriteThenReadBack) {
  ASSERT_TRUE(PutFile(Path("a.txt"), "hello, world\n"));
  EXPECT_EQ(GetFile(Path("a.txt")), "hello, world\n");
  struct stat st = StatOf(Path("a.txt"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u & ~static_cast<unsigned>(0));
  EXPECT_EQ(st.st_size, 13);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_blocks, 1);
}

TEST_F(FileTest, ReadsSeeUnclosedWritesAndPartialOverwrites) {
  int fd = ::open(Path("f").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "abcdef", 6, 0), 6);
  ASSERT_EQ(::pwrite(fd, "XY", 2, 2), 2);
  // A hole: bytes 6..9 read as zeros.
  ASSERT_EQ(::pwrite(fd, "Z", 1, 10), 1);
  // Another reader sees the buffer before any close or fsync.
  EXPECT_EQ(GetFile(Path("f")), std::string("abXYef\0\0\0\0Z", 11));
  char buf[4];
  ASSERT_EQ(::pread(fd, buf, 4, 1), 4);
  EXPECT_EQ(std::string(buf, 4), "bXYe");
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 11);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(StatOf(Path("f")).st_size, 11);
}

TEST_F(FileTest, AppendAndTruncate) {
  ASSERT_TRUE(PutFile(Path("log"), "one\n"));
  int fd = ::open(Path("log").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "two\n", 4), 4);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("log")), "one\ntwo\n");

  ASSERT_EQ(::truncate(Path("log").c_str(), 3), 0);
  EXPECT_EQ(GetFile(Path("log")), "one");
  ASSERT_EQ(::truncate(Path("log").c_str(), 6), 0);
  EXPECT_EQ(GetFile(Path("log")), std::string("one\0\0\0", 6));

  // O_TRUNC empties the file.
  fd = ::open(Path("log").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("log")), "");

  // ftruncate on an open file.
  fd = ::open(Path("log").c_str(), O_RDWR);
  ASSERT_EQ(::write(fd, "abcdef", 6), 6);
  ASSERT_EQ(::ftruncate(fd, 2), 0);
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("log")), "ab");
}

TEST_F(FileTest, TruncateOnADirectoryIsEisdir) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(::truncate(Path("d").c_str(), 0)), EISDIR);
  EXPECT_EQ(ErrnoOf(::open(Path("d").c_str(), O_WRONLY) < 0 ? -1 : 0), EISDIR);
}

TEST_F(FileTest, LargeFileIsWrittenAndReadBackExactly) {
  const std::string data = Pattern(64 << 20);
  auto started = std::chrono::steady_clock::now();
  int fd = ::open(Path("big").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    ASSERT_EQ(::write(fd, data.data() + off, 1 << 20), 1 << 20);
  }
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
  auto took = std::chrono::steady_clock::now() - started;
  // Writing must not rewrite the whole value per call (that would be ~64 x 32 MiB).
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_EQ(StatOf(Path("big")).st_size, 64 << 20);
  EXPECT_EQ(StatOf(Path("big")).st_blocks, (64 << 20) / 512);
  EXPECT_TRUE(GetFile(Path("big")) == data);
}

TEST_F(FileTest, TimesFollowPosix) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  struct stat d0 = StatOf(Path("d"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(PutFile(Path("d/f"), "x"));
  struct stat d1 = StatOf(Path("d"));
  EXPECT_GT(d1.st_mtim.tv_sec * 1000000000L + d1.st_mtim.tv_nsec,
            d0.st_mtim.tv_sec * 1000000000L + d0.st_mtim.tv_nsec);
  struct stat f0 = StatOf(Path("d/f"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int fd = ::open(Path("d/f").c_str(), O_WRONLY);
  ASSERT_EQ(::write(fd, "y", 1), 1);
  ASSERT_EQ(::close(fd), 0);
  struct stat f1 = StatOf(Path("d/f"));
  EXPECT_GT(f1.st_mtim.tv_sec * 1000000000L + f1.st_mtim.tv_nsec,
            f0.st_mtim.tv_sec * 1000000000L + f0.st_mtim.tv_nsec);
  // utimens with explicit times, UTIME_OMIT and UTIME_NOW.
  timespec times[2] = {{.tv_sec = 1000, .tv_nsec = 5}, {.tv_sec = 2000, .tv_nsec = 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Path("d/f").c_str(), times, 0), 0);
  struct stat f2 = StatOf(Path("d/f"));
  EXPECT_EQ(f2.st_atim.tv_sec, 1000);
  EXPECT_EQ(f2.st_mtim.tv_sec, 2000);
  EXPECT_EQ(f2.st_mtim.tv_nsec, 7);
  timespec omit_now[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = 0, .tv_nsec = UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Path("d/f").c_str(), omit_now, 0), 0);
  struct stat f3 = StatOf(Path("d/f"));
  EXPECT_EQ(f3.st_atim.tv_sec, 1000);
  EXPECT_GT(f3.st_mtim.tv_sec, 2000);
  // unlink updates the parent's mtime and ctime.
  struct stat d2 = StatOf(Path("d"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(::unlink(Path("d/f").c_str()), 0);
  struct stat d3 = StatOf(Path("d"));
  EXPECT_GT(d3.st_ctim.tv_sec * 1000000000L + d3.st_ctim.tv_nsec,
            d2.st_ctim.tv_sec * 1000000000L + d2.st_ctim.tv_nsec);
}

TEST_F(FileTest, ChmodAndChownIncludingSpecialBits) {
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  ASSERT_EQ(::chmod(Path("f").c_str(), 04755), 0);
  EXPECT_EQ(StatOf(Path("f")).st_mode & 07777, 04755u);
  ASSERT_EQ(::chmod(Path("f").c_str(), 02711), 0);
  EXPECT_EQ(StatOf(Path("f")).st_mode & 07777, 02711u);
  // chown of an executable clears set-user-ID and set-group-ID.
  ASSERT_EQ(::chmod(Path("f").c_str(), 06755), 0);
  ASSERT_EQ(::chown(Path("f").c_str(), 12345, 54321), 0);
  struct stat st = StatOf(Path("f"));
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 54321u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  // Sticky bit on a directory.
  ASSERT_EQ(::mkdir(Path("tmp").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(Path("tmp").c_str(), 01777), 0);
  EXPECT_EQ(StatOf(Path("tmp")).st_mode & 07777, 01777u);
}

TEST_F(FileTest, FsyncAndFdatasyncSucceed) {
  int fd = ::open(Path("f").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  EXPECT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::write(fd, "def", 3), 3);
  EXPECT_EQ(::fdatasync(fd), 0);
  EXPECT_EQ(::fsync(fd), 0);  // nothing dirty: still a real sync
  ASSERT_EQ(::close(fd), 0);
  int dir = ::open(store_->mountpoint().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(::fsync(dir), 0);
  ::close(dir);
  EXPECT_EQ(GetFile(Path("f")), "abcdef");
}

TEST_F(FileTest, UnlinkedOpenFileStaysReadableAndWritable) {
  ASSERT_TRUE(PutFile(Path("f"), "keep me"));
  int fd = ::open(Path("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(Path("f").c_str()), 0);
  EXPECT_EQ(ErrnoOf(::access(Path("f").c_str(), F_OK)), ENOENT);
  char buf[16] = {};
  ASSERT_EQ(::pread(fd, buf, sizeof buf, 0), 7);
  EXPECT_STREQ(buf, "keep me");
  ASSERT_EQ(::pwrite(fd, "K", 1, 0), 1);
  ASSERT_EQ(::pread(fd, buf, sizeof buf, 0), 7);
  EXPECT_EQ(std::string(buf, 7), "Keep me");
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  ASSERT_EQ(::close(fd), 0);
  // A new file of that name is a different file.
  ASSERT_TRUE(PutFile(Path("f"), "new"));
  EXPECT_EQ(GetFile(Path("f")), "new");
}

TEST_F(FileTest, InodeNumbersAreStableWhileMounted) {
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ino_t f = StatOf(Path("f")).st_ino, d = StatOf(Path("d")).st_ino;
  EXPECT_NE(f, d);
  EXPECT_EQ(StatOf(Path("f")).st_ino, f);
  EXPECT_EQ(StatOf(store_->mountpoint()).st_ino, 1u);
  ASSERT_EQ(::rename(Path("f").c_str(), Path("d/g").c_str()), 0);
  EXPECT_EQ(StatOf(Path("d/g")).st_ino, f);
}

TEST_F(FileTest, StatfsAndPathconfReportTheLimits) {
  struct statvfs sv;
  ASSERT_EQ(::statvfs(store_->mountpoint().c_str(), &sv), 0);
  EXPECT_EQ(sv.f_namemax, 255u);
  EXPECT_EQ(sv.f_bsize, 64u << 10);  // the preferred I/O size: one data block
  EXPECT_GT(sv.f_frsize, 0u);
  EXPECT_EQ(::pathconf(store_->mountpoint().c_str(), _PC_NAME_MAX), 255);
  ASSERT_TRUE(PutFile(Path("f"), "x"));
  EXPECT_EQ(::pathconf(Path("f").c_str(), _PC_NAME_MAX), 255);
  EXPECT_EQ(StatOf(Path("f")).st_blksize, 64 << 10);
  // The limit is the one enforced: 255 bytes work, 256 do not.
  EXPECT_TRUE(PutFile(Path(std::string(255, 'n')), "x"));
  int fd = ::open(Path(std::string(256, 'n')).c_str(), O_WRONLY | O_CREAT, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

TEST_F(FileTest, ConcurrentWritersOfDifferentFiles) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        std::string name = Path("t" + std::to_string(t) + "_" + std::to_string(i));
        EXPECT_TRUE(PutFile(name, Pattern(1000 + i, t * 100 + i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(GetFile(Path("t" + std::to_string(t) + "_" + std::to_string(i))),
                Pattern(1000 + i, t * 100 + i));
    }
  }
}

}  // namespace
}  // namespace alexfs::testing
