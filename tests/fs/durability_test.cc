// What survives unmount, a killed daemon, and a second daemon on the same store.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using DurabilityTest = MountTest;

TEST_F(DurabilityTest, EveryByteAndModeSurvivesUnmountAndRemount) {
  ASSERT_EQ(::mkdir(Path("dir").c_str(), 0710), 0);
  ASSERT_EQ(::mkdir(Path("dir/empty").c_str(), 0700), 0);
  ASSERT_TRUE(PutFile(Path("dir/text"), "text\n"));
  ASSERT_TRUE(PutFile(Path("dir/binary"), Pattern(300000, 3)));
  ASSERT_EQ(::chmod(Path("dir/binary").c_str(), 04711), 0);
  ASSERT_EQ(::chown(Path("dir/text").c_str(), 1001, 1002), 0);
  ASSERT_EQ(::symlink("text", Path("dir/link").c_str()), 0);
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  timespec times[2] = {{.tv_sec = 111, .tv_nsec = 1}, {.tv_sec = 222, .tv_nsec = 2}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Path("dir/text").c_str(), times, 0), 0);
  // Left open and unsynced at unmount: the clean stop commits it.
  int fd = ::open(Path("dir/open").c_str(), O_WRONLY | O_CREAT, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "unsynced", 8), 8);
  ::close(fd);
  struct stat before_text = StatOf(Path("dir/text"));

  ASSERT_EQ(store_->Unmount(), 0) << store_->last_output();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();

  EXPECT_EQ(StatOf(Path("dir")).st_mode & 07777, 0710u);
  EXPECT_EQ(StatOf(Path("dir")).st_nlink, 3u);
  EXPECT_TRUE(S_ISDIR(StatOf(Path("dir/empty")).st_mode));
  EXPECT_EQ(StatOf(Path("dir/empty")).st_mode & 07777, 0700u);
  EXPECT_EQ(GetFile(Path("dir/text")), "text\n");
  EXPECT_TRUE(GetFile(Path("dir/binary")) == Pattern(300000, 3));
  EXPECT_EQ(StatOf(Path("dir/binary")).st_mode & 07777, 04711u);
  struct stat text = StatOf(Path("dir/text"));
  EXPECT_EQ(text.st_uid, 1001u);
  EXPECT_EQ(text.st_gid, 1002u);
  EXPECT_EQ(text.st_mtim.tv_sec, 222);
  EXPECT_EQ(text.st_mtim.tv_nsec, 2);
  EXPECT_EQ(text.st_atim.tv_sec, 111);
  EXPECT_EQ(text.st_ctim.tv_sec, before_text.st_ctim.tv_sec);
  char buf[16] = {};
  ASSERT_EQ(::readlink(Path("dir/link").c_str(), buf, sizeof buf), 4);
  EXPECT_STREQ(buf, "text");
  EXPECT_TRUE(S_ISFIFO(StatOf(Path("fifo")).st_mode));
  EXPECT_EQ(GetFile(Path("dir/open")), "unsynced");
  EXPECT_EQ(StatOf(Path("dir/open")).st_mode & 07777, 0640u);
}

TEST_F(DurabilityTest, FsyncedFilesSurviveAKilledDaemon) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(PutFile(Path("synced" + std::to_string(i)), Pattern(5000 + i, i), /*sync=*/true));
  }
  // Written, fsynced, then written more without a sync or close: the synced
  // part must survive, whatever happens to the rest.
  int fd = ::open(Path("partial").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "durable", 7), 7);
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::write(fd, " and more", 9), 9);
  store_->Kill();
  ::close(fd);  // ENOTCONN; the daemon is gone
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(GetFile(Path("synced" + std::to_string(i))) == Pattern(5000 + i, i)) << i;
  }
  std::string partial = GetFile(Path("partial"));
  EXPECT_TRUE(partial == "durable" || partial == "durable and more") << partial;
}

