// A full disk under the mount: the data dir is a small tmpfs. Writes fail
// with ENOSPC at write(2) or create time (never later, at commit), every byte
// acknowledged before survives an unmount and remount, statfs shows the space
// left, and deleting files makes room for new writes without a restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

constexpr size_t kChunk = 64 << 10;

// The bytes of file `n` at `offset`: different per file and per chunk.
std::string Pattern(int n, size_t offset, size_t len) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + (n * 7 + (offset + i) / 4093) % 26);
  return s;
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    disk_ = dir_.Sub("disk");
    mnt_ = dir_.Sub("mnt");
    std::filesystem::create_directory(disk_);
    std::filesystem::create_directory(mnt_);
    ASSERT_EQ(::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=32m"), 0) << std::strerror(errno);
    tmpfs_mounted_ = true;
    data_ = disk_ + "/data";
  }
  void TearDown() override {
    if (mounted_) Unmount();
    if (tmpfs_mounted_) ::umount2(disk_.c_str(), MNT_DETACH);
  }

  bool Mount(const std::vector<std::string>& options = {}) {
    std::string out;
    std::string joined = "commit_interval_ms=200";
    for (const std::string& o : options) joined += "," + o;
    const int rc = RunCommand({AlexfsBinary(), "mount", data_, mnt_, "-o", joined}, &out);
    mounted_ = rc == 0;
    if (!mounted_) ADD_FAILURE() << out << DaemonLog();
    return mounted_;
  }
  bool Unmount() {
    std::string out;
    const int rc = RunCommand({AlexfsBinary(), "unmount", mnt_}, &out);
    mounted_ = false;
    if (rc != 0) ADD_FAILURE() << out << DaemonLog();
    return rc == 0;
  }
  uint64_t DiskFreeBytes() const {
    struct statvfs st;
    if (::statvfs(disk_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }
  std::string Path(int n) const { return mnt_ + "/f" + std::to_string(n); }

  // Writes files of 1 MiB in 64 KiB writes until ENOSPC; returns the bytes
  // acknowledged per file. Closes without fsync.
  std::map<int, size_t> FillUntilFull(int first) {
    std::map<int, size_t> acked;
    for (int n = first; n < first + 1000; ++n) {
      const int fd = ::open(Path(n).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
      if (fd < 0) {
        EXPECT_EQ(errno, ENOSPC) << "create: " << std::strerror(errno);
        return acked;
      }
      acked[n] = 0;
      for (size_t off = 0; off < (1 << 20); off += kChunk) {
        const std::string data = Pattern(n, off, kChunk);
        const ssize_t w = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
        if (w < 0) {
          EXPECT_EQ(errno, ENOSPC) << "write: " << std::strerror(errno);
          EXPECT_EQ(::close(fd), 0);
          return acked;
        }
        acked[n] += static_cast<size_t>(w);
        if (static_cast<size_t>(w) < data.size()) break;
      }
      EXPECT_EQ(::close(fd), 0) << std::strerror(errno);
    }
    ADD_FAILURE() << "no ENOSPC after 1000 MiB on a 32 MiB disk";
    return acked;
  }

  void ExpectContents(const std::map<int, size_t>& acked) {
    for (const auto& [n, size] : acked) {
      std::string got;
      ASSERT_TRUE(ReadFile(Path(n), &got)) << n;
      ASSERT_EQ(got.size(), size) << "file " << n << "\n" << DaemonLog();
      ASSERT_TRUE(got == Pattern(n, 0, size)) << "file " << n << " differs\n" << DaemonLog();
    }
  }

  // The data dir (each file's size and allocated bytes) and the daemon's
  // log, for a failure's message.
  std::string DaemonLog() const {
    std::string out = "data dir:\n";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(data_, ec)) {
      struct stat st;
      if (::stat(entry.path().c_str(), &st) != 0) continue;
      out += "  " + entry.path().filename().string() + " " + std::to_string(st.st_size) + " bytes, " +
             std::to_string(st.st_blocks * 512) + " allocated\n";
    }
    std::string log;
    ReadFile(data_ + "/LOG", &log);
    return out + "daemon log:\n" + log;
  }

  TempDir dir_;
  std::string disk_, mnt_, data_;
  bool tmpfs_mounted_ = false;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, EnospcAtWriteKeepsEveryAcknowledgedByteAndDeletesMakeRoom) {
  // A 32 MiB data dir mounts (segments shrink to fit).
  ASSERT_TRUE(Mount());
  std::map<int, size_t> acked = FillUntilFull(0);
  ASSERT_GT(acked.size(), 10u);
  // statfs: (almost) nothing left to write.
  struct statvfs st;
  ASSERT_EQ(::statvfs(mnt_.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.f_bavail) * st.f_frsize, uint64_t{1} << 20);
  ExpectContents(acked);
  // Everything acknowledged is committed at unmount and there after a remount.
  ASSERT_TRUE(Unmount());
  std::string log;
  ASSERT_TRUE(ReadFile(data_ + "/LOG", &log));
  EXPECT_EQ(log.find("store write failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("commit failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("committing at unmount"), std::string::npos) << log;
  ASSERT_TRUE(Mount());
  ExpectContents(acked);

  // Deleting files makes room: compaction runs on the full disk, and writes
  // succeed again without a restart.
  for (auto it = acked.begin(); it != acked.end();) {
    if (it->first % 4 != 0) {
      ASSERT_EQ(::unlink(Path(it->first).c_str()), 0) << std::strerror(errno);
      it = acked.erase(it);
    } else {
      ++it;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::map<int, size_t> more;
  while (std::chrono::steady_clock::now() < deadline) {
    more = FillUntilFull(1000);
    if (more.size() > 5) break;
    for (const auto& [n, size] : more) ASSERT_EQ(::unlink(Path(n).c_str()), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_GT(more.size(), 5u) << "no room came back after deleting 3/4 of the files";
  acked.insert(more.begin(), more.end());
  ExpectContents(acked);
  ASSERT_TRUE(Unmount());
  ASSERT_TRUE(Mount());
  ExpectContents(acked);
}

TEST_F(FullDiskTest, OfflineCompactWorksOnAFullDisk) {
  // No idle compaction: the garbage made below is left to `alexfs compact`.
  ASSERT_TRUE(Mount({"idle_compaction_ms=0"}));
  std::map<int, size_t> acked = FillUntilFull(0);
  ASSERT_GT(acked.size(), 10u);
  // Everything in the log first (a file deleted before its commit leaves no
  // garbage): fsync commits each file.
  for (const auto& [n, size] : acked) {
    const int fd = ::open(Path(n).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0) << n;
    EXPECT_EQ(::fsync(fd), 0) << n << ": " << std::strerror(errno);
    ::close(fd);
  }
  // Garbage on the full disk: deletes take the reserve, and their files'
  // bytes stay in the log until a compaction.
  std::vector<int> deleted;
  for (auto it = acked.begin(); it != acked.end();) {
    if (it->first % 3 == 0) {
      ASSERT_EQ(::unlink(Path(it->first).c_str()), 0) << std::strerror(errno);
      deleted.push_back(it->first);
      it = acked.erase(it);
    } else {
      ++it;
    }
  }
  ASSERT_TRUE(Unmount());
  // What the disk would have free with no garbage: all but the live bytes,
  // less 2 MiB for record headers, the MANIFEST, LOG and the like.
  uint64_t live = 0;
  for (const auto& [n, size] : acked) live += size;
  const uint64_t disk = uint64_t{32} << 20;
  const uint64_t free_without_garbage = disk - live - (uint64_t{2} << 20);
  // The daemon may have compacted some (a write short of space asks for it),
  // never all: the compaction below has garbage to reclaim on a full disk.
  const uint64_t free_before = DiskFreeBytes();
  EXPECT_LT(free_before + (uint64_t{1} << 20), free_without_garbage);
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "compact", data_}, &out), 0) << out << DaemonLog();
  EXPECT_GT(DiskFreeBytes(), free_without_garbage) << out;
  ASSERT_TRUE(Mount());
  ExpectContents(acked);
  for (int n : deleted) EXPECT_FALSE(std::filesystem::exists(Path(n))) << n;
}

}  // namespace
}  // namespace alexfs::testing
