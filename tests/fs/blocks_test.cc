// Files in blocks (fs/value_format.h, fs/file_buffer.h) on a real mount:
// a differential random-operation test against tmpfs with remounts and
// SIGKILLs between rounds, a crash test that a file is always as of one
// commit, sparse files, and unlinked open files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/fs/fs_test_util.h"
#include "tests/support/mounted_store.h"
#include "tests/support/temp_dir.h"

namespace alexfs::testing {
namespace {

constexpr size_t kBlock = 64 << 10;  // fs/value_format.h kBlockBytes
constexpr size_t kInline = 64 << 10;  // kInlineMaxBytes

// One random operation applied to the mount and to tmpfs alike.
class Differential {
 public:
  Differential(MountedStore* store, std::string ref, unsigned seed)
      : store_(store), ref_(std::move(ref)), rng_(seed) {}

  // Applies a random operation to both trees; fails the test if they differ
  // in result or in the touched file's state.
  void Step(int step) {
    const std::string a = Name(), b = Name();
    std::string what;
    int mine = 0, theirs = 0;
    switch (Pick(8)) {
      case 0: {  // pwrite across inline and block boundaries
        const uint64_t off = Offset();
        const std::string data = Pattern(1 + Pick(3 * kBlock), step);
        what = "pwrite " + a + " @" + std::to_string(off) + " +" + std::to_string(data.size());
        mine = PWrite(store_->Path(a), off, data, 0);
        theirs = PWrite(ref_ + "/" + a, off, data, 0);
        break;
      }
      case 1: {  // append
        const std::string data = Pattern(1 + Pick(300), step);
        what = "append " + a + " +" + std::to_string(data.size());
        mine = PWrite(store_->Path(a), 0, data, O_APPEND);
        theirs = PWrite(ref_ + "/" + a, 0, data, O_APPEND);
        break;
      }
      case 2: {  // truncate up or down
        const uint64_t size = Offset();
        what = "truncate " + a + " " + std::to_string(size);
        mine = ErrnoOf(::truncate(store_->Path(a).c_str(), static_cast<off_t>(size)));
        theirs = ErrnoOf(::truncate((ref_ + "/" + a).c_str(), static_cast<off_t>(size)));
        break;
      }
      case 3:
        what = "rename " + a + " " + b;
        mine = ErrnoOf(::rename(store_->Path(a).c_str(), store_->Path(b).c_str()));
        theirs = ErrnoOf(::rename((ref_ + "/" + a).c_str(), (ref_ + "/" + b).c_str()));
        break;
      case 4: {
        const mode_t mode = 0600 | (Pick(2) ? 0044 : 0) | (Pick(2) ? 0100 : 0);
        what = "chmod " + a;
        mine = ErrnoOf(::chmod(store_->Path(a).c_str(), mode));
        theirs = ErrnoOf(::chmod((ref_ + "/" + a).c_str(), mode));
        break;
      }
      case 5:
        what = "link " + a + " " + b;
        mine = ErrnoOf(::link(store_->Path(a).c_str(), store_->Path(b).c_str()));
        theirs = ErrnoOf(::link((ref_ + "/" + a).c_str(), (ref_ + "/" + b).c_str()));
        break;
      case 6:
        what = "unlink " + a;
        mine = ErrnoOf(::unlink(store_->Path(a).c_str()));
        theirs = ErrnoOf(::unlink((ref_ + "/" + a).c_str()));
        break;
      default:
        what = "fsync " + a;
        mine = Fsync(store_->Path(a));
        theirs = Fsync(ref_ + "/" + a);
        break;
    }
    if (std::getenv("BLOCKS_TEST_TRACE")) fprintf(stderr, "%d %s -> %d\n", step, what.c_str(), mine);
    ASSERT_EQ(mine, theirs) << "step " << step << ": " << what;
    ExpectSame(a, "step " + std::to_string(step) + ": " + what);
    ExpectSame(b, "step " + std::to_string(step) + ": " + what);
  }

