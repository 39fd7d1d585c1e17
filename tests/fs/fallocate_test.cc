// fallocate on a real mount, each case run on a tmpfs too and compared: mode 0
// extends (zeros, nothing stored), KEEP_SIZE changes nothing visible,
// PUNCH_HOLE | KEEP_SIZE zeros a range and makes whole blocks holes
// (SEEK_HOLE), other modes fail with EOPNOTSUPP and leave the file as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// Writes `initial` to `path`, then runs fallocate(mode, offset, length);
// returns "rc=<0 or errno name> size=<st_size>".
std::string Fallocate(const std::string& path, const std::string& initial, int mode, off_t offset,
                      off_t length) {
  if (!PutFile(path, initial)) return "cannot write";
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return "cannot open";
  int rc = ::fallocate(fd, mode, offset, length);
  std::string out = "rc=" + (rc == 0 ? std::string("0") : std::string(strerrorname_np(errno)));
  struct stat st;
  ::fstat(fd, &st);
  ::close(fd);
  return out + " size=" + std::to_string(st.st_size);
}

class FallocateTest : public MountTest {
 protected:
  // Runs one case on AlexFS and on a tmpfs: the results and the bytes match.
  void SameAsTmpfs(const std::string& name, size_t initial, int mode, off_t offset, off_t length) {
    SCOPED_TRACE(name);
    const std::string bytes = Pattern(initial);
    const std::string ours = Fallocate(Path(name), bytes, mode, offset, length);
    const std::string theirs = Fallocate(tmpfs_.Sub(name), bytes, mode, offset, length);
    EXPECT_EQ(ours, theirs);
    EXPECT_TRUE(GetFile(Path(name)) == GetFile(tmpfs_.Sub(name)));
  }
  TempDir tmpfs_{"/dev/shm"};
};

TEST_F(FallocateTest, ModesMatchTmpfs) {
  // Mode 0: grows an inline file, one into blocks, one in blocks; inside: nothing.
  SameAsTmpfs("grow_inline", 100, 0, 50, 1000);
  SameAsTmpfs("grow_to_blocks", 100, 0, 0, 300 * 1024);
  SameAsTmpfs("grow_blocks", 200 * 1024, 0, 100 * 1024, 1 << 20);
  SameAsTmpfs("inside", 5000, 0, 0, 10);
  // KEEP_SIZE: past the end or not, nothing visible changes.
  SameAsTmpfs("keep", 5000, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
  // Punch: inline, across block boundaries, past the end, the whole file.
  const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  SameAsTmpfs("punch_inline", 5000, punch, 100, 1000);
  SameAsTmpfs("punch_blocks", 400 * 1024 + 3, punch, 70000, 200000);
  SameAsTmpfs("punch_past_end", 100 * 1024, punch, 90 * 1024, 1 << 20);
  SameAsTmpfs("punch_all", 300 * 1024, punch, 0, 300 * 1024);
  // Unsupported: refused, the file as it was.
  SameAsTmpfs("no_keep_punch", 5000, FALLOC_FL_PUNCH_HOLE, 0, 10);
  for (int mode : {FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE}) {
    const std::string bytes = Pattern(200 * 1024);
    EXPECT_EQ(Fallocate(Path("unsupported"), bytes, mode, 0, 64 * 1024),
              "rc=EOPNOTSUPP size=204800");
    EXPECT_TRUE(GetFile(Path("unsupported")) == bytes);
  }
}

TEST_F(FallocateTest, PunchedBlocksAreHolesAndSurviveRemount) {
  const std::string bytes = Pattern(5 * 64 * 1024);
  ASSERT_EQ(Fallocate(Path("f"), bytes, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 70000,
                      2 * 64 * 1024),
            "rc=0 size=327680");
  std::string expected = bytes;
  expected.replace(70000, 2 * 64 * 1024, 2 * 64 * 1024, '\0');
  // Block 2 (131072..196607) lies wholly inside the range: a hole.
  int fd = ::open(Path("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), 131072);
  EXPECT_EQ(::lseek(fd, 131072, SEEK_DATA), 196608);
  ::close(fd);
  ASSERT_EQ(store_->Unmount(), 0);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_TRUE(GetFile(Path("f")) == expected);
  fd = ::open(Path("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), 131072);
  ::close(fd);
}

TEST_F(FallocateTest, PosixFallocateOfOneGibibyteStoresNothing) {
  int fd = ::open(Path("big").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::posix_fallocate(fd, 0, off_t{1} << 30), 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, off_t{1} << 30);
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
  // The size is a hole: the store's log holds a few records, not 1 GiB of zeros.
  std::string out;
  ASSERT_EQ(RunShell("du -sk '" + store_->data_dir() + "' | cut -f1", &out), 0) << out;
  // (Segments are preallocated 64 MiB at a time; glibc's emulation, when
  // fallocate was refused, wrote a byte into every 4 KiB: 1 GiB of blocks.)
  EXPECT_LT(std::stoll(out), 200 * 1024) << "KiB in the data directory";
}

}  // namespace
}  // namespace alexfs::testing
