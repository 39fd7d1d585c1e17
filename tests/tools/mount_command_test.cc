// `alexfs mount` as a user runs it: the real binary, a real kernel mount.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/mounted_store.h"

namespace alexfs::testing {
namespace {

// Pids of processes whose command line mentions `needle`.
std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(MountCommand, ReturnsOnlyWhenTheMountIsLive) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", data, mnt}, &out), 0) << out;
  // No waiting: the mount must already be there when the command returns.
  EXPECT_TRUE(IsMounted(mnt));
  struct stat st;
  ASSERT_EQ(::stat(mnt.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  // Unmounting ends the daemon.
  ASSERT_FALSE(ProcessesMentioning(data).empty());
  ASSERT_EQ(RunCommand({"fusermount3", "-u", mnt}, &out), 0) << out;
  EXPECT_FALSE(IsMounted(mnt));
  EXPECT_TRUE(WaitUntil([&] { return ProcessesMentioning(data).empty(); },
                        std::chrono::seconds(10)))
      << "the daemon is still running after unmount";
}

TEST(MountCommand, MissingMountpointIsAClearError) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", dir.Sub("data"), dir.Sub("nope")}, &out), 1);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  EXPECT_FALSE(IsMounted(dir.Sub("nope")));
}

TEST(MountCommand, NonEmptyMountpointIsRefusedUnlessAllowed) {
  TempDir dir;
  std::string mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(mnt + "/precious", "x"));
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", dir.Sub("data"), mnt}, &out), 1);
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  EXPECT_FALSE(IsMounted(mnt));

  ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", dir.Sub("data"), mnt, "-o", "nonempty"}, &out), 0)
      << out;
  EXPECT_TRUE(IsMounted(mnt));
  EXPECT_EQ(RunCommand({"fusermount3", "-u", mnt}, &out), 0) << out;
}

TEST(MountCommand, SecondMountOnTheSameMountpointIsRefused) {
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  TempDir other;
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", other.Sub("data"), store.mountpoint()}, &out), 1);
  EXPECT_NE(out.find("already a mount point"), std::string::npos) << out;
  // The first mount is untouched.
  EXPECT_TRUE(IsMounted(store.mountpoint()));
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

TEST(MountCommand, UnknownMountOptionIsAClearError) {
  TempDir dir;
  std::string mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", dir.Sub("data"), mnt, "-o", "no_such_option"}, &out),
            1);
  EXPECT_NE(out.find("no_such_option"), std::string::npos) << out;
  EXPECT_FALSE(IsMounted(mnt));
}

TEST(MountCommand, SigtermStopsTheForegroundDaemonCleanly) {
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  ASSERT_EQ(::kill(store.pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitUntil([&] { return !IsMounted(store.mountpoint()); }, std::chrono::seconds(10)));
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

TEST(MountCommand, ReplacesTheDeadMountOfAKilledDaemon) {
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  store.Kill();
  ASSERT_TRUE(IsMounted(store.mountpoint()));  // the kernel keeps the dead mount
  struct statfs sfs;
  EXPECT_EQ(::statfs(store.mountpoint().c_str(), &sfs), -1);
  EXPECT_EQ(errno, ENOTCONN);
  ASSERT_TRUE(store.Remount()) << store.last_output();
  EXPECT_EQ(::statfs(store.mountpoint().c_str(), &sfs), 0);
  EXPECT_NE(store.last_output().find("dead mount"), std::string::npos) << store.last_output();
}

// Writes `count` files of 64 KiB under `dir`, without fsync (with
// commit_interval_ms=0 the daemon commits them only at unmount, so its final
// commit takes a while); file i holds byte 'a' + i % 26.
void WriteFilesForTheFinalCommit(const std::string& dir, int count) {
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(WriteFile(dir + "/f" + std::to_string(i),
                          std::string(64 << 10, static_cast<char>('a' + i % 26))));
  }
}

void ExpectFilesFromTheFinalCommit(const std::string& dir, int count) {
  for (int i = 0; i < count; ++i) {
    std::string got;
    ASSERT_TRUE(ReadFile(dir + "/f" + std::to_string(i), &got)) << i;
    EXPECT_EQ(got, std::string(64 << 10, static_cast<char>('a' + i % 26))) << i;
  }
}

TEST(UnmountCommand, ReturnsOnlyWhenTheDaemonHasCommittedAndExited) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", data, mnt, "-o", "commit_interval_ms=0"}, &out), 0)
      << out;
  WriteFilesForTheFinalCommit(mnt, 300);
  ASSERT_EQ(RunCommand({AlexfsBinary(), "unmount", mnt}, &out), 0) << out;
  // No waiting: the daemon is gone and the store free when the command returns.
  EXPECT_FALSE(IsMounted(mnt));
  EXPECT_TRUE(ProcessesMentioning(data).empty()) << "the daemon is still running";
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", data}, &out), 0) << out;
  EXPECT_EQ(out.find("waiting"), std::string::npos) << out;
  ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", data, mnt}, &out), 0) << out;
  ExpectFilesFromTheFinalCommit(mnt, 300);
  EXPECT_EQ(RunCommand({AlexfsBinary(), "unmount", mnt}, &out), 0) << out;
}

TEST(UnmountCommand, RefusesAPathThatIsNotAnAlexfsMount) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "unmount", dir.path()}, &out), 1);
  EXPECT_NE(out.find("is not an AlexFS mount"), std::string::npos) << out;
}

TEST(MountCommand, MountAndOfflineToolsWaitForADaemonThatIsExiting) {
  TempDir dir;
  std::string data = dir.Sub("data"), mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string out;
  for (const char* next : {"check", "mount"}) {
    ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", data, mnt, "-o", "commit_interval_ms=0"}, &out),
              0) << out;
    WriteFilesForTheFinalCommit(mnt, 300);
    // fusermount3 returns before the daemon's final commit; the next command
    // must wait for it rather than fail with "LOCK is held by pid N".
    ASSERT_EQ(RunCommand({"fusermount3", "-u", mnt}, &out), 0) << out;
    if (std::string(next) == "check") {
      EXPECT_EQ(RunCommand({AlexfsBinary(), "check", data}, &out), 0) << out;
    } else {
      ASSERT_EQ(RunCommand({AlexfsBinary(), "mount", data, mnt}, &out), 0) << out;
      ExpectFilesFromTheFinalCommit(mnt, 300);
      EXPECT_EQ(RunCommand({AlexfsBinary(), "unmount", mnt}, &out), 0) << out;
    }
  }
}

TEST(MountCommand, ToolsRefuseALiveMountAtOnce) {
  MountedStore store;
  ASSERT_TRUE(store.Mount()) << store.last_output();
  std::string out;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunCommand({AlexfsBinary(), "check", store.data_dir()}, &out), 1);
  EXPECT_NE(out.find("held by pid " + std::to_string(store.pid())), std::string::npos) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "a live mount is not an exiting daemon: no waiting";
  EXPECT_EQ(store.Unmount(), 0) << store.last_output();
}

TEST(MountCommand, VersionAndHelp) {
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "--version"}, &out), 0);
  EXPECT_EQ(out.rfind("alexfs ", 0), 0u) << out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "mount", "--help"}, &out), 0);
  EXPECT_NE(out.find("MOUNTPOINT"), std::string::npos) << out;
}

}  // namespace
}  // namespace alexfs::testing