  // fsyncs every file of the mount (so a SIGKILL loses nothing).
  void SyncAll() {
    for (const std::string& name : ListDir(store_->mountpoint())) {
      ASSERT_EQ(Fsync(store_->Path(name)), 0) << name;
    }
  }

  void ExpectAllSame(const std::string& when) {
    std::vector<std::string> mine = ListDir(store_->mountpoint());
    std::vector<std::string> theirs = ListDir(ref_);
    std::sort(mine.begin(), mine.end());
    std::sort(theirs.begin(), theirs.end());
    ASSERT_EQ(mine, theirs) << when;
    for (const std::string& name : mine) ExpectSame(name, when);
  }

 private:
  std::string Name() { return std::string(1, static_cast<char>('a' + Pick(4))); }
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  // Offsets near the interesting places: 0, the inline limit, block edges.
  uint64_t Offset() {
    static const uint64_t kAnchors[] = {0, kInline, kBlock, 2 * kBlock, 3 * kBlock, 5 * kBlock};
    const uint64_t anchor = kAnchors[Pick(sizeof kAnchors / sizeof kAnchors[0])];
    const int64_t jitter = static_cast<int64_t>(Pick(2001)) - 1000;
    return static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(anchor) + jitter));
  }

  static int PWrite(const std::string& path, uint64_t off, const std::string& data, int flags) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | flags, 0644);
    if (fd < 0) return errno;
    ssize_t n = flags & O_APPEND ? ::write(fd, data.data(), data.size())
                                 : ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
    int err = n == static_cast<ssize_t>(data.size()) ? 0 : (n < 0 ? errno : EIO);
    ::close(fd);
    return err;
  }
  static int Fsync(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return errno;
    int err = ErrnoOf(::fsync(fd));
    ::close(fd);
    return err;
  }

  void ExpectSame(const std::string& name, const std::string& when) {
    struct stat mine = StatOf(store_->Path(name));
    struct stat theirs = StatOf(ref_ + "/" + name);
    ASSERT_EQ(mine.st_ino != 0, theirs.st_ino != 0) << name << " exists? " << when;
    if (theirs.st_ino == 0) return;
    EXPECT_EQ(mine.st_size, theirs.st_size) << name << " " << when;
    EXPECT_EQ(mine.st_mode, theirs.st_mode) << name << " " << when;
    EXPECT_EQ(mine.st_nlink, theirs.st_nlink) << name << " " << when;
    const std::string got = ReadUncached(store_->Path(name));
    const std::string want = GetFile(ref_ + "/" + name);
    ASSERT_EQ(got.size(), want.size()) << name << " " << when;
    ASSERT_TRUE(got == want) << name << " differs at byte "
                             << std::mismatch(got.begin(), got.end(), want.begin()).first -
                                    got.begin()
                             << " " << when;
  }

  MountedStore* store_;
  std::string ref_;
  std::mt19937_64 rng_;
};

using BlocksTest = MountTest;

TEST_F(BlocksTest, RandomOperationsMatchTmpfsAcrossRemountsAndKills) {
  TempDir ref("/dev/shm");
  ASSERT_FALSE(ref.path().empty());
  Differential diff(store_.get(), ref.path(), 12);
  for (int round = 0; round < 6; ++round) {
    for (int step = 0; step < 150; ++step) {
      ASSERT_NO_FATAL_FAILURE(diff.Step(round * 1000 + step));
    }
    ASSERT_NO_FATAL_FAILURE(diff.SyncAll());
    if (round % 2 == 0) {
      ASSERT_EQ(store_->Unmount(), 0);
    } else {
      store_->Kill();  // everything was fsynced: nothing may be lost
    }
    ASSERT_TRUE(store_->Remount()) << store_->last_output();
    ASSERT_NO_FATAL_FAILURE(diff.ExpectAllSame("after round " + std::to_string(round)));
  }
}

// The writer's generation g: a file of a size that moves across block
// boundaries, every byte derived from g.
std::string Generation(unsigned g) {
  const size_t size = g == 0 ? 0 : 100 * 1024 + (g % 7) * 37 * 1024;
  return Pattern(size, g);
}

