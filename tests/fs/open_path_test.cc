// The "no_open" path (the default) and `-o commit_on_close`.
//
// By default the daemon answers open and flush with ENOSYS, so the kernel stops
// sending open, flush and release for files (and opendir/releasedir for
// directories) and keeps its page cache across opens: a cached `cat` never
// reaches the daemon. Whether the kernel still sends them cannot be observed
// from here; what these tests pin down is the behaviour that follows:
// - data written and closed is visible to every reader at once;
// - it is committed by the commit interval (or fsync, rename, unmount), not by
//   close, so it survives a killed daemon once the interval has passed;
// - open(O_TRUNC) still truncates (it arrives as a setattr of the size, since
//   the atomic-O_TRUNC capability is off);
// - `-o commit_on_close` restores the strict mode: close commits.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

using OpenPathTest = MountTest;

// Reads `path` in a child process and returns true if it holds `want`.
bool OtherProcessReads(const std::string& path, const std::string& want) {
  pid_t pid = ::fork();
  if (pid == 0) _exit(GetFile(path) == want ? 0 : 1);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST_F(OpenPathTest, ClosedDataIsVisibleToOtherProcessesAtOnce) {
  for (int i = 0; i < 20; ++i) {
    std::string content = Pattern(100 + 997 * static_cast<size_t>(i), static_cast<unsigned>(i));
    ASSERT_TRUE(PutFile(Path("f"), content));
    EXPECT_TRUE(OtherProcessReads(Path("f"), content)) << i;
    EXPECT_EQ(StatOf(Path("f")).st_size, static_cast<off_t>(content.size()));
  }
  // Overwritten in place (no truncate), shorter than before.
  int fd = ::open(Path("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "HEAD", 4, 0), 4);
  ASSERT_EQ(::close(fd), 0);
  std::string got = GetFile(Path("f"));
  EXPECT_EQ(got.substr(0, 4), "HEAD");
  EXPECT_TRUE(OtherProcessReads(Path("f"), got));
}

TEST_F(OpenPathTest, OTruncOverALongerFileTruncates) {
  ASSERT_TRUE(PutFile(Path("f"), Pattern(50000, 4)));
  ASSERT_EQ(Shell("echo x > '" + Path("f") + "'"), 0);
  EXPECT_EQ(GetFile(Path("f")), "x\n");
  EXPECT_EQ(StatOf(Path("f")).st_size, 2);
  EXPECT_TRUE(OtherProcessReads(Path("f"), "x\n"));
  // O_TRUNC alone, nothing written: empty.
  ASSERT_TRUE(PutFile(Path("g"), "not empty"));
  int fd = ::open(Path("g").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(GetFile(Path("g")), "");
  // And the store has it so, not only the kernel's cache.
  ASSERT_EQ(store_->Unmount(), 0) << store_->last_output();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("f")), "x\n");
  EXPECT_EQ(GetFile(Path("g")), "");
}

TEST_F(OpenPathTest, ClosedDataSurvivesAKilledDaemonAfterTheCommitInterval) {
  // Default interval 1 s: small files are committed at the next tick.
  ASSERT_TRUE(PutFile(Path("small"), "closed before the crash"));
  ASSERT_TRUE(PutFile(Path("big"), Pattern(3 << 20, 9)));
  ASSERT_TRUE(PutFile(Path("long"), Pattern(50000, 2)));
  ASSERT_EQ(Shell("echo short > '" + Path("long") + "'"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  store_->Kill();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("small")), "closed before the crash");
  EXPECT_TRUE(GetFile(Path("big")) == Pattern(3 << 20, 9));
  EXPECT_EQ(GetFile(Path("long")), "short\n");
}

TEST_F(OpenPathTest, FsyncedDataSurvivesAKilledDaemonAtOnce) {
  ASSERT_TRUE(PutFile(Path("a"), "fsynced", /*sync=*/true));
  ASSERT_TRUE(PutFile(Path("b"), Pattern(70000, 5), /*sync=*/true));
  store_->Kill();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("a")), "fsynced");
  EXPECT_TRUE(GetFile(Path("b")) == Pattern(70000, 5));
}

TEST_F(OpenPathTest, RenameCommitsTheClosedTempFileInItsBatch) {
  ASSERT_TRUE(PutFile(Path("config"), "old", /*sync=*/true));
  ASSERT_TRUE(PutFile(Path("config.tmp"), "new"));  // closed, not yet committed
  ASSERT_EQ(::rename(Path("config.tmp").c_str(), Path("config").c_str()), 0);
  store_->Kill();
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(GetFile(Path("config")), "new");
}

TEST(OpenPath, CommitOnCloseModeCommitsAtClose) {
  // No interval: only close (or fsync, rename, unmount) commits.
  MountedStore store({"-o", "commit_on_close,commit_interval_ms=0"});
  ASSERT_TRUE(store.Mount()) << store.last_output();
  ASSERT_TRUE(PutFile(store.Path("closed"), "committed by close"));
  ASSERT_TRUE(PutFile(store.Path("long"), Pattern(50000, 2)));
  ASSERT_EQ(Shell("echo x > '" + store.Path("long") + "'"), 0);
  EXPECT_TRUE(OtherProcessReads(store.Path("closed"), "committed by close"));
  EXPECT_EQ(GetFile(store.Path("long")), "x\n");
  store.Kill();
  ASSERT_TRUE(store.Remount()) << store.last_output();
  EXPECT_EQ(GetFile(store.Path("closed")), "committed by close");
  EXPECT_EQ(GetFile(store.Path("long")), "x\n");
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

TEST(OpenPath, ReplacedFileRaceNeverShowsEnoentOrPartialContent) {
  // A reader opening "config" again and again while a writer renames
  // "config.tmp" over it: every read sees one whole version.
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  const std::string a = Pattern(30000, 1), b = Pattern(20000, 2);
  ASSERT_TRUE(PutFile(store.Path("config"), a));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::string first_bad;
  std::thread reader([&] {
    while (!stop.load()) {
      std::string got = GetFile(store.Path("config"));
      if (got != a && got != b && bad.fetch_add(1) == 0) {
        first_bad = got.size() < 40 ? got : "size " + std::to_string(got.size());
      }
    }
  });
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(PutFile(store.Path("config.tmp"), i % 2 ? a : b));
    ASSERT_EQ(::rename(store.Path("config.tmp").c_str(), store.Path("config").c_str()), 0);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << first_bad;
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

}  // namespace
}  // namespace alexfs::testing