// The store's segment files truncated under the live daemon: reads fail with
// EIO (the SIGBUS of the mapping caught, engine/mapped_read.h), the daemon
// lives on and logs the error. So does a listing of the directory.
TEST_F(DurabilityTest, ReadsFromATruncatedSegmentFailWithEIOAndTheDaemonLives) {
  ASSERT_TRUE(PutFile(Path("small"), Pattern(300, 1), /*sync=*/true));
  ASSERT_TRUE(PutFile(Path("big"), Pattern(200000, 2), /*sync=*/true));
  // A new daemon: no page of these files is in the kernel's cache.
  ASSERT_EQ(store_->Unmount(), 0);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  for (const auto& e : std::filesystem::directory_iterator(store_->data_dir())) {
    if (e.path().extension() == ".log") std::filesystem::resize_file(e.path(), 0);
  }
  for (const char* name : {"small", "big"}) {
    errno = 0;
    int fd = ::open(Path(name).c_str(), O_RDONLY);
    int err = errno;
    if (fd >= 0) {
      char buf[4096];
      EXPECT_LT(::read(fd, buf, sizeof buf), 0) << name;
      err = errno;
      ::close(fd);
    }
    EXPECT_EQ(err, EIO) << name << ": " << std::strerror(err);
  }
  // A listing reads the names from the log too: EIO, not a dead daemon.
  // (opendir itself may fail: the directory's own record is in the log.)
  errno = 0;
  if (DIR* d = ::opendir(store_->mountpoint().c_str())) {
    while (::readdir(d) != nullptr) {
    }
    const int listing_errno = errno;
    ::closedir(d);
    errno = listing_errno;
  }
  EXPECT_EQ(errno, EIO) << std::strerror(errno);
  int status = 0;
  EXPECT_EQ(::waitpid(store_->pid(), &status, WNOHANG), 0)
      << "the daemon died: " << (WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
  EXPECT_TRUE(IsMounted(store_->mountpoint()));
}

TEST_F(DurabilityTest, ClosedFilesSurviveAKilledDaemonAfterTheCommitInterval) {
  // close() does not reach the daemon (no_open, the default); the commit
  // interval (1 s) commits a small closed file at its next tick, buffered: a
  // crash of the daemon, not of the machine, then loses nothing closed.
  // mkdir is committed at once. (-o commit_on_close: see open_path_test.cc.)
  ASSERT_TRUE(PutFile(Path("closed"), "closed before the crash"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  store_->Kill();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("closed")), "closed before the crash");
  EXPECT_TRUE(S_ISDIR(StatOf(Path("d")).st_mode));
}

TEST_F(DurabilityTest, WriteTempThenRenameIsAtomicWithoutFsync) {
  // Each round replaces "config" by writing a temp file and renaming it over
  // the target, never syncing; the daemon is then killed at once.
  const std::string old_content = Pattern(20000, 1);
  ASSERT_TRUE(PutFile(Path("config"), old_content, /*sync=*/true));
  const std::string new_content = Pattern(30000, 2);
  int fd = ::open(Path("config.tmp").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, new_content.data(), new_content.size()),
            static_cast<ssize_t>(new_content.size()));
  // Renamed while still open: the bytes go in the rename's batch.
  ASSERT_EQ(::rename(Path("config.tmp").c_str(), Path("config").c_str()), 0);
  store_->Kill();
  ::close(fd);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  std::string got = GetFile(Path("config"));
  EXPECT_TRUE(got == old_content || got == new_content) << "size " << got.size();
  EXPECT_EQ(got, new_content);  // the rename was acknowledged: buffered in the store
}

TEST_F(DurabilityTest, CommitIntervalCommitsOpenFiles) {
  // A file left open and unsynced is committed by the background interval
  // (default 1 s), so a killed daemon loses at most about that much.
  int fd = ::open(Path("open").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "eventually", 10), 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  store_->Kill();
  ::close(fd);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("open")), "eventually");
}

TEST(Durability, SecondDaemonOnTheSameDataDirFailsNamingThePid) {
  MountedStore first;
  ASSERT_TRUE(first.Mount()) << first.last_output();
  TempDir other;
  std::string mnt = other.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", first.data_dir(), mnt}, &out), 1);
  EXPECT_NE(out.find(std::to_string(first.pid())), std::string::npos) << out;
  EXPECT_FALSE(IsMounted(mnt));
  EXPECT_EQ(first.Unmount(), 0) << first.last_output();
}

TEST(Durability, CommitIntervalOptionIsParsed) {
  MountedStore store({"-o", "commit_interval_ms=50"});
  ASSERT_TRUE(store.Mount()) << store.last_output();
  ASSERT_TRUE(PutFile(store.Path("f"), "x"));
  EXPECT_EQ(store.Unmount(), 0);
  TempDir dir;
  std::string mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", dir.Sub("data"), mnt, "-o",
                        "commit_interval_ms=soon"},
                       &out),
            1);
  EXPECT_NE(out.find("commit_interval_ms"), std::string::npos) << out;
  EXPECT_FALSE(IsMounted(mnt));
}

TEST_F(DurabilityTest, SigtermCommitsAndExitsZero) {
  int fd = ::open(Path("f").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "at stop", 7), 7);
  ::close(fd);
  ASSERT_EQ(::kill(store_->pid(), SIGTERM), 0);
  for (int i = 0; i < 1000 && IsMounted(store_->mountpoint()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(store_->Unmount(), 0) << store_->last_output();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("f")), "at stop");
}

}  // namespace
}  // namespace alexfs::testing