TEST(BlocksCrashTest, AFileIsAlwaysAsOfOneCommit) {
  // Commits happen only at fsync (no interval), so every committed state is a
  // whole generation; a SIGKILL during the multi-block commits must leave one.
  MountedStore store({"-o", "commit_interval_ms=0"});
  ASSERT_TRUE(store.Mount()) << store.last_output();
  const std::string path = store.Path("file");
  ASSERT_TRUE(PutFile(path, "", true));
  unsigned acked = 0;
  for (int round = 0; round < 4; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    pid_t writer = ::fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) {
      ::close(pipe_fds[0]);
      for (unsigned g = acked + 1;; ++g) {
        const std::string bytes = Generation(g);
        int fd = ::open(path.c_str(), O_RDWR);
        if (fd < 0) ::_exit(0);
        if (::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
            ::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0 || ::fsync(fd) != 0) {
          ::_exit(0);
        }
        ::close(fd);
        if (::write(pipe_fds[1], &g, sizeof g) != sizeof g) ::_exit(1);
      }
    }
    ::close(pipe_fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 150 * round));
    store.Kill();
    int status = 0;
    ::waitpid(writer, &status, 0);
    unsigned g = 0;
    while (::read(pipe_fds[0], &g, sizeof g) == sizeof g) acked = std::max(acked, g);
    ::close(pipe_fds[0]);
    ASSERT_TRUE(store.Remount()) << store.last_output();
    const std::string got = ReadUncached(path);
    // The acknowledged generation, or the one whose fsync was cut off.
    const bool acked_state = got == Generation(acked);
    const bool next_state = got == Generation(acked + 1);
    ASSERT_TRUE(acked_state || next_state)
        << "round " << round << ": " << got.size() << " bytes, acked generation " << acked;
    if (next_state) acked += 1;
    ASSERT_GT(acked, 0u) << "the writer made no progress";
  }
}

TEST_F(BlocksTest, SparseFileOfOneTebibyteStoresOnlyItsData) {
  const std::string path = Path("sparse");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const off_t tib = off_t{1} << 40;
  ASSERT_EQ(::pwrite(fd, "end", 3, tib - 3), 3);
  ASSERT_EQ(::pwrite(fd, "start", 5, 0), 5);
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
  ASSERT_EQ(store_->Unmount(), 0);
  ASSERT_TRUE(store_->Remount()) << store_->last_output();
  EXPECT_EQ(StatOf(path).st_size, tib);
  fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[8] = {};
  EXPECT_EQ(::pread(fd, buf, 5, 0), 5);
  EXPECT_EQ(std::string(buf, 5), "start");
  EXPECT_EQ(::pread(fd, buf, 8, tib / 2), 8);
  EXPECT_EQ(std::string(buf, 8), std::string(8, '\0'));
  EXPECT_EQ(::pread(fd, buf, 8, tib - 3), 3);
  EXPECT_EQ(std::string(buf, 3), "end");
  // SEEK_DATA / SEEK_HOLE see the two stored blocks and the hole between.
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), 5);  // block 0 holds 5 bytes
  EXPECT_EQ(::lseek(fd, 4096, SEEK_DATA), tib - static_cast<off_t>(kBlock));  // its block
  EXPECT_EQ(::lseek(fd, tib - 3, SEEK_HOLE), tib);
  ::close(fd);
  // Two blocks and a few records, not a terabyte: the data directory stays at its
  // preallocated segment size.
  uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(store_->data_dir())) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  EXPECT_LT(bytes, uintmax_t{256} << 20);
}

