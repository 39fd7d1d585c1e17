// Power loss at the filesystem level: the filesystem is served in-process
// (fs::Serve) over a store on a FaultEnv (tests/support/fault_env.h), driven
// with real system calls on the real mount, then the power is cut, the
// session torn down (lazy unmount), the crash image written and the store
// mounted again. Checked after every cut:
//  * every file saved with the careful idiom (write a temporary file, fsync
//    it, rename it over the name, fsync the directory) has its saved bytes;
//  * a file appended with fdatasync after each append holds at least every
//    byte appended before the last fdatasync, and only bytes appended, in
//    order (nothing torn).
// Syncs are slow (injected) and the background committer runs every 5 ms,
// so a directory fsync usually arrives while the committer's sync is in
// flight: it must not return before that sync is done.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fs/mount.h"
#include "tests/support/fault_env.h"
#include "tests/support/temp_dir.h"

namespace alexfs {
namespace {

using testing::FaultEnv;

// A mount served by fs::Serve on a thread of this process.
class InProcessMount {
 public:
  InProcessMount(const std::string& data_dir, const std::string& mountpoint, Env* env) {
    config_.data_dir = data_dir;
    config_.mountpoint = mountpoint;
    config_.options = {"commit_interval_ms=5"};
    config_.env = env;
    std::promise<Status> ready;
    std::future<Status> ready_f = ready.get_future();
    thread_ = std::thread([this, &ready] {
      result_ = fs::Serve(config_, [&ready](const Status& s) { ready.set_value(s); });
    });
    ready_status_ = ready_f.get();
    if (!ready_status_.ok()) Join();
  }
  ~InProcessMount() { Detach(); }

  const Status& ready() const { return ready_status_; }

  // Lazy unmount (the kernel lets go once nothing uses the mount) and wait
  // for Serve to return.
  void Detach() {
    if (!thread_.joinable()) return;
    ::umount2(config_.mountpoint.c_str(), MNT_DETACH);
    Join();
  }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  fs::MountConfig config_;
  std::thread thread_;
  Status ready_status_;
  Status result_;
};

std::string ReadFile(const std::string& path, bool* exists) {
  int fd = ::open(path.c_str(), O_RDONLY);
  *exists = fd >= 0;
  std::string out;
  if (fd < 0) return out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
}

// write-temp, fsync, rename, fsync-dir.
void SaveCarefully(const std::string& dir, const std::string& name, const std::string& data,
                   std::chrono::milliseconds pause_before_dir_fsync) {
  const std::string tmp = dir + "/" + name + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_NO_FATAL_FAILURE(WriteAll(fd, data));
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
  ASSERT_EQ(::close(fd), 0);
  ASSERT_EQ(::rename(tmp.c_str(), (dir + "/" + name).c_str()), 0) << std::strerror(errno);
  std::this_thread::sleep_for(pause_before_dir_fsync);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  ASSERT_EQ(::fsync(dfd), 0) << std::strerror(errno);
  ::close(dfd);
}

TEST(FsPowerLossTest, FsyncedFilesAndRenamesSurvive) {
  testing::TempDir temp;
  const std::string data_dir = temp.path() + "/data";
  const std::string mnt = temp.path() + "/mnt";
  std::filesystem::create_directories(data_dir);
  std::filesystem::create_directories(mnt);
  FaultEnv env;
  env.DelaySyncs(std::chrono::milliseconds(15));
  std::map<std::string, std::string> saved;  // name -> bytes saved carefully
  std::string journal_all;                   // every byte appended so far
  size_t journal_synced = 0;                 // bytes appended before the last fdatasync
  constexpr int kCuts = 40;
  for (int cut = 0; cut < kCuts; ++cut) {
    const uint64_t seed = 7000 + static_cast<uint64_t>(cut);
    std::mt19937_64 rng(seed);
    {
      InProcessMount m(data_dir, mnt, &env);
      ASSERT_TRUE(m.ready().ok()) << "seed " << seed << ": " << m.ready().ToString();
      const int ops = 1 + static_cast<int>(rng() % 6);
      for (int i = 0; i < ops; ++i) {
        if (rng() % 2 == 0) {
          const std::string name = "f" + std::to_string(rng() % 8);
          const std::string data = "seed" + std::to_string(seed) + "-op" + std::to_string(i) +
                                   std::string(rng() % 20000, static_cast<char>('a' + i));
          ASSERT_NO_FATAL_FAILURE(SaveCarefully(mnt, name, data, std::chrono::milliseconds(0)));
          saved[name] = data;
        } else {
          const std::string chunk =
              "<" + std::to_string(seed) + ":" + std::to_string(i) + std::string(rng() % 3000, 'j') + ">";
          int fd = ::open((mnt + "/journal").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
          ASSERT_GE(fd, 0) << std::strerror(errno);
          ASSERT_NO_FATAL_FAILURE(WriteAll(fd, chunk));
          journal_all += chunk;
          if (rng() % 3 != 0) {
            ASSERT_EQ(::fdatasync(fd), 0) << std::strerror(errno);
            journal_synced = journal_all.size();
          }
          ::close(fd);
        }
      }
      // The last save pauses between rename and fsync(dir): the committer
      // (every 5 ms) picks the rename up and syncs it slowly meanwhile.
      const std::string name = "last" + std::to_string(rng() % 3);
      const std::string data = "last-of-seed" + std::to_string(seed);
      ASSERT_NO_FATAL_FAILURE(SaveCarefully(mnt, name, data, std::chrono::milliseconds(8)));
      saved[name] = data;
      env.SimulatePowerCut(seed);
      m.Detach();
    }
    ASSERT_TRUE(env.MaterializeCrashImage().ok());
    InProcessMount m(data_dir, mnt, &env);
    ASSERT_TRUE(m.ready().ok()) << "seed " << seed << ": the store does not open after the cut: "
                                << m.ready().ToString();
    for (const auto& [name, data] : saved) {
      bool exists = false;
      const std::string got = ReadFile(mnt + "/" + name, &exists);
      ASSERT_TRUE(exists) << "seed " << seed << ": " << name << " was saved and is gone";
      ASSERT_EQ(got, data) << "seed " << seed << ": " << name;
    }
    bool exists = false;
    const std::string journal = ReadFile(mnt + "/journal", &exists);
    ASSERT_GE(journal.size(), journal_synced) << "seed " << seed << ": fdatasync'ed appends lost";
    ASSERT_EQ(journal, journal_all.substr(0, journal.size())) << "seed " << seed << ": torn journal";
    journal_all = journal;
    journal_synced = journal.size();
    m.Detach();
  }
  std::printf("%d power cuts\n", kCuts);
}

}  // namespace
}  // namespace alexfs
