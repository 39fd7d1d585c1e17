// A full disk under the mount: the data dir is a small tmpfs. Writes fail
// with ENOSPC at write(2) or create time (never later, at commit), every byte
// acknowledged before survives an unmount and remount, statfs shows the space
// left, and deleting files makes room for new writes without a restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

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

  bool Mount() {
    std::string out;
    const int rc = RunCommand({AlexfsBinary(), "mount", data_, mnt_, "-o", "commit_interval_ms=200"}, &out);
    mounted_ = rc == 0;
    if (!mounted_) ADD_FAILURE() << out;
    return mounted_;
  }
  bool Unmount() {
    std::string out;
    const int rc = RunCommand({AlexfsBinary(), "unmount", mnt_}, &out);
    mounted_ = false;
    if (rc != 0) ADD_FAILURE() << out;
    return rc == 0;
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
      ASSERT_EQ(got.size(), size) << "file " << n;
      ASSERT_TRUE(got == Pattern(n, 0, size)) << "file " << n << " differs";
    }
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
  ASSERT_TRUE(Mount());
  std::map<int, size_t> acked = FillUntilFull(0);
  ASSERT_GT(acked.size(), 10u);
  // Overwrite some files in place until the disk is full again: garbage.
  for (auto& [n, size] : acked) {
    if (n % 3 != 0) continue;
    const int fd = ::open(Path(n).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string data = Pattern(n, 0, std::min(size, kChunk));
    const ssize_t w = ::pwrite(fd, data.data(), data.size(), 0);
    ::close(fd);
    if (w < 0) break;
  }
  ASSERT_TRUE(Unmount());
  std::string out;
  EXPECT_EQ(RunCommand({AlexfsBinary(), "compact", data_}, &out), 0) << out;
  ASSERT_TRUE(Mount());
  ExpectContents(acked);
}

}  // namespace
}  // namespace alexfs::testing