TEST_F(BlocksTest, UnlinkedOpenFileKeepsWorkingUntilClosed) {
  const std::string path = Path("gone");
  const std::string data = Pattern(3 * kBlock + 100, 5);
  ASSERT_TRUE(PutFile(path, data, true));
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  std::string got(data.size(), '\0');
  ASSERT_EQ(::pread(fd, got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
  EXPECT_TRUE(got == data);
  ASSERT_EQ(::pwrite(fd, "xy", 2, kBlock - 1), 2);
  EXPECT_EQ(::ftruncate(fd, 2 * kBlock), 0);
  EXPECT_EQ(::fchmod(fd, 0600), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(2 * kBlock));
  EXPECT_EQ(st.st_nlink, 0u);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  char buf[4] = {};
  ASSERT_EQ(::pread(fd, buf, 4, kBlock - 2), 4);
  EXPECT_EQ(std::string(buf, 4), std::string(1, data[kBlock - 2]) + "xy" + data[kBlock + 1]);
  ::close(fd);
}

// The temp-file idiom (open, unlink, then ftruncate/fchmod/fchown/futimens
// before any write: stress-ng's sync-file stressor) on a committed small file
// and on a just-created empty one. Each call used to answer ESTALE.
TEST_F(BlocksTest, UnlinkedOpenFileTakesAttributeChangesBeforeAnyWrite) {
  for (const std::string name : {"small", "empty"}) {
    SCOPED_TRACE(name);
    const std::string path = Path(name);
    const std::string data = name == "small" ? std::string("hello") : std::string();
    if (!data.empty()) {
      ASSERT_TRUE(PutFile(path, data, true));
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    EXPECT_EQ(::ftruncate(fd, 2 * kBlock + 7), 0) << std::strerror(errno);
    EXPECT_EQ(::fchmod(fd, 0600), 0) << std::strerror(errno);
    EXPECT_EQ(::fchown(fd, 1, 1), 0) << std::strerror(errno);
    const struct timespec times[2] = {{1, 0}, {2, 0}};
    EXPECT_EQ(::futimens(fd, times), 0) << std::strerror(errno);
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, static_cast<off_t>(2 * kBlock + 7));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, 1u);
    EXPECT_EQ(st.st_mtime, 2);
    EXPECT_EQ(st.st_nlink, 0u);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    std::string got(data.size() + 2, 'x');
    ASSERT_EQ(::pread(fd, got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
    EXPECT_EQ(got, data + std::string(2, '\0'));
    ::close(fd);
    EXPECT_NE(::access(path.c_str(), F_OK), 0);
  }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kHeapIsMeasurable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kHeapIsMeasurable = false;
#else
constexpr bool kHeapIsMeasurable = true;
#endif
#else
constexpr bool kHeapIsMeasurable = true;
#endif

// The daemon's anonymous resident memory (its heap: buffers), in bytes.
uint64_t RssAnonBytes(pid_t pid) {
  std::string status = GetFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("RssAnon:");
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + 8, nullptr, 10) << 10;  // kB
}

TEST(BlocksMemoryTest, DirtyDataIsBoundedByTheMountOptions) {
  // No commit interval: only the memory bound commits while the file is written.
  MountedStore store({"-o", "commit_interval_ms=0,max_dirty_mb=8,max_file_dirty_mb=4"});
  ASSERT_TRUE(store.Mount()) << store.last_output();
  const std::string path = store.Path("big");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const std::string chunk = Pattern(1 << 20, 3);
  constexpr int kMiB = 96;
  for (int i = 0; i < kMiB; ++i) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  const uint64_t rss = RssAnonBytes(store.pid());
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
  // Under ASan/TSan the daemon's heap is dominated by shadow memory and the
  // allocator's quarantine, so only the data is checked there.
  if (kHeapIsMeasurable) {
    EXPECT_LT(rss, uint64_t{48} << 20) << "daemon heap after writing " << kMiB << " MiB";
  }
  EXPECT_EQ(StatOf(path).st_size, off_t{kMiB} << 20);
  store.Kill();
  ASSERT_TRUE(store.Remount()) << store.last_output();
  const std::string got = ReadUncached(path);
  ASSERT_EQ(got.size(), size_t{kMiB} << 20);
  for (int i = 0; i < kMiB; ++i) {
    ASSERT_TRUE(got.compare(size_t(i) << 20, chunk.size(), chunk) == 0) << "MiB " << i;
  }
}

}  // namespace
}  // namespace alexfs::testing
