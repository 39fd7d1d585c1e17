// `alexfs-bench fs`: AlexFS through a real mount, side by side with tmpfs and a
// directory of the disk filesystem.
//
// Method (also printed by --help):
// - Three targets on this machine: AlexFS (the built `alexfs` binary, mounted
//   with defaults; its data directory is on the disk, next to the disk target),
//   a tmpfs this program mounts, and a directory on the disk filesystem (named
//   from statfs: ext4, xfs, ...). All three live under one temporary directory in
//   --dir (default /var/tmp), removed at the end; mounts are undone on exit,
//   on error and on SIGINT/SIGTERM.
// - Each workload prepares its files on every target (untimed), then measures
//   --runs times (default 3, 1 with --quick) with the targets interleaved and
//   their order rotated each run; each row is the median run by ops/s.
// - Latency: every operation is timed with steady_clock (p50/p99/p99.9 in ns);
//   for walks and sequential I/O one "op" is one directory walk / one 1 MiB
//   read or write, and ops/s is entries/s resp. MiB/s (the note says).
// - "cold" rows run after `sync; echo 3 > /proc/sys/vm/drop_caches` (root).
//   tmpfs keeps its files in memory whatever we drop: cold = cached there.
// - The alexfs rows' notes give ratios to tmpfs and to the disk filesystem; the
//   design targets are checked at the end.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "tools/bench/report.h"

extern char** environ;

namespace alexfs::bench::fsbench {
namespace {

constexpr size_t kMiB = 1024 * 1024;

struct Options {
  bool quick = false;
  int runs = 0;  // 0: 3, or 1 with --quick
  double seconds = 0;  // time-bounded phases; 0: 2 s, or 0.5 s with --quick
  std::string json;
  std::string alexfs;
  std::string dir = "/var/tmp";
  std::vector<std::string> workloads;  // name prefixes; empty: all
  std::vector<std::string> systems = {"alexfs", "tmpfs", "disk"};
  bool no_cold = false;
  size_t seq_mib = 0;  // the sequential rows' file size; 0: 64
};

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// ---------------------------------------------------------------------------
// The targets and their mounts.

bool IsMountPoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == path) return true;
  }
  return false;
}

std::string FsTypeName(const std::string& path) {
  struct statfs s;
  if (::statfs(path.c_str(), &s) != 0) return "disk";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    default: return Format("fs-0x%lx", static_cast<unsigned long>(s.f_type));
  }
}

int RunQuiet(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool DropCaches() {
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  bool ok = ::write(fd, "3\n", 2) == 2;
  ::close(fd);
  return ok;
}

struct Target {
  std::string system;  // "alexfs", "tmpfs", or the disk filesystem's name
  std::string kind;    // "alexfs", "tmpfs", "disk"
  std::string root;
};

class Environment;
Environment* g_environment = nullptr;

// Owns the temporary directory, the tmpfs mount and the AlexFS daemon.
class Environment {
 public:
  explicit Environment(const Options& opt) {
    std::string pattern = opt.dir + "/alexfs-bench-fs-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp " + pattern);
    base_ = pattern;
    g_environment = this;
    struct sigaction sa{};
    sa.sa_handler = &Environment::OnSignal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
  }

  ~Environment() {
    if (daemon_ > 0) UnmountAlexfs();
    if (!tmpfs_.empty() && IsMountPoint(tmpfs_)) ::umount2(tmpfs_.c_str(), MNT_DETACH);
    std::fprintf(stderr, "removing %s\n", base_.c_str());
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
    if (ec) std::fprintf(stderr, "warning: could not remove %s: %s\n", base_.c_str(), ec.message().c_str());
    g_environment = nullptr;
  }

  Target MountTmpfs() {
    tmpfs_ = base_ + "/tmpfs";
    if (::mkdir(tmpfs_.c_str(), 0755) != 0) Fail("mkdir " + tmpfs_);
    if (::mount("tmpfs", tmpfs_.c_str(), "tmpfs", 0, "size=50%,mode=0755") != 0) {
      std::string where = tmpfs_;
      tmpfs_.clear();
      Fail("mount -t tmpfs on " + where + " (run as root, or leave tmpfs out with --systems)");
    }
    return {"tmpfs", "tmpfs", tmpfs_};
  }

  Target DiskDir() {
    std::string d = base_ + "/disk";
    if (::mkdir(d.c_str(), 0755) != 0) Fail("mkdir " + d);
    return {FsTypeName(d), "disk", d};
  }

  Target MountAlexfs(const std::string& binary) {
    mnt_ = base_ + "/alexfs-mnt";
    data_ = base_ + "/alexfs-data";
    log_ = base_ + "/alexfs.log";
    if (::mkdir(mnt_.c_str(), 0755) != 0) Fail("mkdir " + mnt_);
    std::vector<std::string> argv = {binary, "mount", data_, mnt_, "--foreground"};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = posix_spawn(&daemon_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      daemon_ = -1;
      errno = rc;
      Fail("starting " + binary);
    }
    uint64_t deadline = NowNanos() + 20'000'000'000ull;
    while (NowNanos() < deadline) {
      struct statfs s;
      if (IsMountPoint(mnt_) && ::statfs(mnt_.c_str(), &s) == 0) return {"alexfs", "alexfs", mnt_};
      int status;
      if (::waitpid(daemon_, &status, WNOHANG) == daemon_) {
        daemon_ = -1;
        errno = 0;
        throw std::runtime_error("alexfs mount exited before mounting; its log:\n" + DaemonLog());
      }
      ::usleep(5000);
    }
    errno = ETIMEDOUT;
    Fail("waiting for the AlexFS mount; its log:\n" + DaemonLog());
  }

  // fusermount3 -u, then wait (up to 60 s: unmount commits) for the daemon.
  void UnmountAlexfs() {
    if (daemon_ <= 0) return;
    RunQuiet({"fusermount3", "-u", mnt_});
    uint64_t deadline = NowNanos() + 60'000'000'000ull;
    int status = 0;
    while (NowNanos() < deadline) {
      if (::waitpid(daemon_, &status, WNOHANG) == daemon_) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          std::fprintf(stderr, "warning: alexfs exited with status %d; log:\n%s\n", status, DaemonLog().c_str());
        }
        daemon_ = -1;
        break;
      }
      ::usleep(10000);
    }
    if (daemon_ > 0) {
      std::fprintf(stderr, "warning: alexfs did not exit after unmount; killing it\n");
      ::kill(daemon_, SIGKILL);
      ::waitpid(daemon_, &status, 0);
      daemon_ = -1;
    }
    if (IsMountPoint(mnt_)) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  std::string DaemonLog() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
  }

  const std::string& base() const { return base_; }

 private:
  // Async-signal-safe: detach the mounts, stop the daemon, leave.
  static void OnSignal(int sig) {
    Environment* env = g_environment;
    if (env != nullptr) {
      if (!env->mnt_.empty()) ::umount2(env->mnt_.c_str(), MNT_DETACH);
      if (env->daemon_ > 0) ::kill(env->daemon_, SIGTERM);
      if (!env->tmpfs_.empty()) ::umount2(env->tmpfs_.c_str(), MNT_DETACH);
      static const char msg[] = "alexfs-bench fs: interrupted; mounts detached, files left in --dir\n";
      ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)ignored;
    }
    _exit(128 + sig);
  }

  std::string base_, tmpfs_, mnt_, data_, log_;
  pid_t daemon_ = -1;
};

// ---------------------------------------------------------------------------
// File helpers.

void MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) Fail("mkdir " + path);
}

void WriteWhole(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Fail("create " + path);
  if (!data.empty() && ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    Fail("write " + path);
  }
  if (::close(fd) != 0) Fail("close " + path);
}

std::string Payload(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>('a' + (x >> 33) % 26);
  }
  return s;
}

std::string Numbered(const std::string& dir, size_t i) { return Format("%s/file-%06zu", dir.c_str(), i); }

// A permutation of [0, n) from a fixed seed.
std::vector<size_t> Shuffled(size_t n, uint64_t seed) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  uint64_t x = seed | 1;
  for (size_t i = n; i > 1; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::swap(v[i - 1], v[x % i]);
  }
  return v;
}

// Lists a directory with opendir/readdir; returns the number of entries (without . and ..).
size_t CountEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) Fail("opendir " + dir);
  size_t n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    ++n;
  }
  ::closedir(d);
  return n;
}

// ls -lR: every directory listed, every entry lstat'ed. Returns entries seen.
size_t Walk(int dirfd_parent, const char* name) {
  int fd = ::openat(dirfd_parent, name, O_RDONLY | O_DIRECTORY);
  if (fd < 0) Fail(std::string("open directory ") + name);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) Fail("fdopendir");
  size_t n = 0;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    struct stat st;
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) Fail(std::string("lstat ") + e->d_name);
    ++n;
    if (S_ISDIR(st.st_mode)) subdirs.push_back(e->d_name);
  }
  for (const std::string& s : subdirs) n += Walk(fd, s.c_str());
  ::closedir(d);
  return n;
}

// ---------------------------------------------------------------------------
// Workloads.

struct Config {
  Options opt;
  int runs = 3;
  double seconds = 2;
  size_t stat_files = 1000, stat_ops = 500'000;
  size_t cat_files = 1000, cat_ops = 200'000, cat_bytes = 1024;
  size_t cold_files = 2000;
  size_t create_files = 20'000;
  size_t readdir_entries = 10'000;
  size_t walk_top = 10, walk_mid = 10, walk_leaf = 1000;  // 100,000 files
  size_t seq_mib = 64;
  size_t append_base_mib = 100;  // the large file appended to / whose metadata changes
  size_t overwrite_mib = 1024;   // the file of the random 4 KiB overwrites
  size_t sqlite_mib = 100;       // the SQLite database's size before the transactions
  bool can_drop = true;
};

// One measurement on one target: fills ops_per_s, latencies, note.
struct Measured {
  double ops_per_s = 0;
  Latencies lat;
  std::string note;
};

struct Workload {
  std::string name;
  int threads = 1;
  std::string durability;
  uint64_t files = 0;
  uint64_t bytes = 0;
  bool cold = false;
  // Workloads with the same dir_name share one prepared directory (prepared once).
  std::string dir_name;
  // Untimed preparation in dir (created empty); then `measure(dir, run)`.
  std::function<void(const std::string& dir)> prepare;
  std::function<Measured(const std::string& dir, int run)> measure;
};

// Runs op(0), op(1), ... for `ops` operations or until `max_seconds` passed
// (whichever comes first; at least one op), timing each.
Measured TimedLoop(size_t ops, double max_seconds, const std::function<void(size_t)>& op) {
  Measured m;
  m.lat.Reserve(ops);
  uint64_t start = NowNanos();
  uint64_t deadline = start + static_cast<uint64_t>(max_seconds * 1e9);
  size_t done = 0;
  uint64_t t1 = start;
  while (done < ops) {
    uint64_t t0 = t1;
    op(done);
    t1 = NowNanos();
    m.lat.Add(t1 - t0);
    ++done;
    if (t1 > deadline) break;
  }
  m.ops_per_s = static_cast<double>(done) / Seconds(t1 - start);
  return m;
}

void ReadSmall(const std::string& path, size_t expect) {
  char buf[65536];
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) Fail("open " + path);
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n != static_cast<ssize_t>(expect)) {
    if (n >= 0) errno = EIO;
    Fail(Format("read %s returned %zd, want %zu", path.c_str(), n, expect));
  }
  ::close(fd);
}

// Writes a file of `mib` MiB and fsyncs it.
void WriteMiB(const std::string& path, size_t mib) {
  std::string block = Payload(kMiB, 91);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Fail("create " + path);
  for (size_t i = 0; i < mib; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) Fail("write " + path);
  }
  if (::fsync(fd) != 0) Fail("fsync " + path);
  if (::close(fd) != 0) Fail("close " + path);
}

// The AlexFS store's alexfs_logged_bytes_total, or -1 if `dir` is not on the
// AlexFS mount. The daemon exports its metrics to DATA_DIR/metrics.prom every
// 10 s: this waits for the next export (up to 12 s), so the figure is current.
double LoggedBytes(std::string dir) {
  while (!dir.empty() && dir != "/" && !IsMountPoint(dir)) dir = std::filesystem::path(dir).parent_path();
  struct statfs s;
  if (::statfs(dir.c_str(), &s) != 0 || s.f_type != 0x65735546) return -1;  // FUSE
  const std::string metrics = std::filesystem::path(dir).parent_path() / "alexfs-data" / "metrics.prom";
  struct stat before {};
  if (::stat(metrics.c_str(), &before) != 0) return -1;
  const uint64_t deadline = NowNanos() + 12'000'000'000ull;
  struct stat now = before;
  while (NowNanos() < deadline && ::stat(metrics.c_str(), &now) == 0 &&
         now.st_mtim.tv_sec == before.st_mtim.tv_sec && now.st_mtim.tv_nsec == before.st_mtim.tv_nsec) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    // alexfs_logged_bytes_total{store="..."} 12345
    if (line.rfind("alexfs_logged_bytes_total", 0) == 0) return std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return -1;
}

std::vector<Workload> MakeWorkloads(const Config& c) {
  std::vector<Workload> w;

  {
    Workload s;
    s.name = "stat";
    s.files = c.stat_files;
    s.prepare = [c](const std::string& dir) {
      for (size_t i = 0; i < c.stat_files; ++i) WriteWhole(Numbered(dir, i), "x");
    };
    s.measure = [c](const std::string& dir, int run) {
      std::vector<std::string> paths;
      for (size_t i = 0; i < c.stat_files; ++i) paths.push_back(Numbered(dir, i));
      std::vector<size_t> order = Shuffled(c.stat_files, 7 + static_cast<uint64_t>(run));
      struct stat st;
      for (const auto& p : paths) ::stat(p.c_str(), &st);  // warm
      Measured m = TimedLoop(c.stat_ops, c.seconds, [&](size_t i) {
        if (::stat(paths[order[i % order.size()]].c_str(), &st) != 0) Fail("stat");
      });
      m.note = "cached";
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = "cat_cached";
    s.files = c.cat_files;
    s.bytes = c.cat_bytes;
    s.prepare = [c](const std::string& dir) {
      for (size_t i = 0; i < c.cat_files; ++i) WriteWhole(Numbered(dir, i), Payload(c.cat_bytes, i));
    };
    s.measure = [c](const std::string& dir, int run) {
      std::vector<std::string> paths;
      for (size_t i = 0; i < c.cat_files; ++i) paths.push_back(Numbered(dir, i));
      std::vector<size_t> order = Shuffled(c.cat_files, 11 + static_cast<uint64_t>(run));
      for (const auto& p : paths) ReadSmall(p, c.cat_bytes);  // warm
      Measured m = TimedLoop(c.cat_ops, c.seconds, [&](size_t i) { ReadSmall(paths[order[i % order.size()]], c.cat_bytes); });
      m.note = "open+read+close, cached";
      return m;
    };
    w.push_back(s);
  }
  if (c.can_drop) {
    Workload s;
    s.name = "cat_cold";
    s.cold = true;
    s.files = c.cold_files;
    s.bytes = c.cat_bytes;
    s.prepare = [c](const std::string& dir) {
      for (size_t i = 0; i < c.cold_files; ++i) WriteWhole(Numbered(dir, i), Payload(c.cat_bytes, i));
    };
    s.measure = [c](const std::string& dir, int run) {
      std::vector<size_t> order = Shuffled(c.cold_files, 13 + static_cast<uint64_t>(run));
      DropCaches();
      Measured m = TimedLoop(c.cold_files, 1e9, [&](size_t i) { ReadSmall(Numbered(dir, order[i]), c.cat_bytes); });
      m.note = "open+read+close after drop_caches";
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = "create_write_close";
    s.files = c.create_files;
    s.bytes = c.cat_bytes;
    s.durability = "buffered";
    s.prepare = [](const std::string&) {};
    s.measure = [c](const std::string& dir, int run) {
      std::string sub = Format("%s/run%d", dir.c_str(), run);
      MakeDir(sub);
      std::string data = Payload(c.cat_bytes, 5);
      Measured m = TimedLoop(c.create_files, 2 * c.seconds, [&](size_t i) {
        std::string p = Numbered(sub, i);
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) Fail("create " + p);
        if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) Fail("write " + p);
        if (::close(fd) != 0) Fail("close " + p);
      });
      m.note = Format("new %zu-byte files, no fsync", c.cat_bytes);
      return m;
    };
    w.push_back(s);
  }
  for (int threads : {1, 4}) {
    Workload s;
    s.name = "durable_update";
    s.threads = threads;
    s.files = static_cast<uint64_t>(threads);
    s.bytes = c.cat_bytes;
    s.durability = "sync";
    s.prepare = [threads, c](const std::string& dir) {
      for (int t = 0; t < threads; ++t) WriteWhole(Format("%s/config-%d.json", dir.c_str(), t), Payload(c.cat_bytes, 1));
    };
    s.measure = [threads, c](const std::string& dir, int run) {
      std::vector<Latencies> lats(static_cast<size_t>(threads));
      std::vector<uint64_t> counts(static_cast<size_t>(threads), 0);
      std::atomic<bool> failed{false};
      std::string error;
      std::latch start(threads + 1);
      uint64_t begin = 0, end = 0;
      std::vector<std::thread> workers;
      std::atomic<uint64_t> deadline{0};
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          std::string target = Format("%s/config-%d.json", dir.c_str(), t);
          std::string tmp = target + ".tmp";
          std::string data = Payload(c.cat_bytes, static_cast<uint64_t>(run * 100 + t));
          start.arrive_and_wait();
          try {
            while (NowNanos() < deadline.load()) {
              uint64_t t0 = NowNanos();
              int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
              if (fd < 0) Fail("create " + tmp);
              if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) Fail("write " + tmp);
              if (::fsync(fd) != 0) Fail("fsync " + tmp);
              if (::close(fd) != 0) Fail("close " + tmp);
              if (::rename(tmp.c_str(), target.c_str()) != 0) Fail("rename " + tmp);
              lats[static_cast<size_t>(t)].Add(NowNanos() - t0);
              ++counts[static_cast<size_t>(t)];
            }
          } catch (const std::exception& e) {
            if (!failed.exchange(true)) error = e.what();
          }
        });
      }
      begin = NowNanos();
      deadline = begin + static_cast<uint64_t>(c.seconds * 1e9);
      start.arrive_and_wait();
      for (auto& th : workers) th.join();
      end = NowNanos();
      if (failed) throw std::runtime_error(error);
      Measured m;
      uint64_t total = 0;
      for (int t = 0; t < threads; ++t) {
        m.lat.Merge(lats[static_cast<size_t>(t)]);
        total += counts[static_cast<size_t>(t)];
      }
      m.ops_per_s = static_cast<double>(total) / Seconds(end - begin);
      m.note = Format("write tmp+fsync+rename, %d writer%s", threads, threads > 1 ? "s, own files" : "");
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = "readdir_10k_repeat";
    s.files = c.readdir_entries;
    s.prepare = [c](const std::string& dir) {
      for (size_t i = 0; i < c.readdir_entries; ++i) WriteWhole(Numbered(dir, i), "");
    };
    s.measure = [c](const std::string& dir, int) {
      if (CountEntries(dir) != c.readdir_entries) {
        errno = EIO;
        Fail("readdir of " + dir + " returned the wrong number of entries");
      }
      Measured m;
      uint64_t begin = NowNanos(), deadline = begin + static_cast<uint64_t>(c.seconds * 1e9);
      size_t listings = 0;
      while (NowNanos() < deadline) {
        uint64_t t0 = NowNanos();
        size_t n = CountEntries(dir);
        m.lat.Add(NowNanos() - t0);
        if (n != c.readdir_entries) {
          errno = EIO;
          Fail(Format("listing %zu of %s returned %zu entries, want %zu", listings, dir.c_str(), n,
                      c.readdir_entries));
        }
        ++listings;
      }
      m.ops_per_s = static_cast<double>(listings) / Seconds(NowNanos() - begin);
      m.note = Format("listings/s of an unchanged %zu-entry dir (%.0f entries/s)", c.readdir_entries,
                      m.ops_per_s * static_cast<double>(c.readdir_entries));
      return m;
    };
    w.push_back(s);
  }
  size_t walk_files = c.walk_top * c.walk_mid * c.walk_leaf;
  auto walk_prepare = [c](const std::string& dir) {
    for (size_t a = 0; a < c.walk_top; ++a) {
      std::string da = Format("%s/top%02zu", dir.c_str(), a);
      MakeDir(da);
      for (size_t b = 0; b < c.walk_mid; ++b) {
        std::string db = Format("%s/mid%02zu", da.c_str(), b);
        MakeDir(db);
        for (size_t i = 0; i < c.walk_leaf; ++i) WriteWhole(Numbered(db, i), "");
      }
    }
  };
  for (bool cold : {false, true}) {
    if (cold && !c.can_drop) continue;
    Workload s;
    s.name = cold ? "walk_lsR_cold" : "walk_lsR";
    s.dir_name = "walk";
    s.cold = cold;
    s.files = walk_files;
    s.prepare = walk_prepare;
    size_t expect = walk_files + c.walk_top + c.walk_top * c.walk_mid;
    s.measure = [expect, cold, c](const std::string& dir, int) {
      Measured m;
      int walks = cold ? 1 : 3;
      if (!cold) Walk(AT_FDCWD, dir.c_str());  // warm
      uint64_t total_ns = 0;
      for (int i = 0; i < walks; ++i) {
        if (cold) DropCaches();
        uint64_t t0 = NowNanos();
        size_t n = Walk(AT_FDCWD, dir.c_str());
        uint64_t ns = NowNanos() - t0;
        if (n != expect) {
          errno = EIO;
          Fail(Format("walk of %s saw %zu entries, want %zu", dir.c_str(), n, expect));
        }
        m.lat.Add(ns);
        total_ns += ns;
      }
      m.ops_per_s = static_cast<double>(expect) * walks / Seconds(total_ns);
      m.note = Format("entries/s; readdir + lstat of %zu entries; latency = one whole walk%s", expect,
                      cold ? ", after drop_caches" : ", cached");
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = Format("seq_write_%zuMiB", c.seq_mib);
    s.bytes = c.seq_mib * kMiB;
    s.files = 1;
    s.durability = "sync";
    s.prepare = [](const std::string&) {};
    s.measure = [c](const std::string& dir, int run) {
      std::string path = Format("%s/big-%d", dir.c_str(), run);
      std::string block = Payload(kMiB, 77);
      Measured m;
      uint64_t begin = NowNanos();
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) Fail("create " + path);
      for (size_t i = 0; i < c.seq_mib; ++i) {
        uint64_t t0 = NowNanos();
        if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) Fail("write " + path);
        m.lat.Add(NowNanos() - t0);
      }
      uint64_t t_sync = NowNanos();
      if (::fsync(fd) != 0) Fail("fsync " + path);
      if (::close(fd) != 0) Fail("close " + path);
      uint64_t end = NowNanos();
      m.ops_per_s = static_cast<double>(c.seq_mib) / Seconds(end - begin);
      m.note = Format("MiB/s; 1 MiB writes then fsync (fsync %.0f ms); latency = one 1 MiB write",
                      Seconds(end - t_sync) * 1e3);
      ::unlink(path.c_str());
      return m;
    };
    w.push_back(s);
  }
  for (bool cold : {true, false}) {
    if (cold && !c.can_drop) continue;
    Workload s;
    s.name = Format(cold ? "seq_read_%zuMiB_cold" : "seq_read_%zuMiB_cached", c.seq_mib);
    s.cold = cold;
    s.bytes = c.seq_mib * kMiB;
    s.files = 1;
    s.prepare = [c](const std::string& dir) {
      std::string path = dir + "/big";
      std::string block = Payload(kMiB, 78);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) Fail("create " + path);
      for (size_t i = 0; i < c.seq_mib; ++i) {
        if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) Fail("write " + path);
      }
      if (::fsync(fd) != 0) Fail("fsync " + path);
      if (::close(fd) != 0) Fail("close " + path);
    };
    s.measure = [c, cold](const std::string& dir, int) {
      std::string path = dir + "/big";
      std::vector<char> buf(kMiB);
      auto read_all = [&](Latencies* lat) {
        int fd = ::open(path.c_str(), O_RDONLY);
        if (fd < 0) Fail("open " + path);
        size_t total = 0;
        for (;;) {
          uint64_t t0 = NowNanos();
          ssize_t n = ::read(fd, buf.data(), buf.size());
          if (n < 0) Fail("read " + path);
          if (n == 0) break;
          if (lat) lat->Add(NowNanos() - t0);
          total += static_cast<size_t>(n);
        }
        ::close(fd);
        if (total != c.seq_mib * kMiB) {
          errno = EIO;
          Fail(Format("read %zu bytes of %s, want %zu", total, path.c_str(), c.seq_mib * kMiB));
        }
      };
      Measured m;
      if (cold) {
        DropCaches();
      } else {
        read_all(nullptr);  // warm
      }
      uint64_t begin = NowNanos();
      read_all(&m.lat);
      m.ops_per_s = static_cast<double>(c.seq_mib) / Seconds(NowNanos() - begin);
      m.note = Format("MiB/s; 1 MiB reads%s; latency = one read() call", cold ? " after drop_caches" : ", cached");
      return m;
    };
    w.push_back(s);
  }
  // Large files (issue 12): a commit costs what it touches.
  for (size_t base_mib : {c.append_base_mib, size_t{0}}) {
    Workload s;
    s.name = Format("append_100B_fdatasync_%zuMiB", base_mib);
    s.durability = "fdatasync";
    s.files = 1;
    s.bytes = base_mib * kMiB;
    s.dir_name = s.name;
    s.prepare = [base_mib](const std::string& dir) { WriteMiB(dir + "/log", base_mib); };
    s.measure = [c](const std::string& dir, int) {
      std::string path = dir + "/log";
      int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
      if (fd < 0) Fail("open " + path);
      std::string line = Payload(99, 5) + "\n";
      const double logged0 = LoggedBytes(dir);
      Measured m = TimedLoop(1'000'000, c.seconds, [&](size_t) {
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) Fail("append " + path);
        if (::fdatasync(fd) != 0) Fail("fdatasync " + path);
      });
      ::close(fd);
      const double logged = LoggedBytes(dir) - logged0;
      m.note = "appends/s, 100 B + fdatasync each";
      if (logged0 >= 0) {
        m.note += Format("; %.0f B logged per append", logged / static_cast<double>(m.lat.count()));
      }
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = Format("overwrite_4KiB_fdatasync_%zuMiB", c.overwrite_mib);
    s.durability = "fdatasync";
    s.files = 1;
    s.bytes = c.overwrite_mib * kMiB;
    s.prepare = [c](const std::string& dir) { WriteMiB(dir + "/db", c.overwrite_mib); };
    s.measure = [c](const std::string& dir, int run) {
      std::string path = dir + "/db";
      int fd = ::open(path.c_str(), O_WRONLY);
      if (fd < 0) Fail("open " + path);
      std::string page = Payload(4096, static_cast<uint64_t>(run) + 7);
      uint64_t x = 88172645463325252ull + static_cast<uint64_t>(run);
      const uint64_t pages = c.overwrite_mib * kMiB / 4096;
      Measured m = TimedLoop(1'000'000, c.seconds, [&](size_t) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const off_t off = static_cast<off_t>((x % pages) * 4096);
        if (::pwrite(fd, page.data(), page.size(), off) != 4096) Fail("pwrite " + path);
        if (::fdatasync(fd) != 0) Fail("fdatasync " + path);
      });
      ::close(fd);
      m.note = "overwrites/s, 4 KiB at a random page + fdatasync";
      return m;
    };
    w.push_back(s);
  }
  {
    Workload s;
    s.name = Format("chmod_utimes_rename_%zuMiB", c.append_base_mib);
    s.files = 1;
    s.bytes = c.append_base_mib * kMiB;
    s.prepare = [c](const std::string& dir) { WriteMiB(dir + "/big-0", c.append_base_mib); };
    s.measure = [c](const std::string& dir, int) {
      std::string name = dir + "/big-0";
      size_t n = 0;
      for (; n < 4; ++n) {  // the name left by the previous run
        if (::access(Format("%s/big-%zu", dir.c_str(), n).c_str(), F_OK) == 0) break;
      }
      name = Format("%s/big-%zu", dir.c_str(), n);
      const double logged0 = LoggedBytes(dir);
      Measured m = TimedLoop(100'000, c.seconds, [&](size_t i) {
        if (::chmod(name.c_str(), (i & 1) ? 0600 : 0644) != 0) Fail("chmod " + name);
        if (::utimes(name.c_str(), nullptr) != 0) Fail("utimes " + name);
        std::string next = Format("%s/big-%zu", dir.c_str(), (n + i + 1) % 4);
        if (::rename(name.c_str(), next.c_str()) != 0) Fail("rename " + name);
        name = next;
      });
      const double ops = static_cast<double>(m.lat.count());
      const double logged = LoggedBytes(dir) - logged0;
      m.note = "chmod+utimes+rename/s of one file";
      if (logged0 >= 0) m.note += Format("; %.0f B logged per chmod+utimes+rename", logged / ops);
      return m;
    };
    w.push_back(s);
  }
  {
    // SQLite in WAL mode with synchronous=FULL (a commit fsyncs the WAL): 10-row
    // transactions into a database that starts at sqlite_mib MiB and grows.
    Workload s;
    s.name = Format("sqlite_wal_full_10row_tx_%zuMiB", c.sqlite_mib);
    s.durability = "fsync";
    s.files = 1;
    s.bytes = c.sqlite_mib * kMiB;
    auto open_db = [](const std::string& path, const char* sync) {
      sqlite3* db = nullptr;
      if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Fail("sqlite3_open " + path);
      std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + sync + ";";
      if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) Fail("sqlite pragmas");
      return db;
    };
    // Inserts `rows` rows of 1 KiB in transactions of `per_tx`, timing each transaction.
    auto insert = [](sqlite3* db, size_t rows, size_t per_tx, uint64_t seed, Latencies* lat) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, "INSERT INTO t(payload) VALUES (?)", -1, &stmt, nullptr) != SQLITE_OK) {
        Fail("sqlite prepare");
      }
      std::string payload = Payload(1024, seed);
      for (size_t done = 0; done < rows; done += per_tx) {
        uint64_t t0 = NowNanos();
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (size_t i = 0; i < per_tx; ++i) {
          sqlite3_bind_blob(stmt, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
          if (sqlite3_step(stmt) != SQLITE_DONE) Fail("sqlite insert");
          sqlite3_reset(stmt);
        }
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) Fail("sqlite commit");
        if (lat) lat->Add(NowNanos() - t0);
      }
      sqlite3_finalize(stmt);
    };
    s.prepare = [c, open_db, insert](const std::string& dir) {
      sqlite3* db = open_db(dir + "/db.sqlite", "OFF");
      sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB)", nullptr, nullptr, nullptr);
      insert(db, c.sqlite_mib * 1024, 1000, 3, nullptr);
      sqlite3_close(db);
    };
    s.measure = [c, open_db, insert](const std::string& dir, int run) {
      sqlite3* db = open_db(dir + "/db.sqlite", "FULL");
      Measured m;
      const uint64_t begin = NowNanos();
      const uint64_t deadline = begin + static_cast<uint64_t>(c.seconds * 1e9);
      size_t tx = 0;
      while (NowNanos() < deadline) {
        insert(db, 10, 10, static_cast<uint64_t>(run) * 1000 + tx, &m.lat);
        ++tx;
      }
      m.ops_per_s = static_cast<double>(tx) / Seconds(NowNanos() - begin);
      sqlite3_close(db);
      m.note = "transactions/s, 10 rows of 1 KiB each, WAL, synchronous=FULL";
      return m;
    };
    w.push_back(s);
  }
  return w;
}

// ---------------------------------------------------------------------------
// The targets the README quotes, checked against the alexfs rows.

struct Goal {
  std::string workload;
  int threads;
  std::string versus;  // "tmpfs" or "disk"
  double at_least;
};

const std::vector<Goal>& Goals() {
  static const std::vector<Goal> goals = {
      {"cat_cached", 1, "tmpfs", 0.85},     {"stat", 1, "tmpfs", 0.9},
      {"readdir_10k_repeat", 1, "tmpfs", 1.0}, {"durable_update", 1, "disk", 1.5},
      {"durable_update", 4, "disk", 3.0},
  };
  return goals;
}

int RunSuite(const Options& in) {
  Config c;
  c.opt = in;
  c.runs = in.runs > 0 ? in.runs : (in.quick ? 1 : 3);
  c.seconds = in.seconds > 0 ? in.seconds : (in.quick ? 0.5 : 2.0);
  if (in.quick) {
    c.stat_ops = 100'000;
    c.cat_ops = 50'000;
    c.cold_files = 500;
    c.create_files = 5'000;
    c.walk_leaf = 100;  // 10,000 files
    c.seq_mib = 64;
    c.overwrite_mib = 128;
    c.sqlite_mib = 16;
    c.append_base_mib = 16;
  }
  if (in.seq_mib > 0) c.seq_mib = in.seq_mib;
  c.can_drop = !in.no_cold;
  if (c.can_drop && !DropCaches()) {
    std::fprintf(stderr, "note: cannot write /proc/sys/vm/drop_caches (not root?): cold rows left out\n");
    c.can_drop = false;
  }

  std::string binary = in.alexfs;
  bool want_alexfs = std::find(in.systems.begin(), in.systems.end(), "alexfs") != in.systems.end();
  if (want_alexfs && binary.empty()) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    binary = (self.parent_path().parent_path() / "alexfs").string();  // tools/bench/.. -> tools/alexfs
  }
  if (want_alexfs && ::access(binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "alexfs-bench fs: no alexfs binary at %s (use --alexfs PATH)\n", binary.c_str());
    return 1;
  }

  uint64_t t0 = NowNanos();
  std::vector<Row> rows;
  bool ok = true;
  try {
    Environment env(in);
    std::vector<Target> targets;
    for (const std::string& s : in.systems) {
      if (s == "alexfs") {
        targets.push_back(env.MountAlexfs(binary));
      } else if (s == "tmpfs") {
        targets.push_back(env.MountTmpfs());
      } else if (s == "disk") {
        targets.push_back(env.DiskDir());
      } else {
        throw std::runtime_error("unknown system '" + s + "' (alexfs, tmpfs, disk)");
      }
    }
    std::string disk_name = "disk";
    for (const Target& t : targets) {
      if (t.kind == "disk") disk_name = t.system;
    }
    std::fprintf(stderr, "alexfs-bench fs: %d run(s) per row in %s%s\n", c.runs, env.base().c_str(),
                 c.can_drop ? "" : " (no cold rows)");

    const std::vector<Workload> workloads = MakeWorkloads(c);
    for (const Workload& w : workloads) {
      if (!in.workloads.empty() &&
          std::none_of(in.workloads.begin(), in.workloads.end(),
                       [&](const std::string& p) { return w.name.rfind(p, 0) == 0; })) {
        continue;
      }
      std::string label = w.name + (w.threads > 1 ? Format("/%dt", w.threads) : "");
      std::string dir_name = w.dir_name.empty() ? w.name + Format("-%dt", w.threads) : w.dir_name;
      std::vector<std::string> dirs;
      for (const Target& t : targets) {
        std::string dir = t.root + "/" + dir_name;
        dirs.push_back(dir);
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0) continue;  // prepared by the previous workload
        MakeDir(dir);
        std::fprintf(stderr, "[%.0f s] %s: preparing on %s\n", Seconds(NowNanos() - t0), label.c_str(),
                     t.system.c_str());
        w.prepare(dir);
      }
      std::vector<std::vector<Measured>> results(targets.size());
      for (int run = 0; run < c.runs; ++run) {
        for (size_t k = 0; k < targets.size(); ++k) {
          size_t i = (k + static_cast<size_t>(run)) % targets.size();
          std::fprintf(stderr, "[%.0f s] %s run %d/%d: %s\n", Seconds(NowNanos() - t0), label.c_str(), run + 1,
                       c.runs, targets[i].system.c_str());
          results[i].push_back(w.measure(dirs[i], run));
        }
      }
      // Median run per target, then ratios for the alexfs row.
      std::vector<Row> wrows;
      std::map<std::string, double> by_kind;
      for (size_t i = 0; i < targets.size(); ++i) {
        std::vector<size_t> idx(results[i].size());
        for (size_t j = 0; j < idx.size(); ++j) idx[j] = j;
        std::sort(idx.begin(), idx.end(),
                  [&](size_t a, size_t b) { return results[i][a].ops_per_s < results[i][b].ops_per_s; });
        size_t med = idx[idx.size() / 2];
        Measured& m = results[i][med];
        Row r;
        r.suite = "fs";
        r.workload = w.name;
        r.system = targets[i].system;
        r.keys = w.files;
        r.value_bytes = w.bytes;
        r.threads = w.threads;
        r.durability = w.durability;
        r.ops_per_s = m.ops_per_s;
        m.lat.FillRow(&r);
        r.note = m.note + (c.runs > 1 ? Format("; run %zu/%d", med + 1, c.runs) : "");
        if (targets[i].kind == "tmpfs" && w.cold) r.note += "; tmpfs cannot be cold";
        by_kind[targets[i].kind] = m.ops_per_s;
        wrows.push_back(r);
      }
      for (size_t i = 0; i < targets.size(); ++i) {
        if (targets[i].kind != "alexfs") continue;
        std::string ratios;
        if (by_kind.count("tmpfs") && by_kind["tmpfs"] > 0) {
          ratios += Format("%.2fx tmpfs", wrows[i].ops_per_s / by_kind["tmpfs"]);
        }
        if (by_kind.count("disk") && by_kind["disk"] > 0) {
          ratios += Format("%s%.2fx %s", ratios.empty() ? "" : ", ", wrows[i].ops_per_s / by_kind["disk"],
                           disk_name.c_str());
        }
        if (!ratios.empty()) wrows[i].note = ratios + "; " + wrows[i].note;
      }
      for (Row& r : wrows) rows.push_back(r);
      // Free the space (untimed): the next workload starts from a small store,
      // unless it shares this directory.
      size_t at = static_cast<size_t>(&w - &workloads[0]);
      if (at + 1 < workloads.size() && !workloads[at + 1].dir_name.empty() && workloads[at + 1].dir_name == w.dir_name) {
        continue;
      }
      for (const std::string& d : dirs) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
        if (ec) std::fprintf(stderr, "warning: removing %s: %s\n", d.c_str(), ec.message().c_str());
      }
    }
    env.UnmountAlexfs();  // a clean unmount is part of the run: report if it fails
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alexfs-bench fs: %s\n", e.what());
    ok = false;
  }

  Report report;
  std::printf("\nalexfs-bench fs: %d run(s) per row (median by ops/s), %s, in %.0f s\n", c.runs,
              in.quick ? "--quick" : "full sizes", Seconds(NowNanos() - t0));
  for (Row& r : rows) report.Add(r);
  // Markdown table with the columns that matter here.
  std::printf("\n| workload | system | threads | ops/s | p50 µs | p99 µs | p99.9 µs | note |\n");
  std::printf("|---|---|--:|--:|--:|--:|--:|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %d | %.0f | %.1f | %.1f | %.1f | %s |\n", r.workload.c_str(), r.system.c_str(),
                r.threads, r.ops_per_s, static_cast<double>(r.p50_ns) / 1e3, static_cast<double>(r.p99_ns) / 1e3,
                static_cast<double>(r.p999_ns) / 1e3, r.note.c_str());
  }
  // Targets.
  std::printf("\nTargets (alexfs ops/s relative to the named system):\n");
  for (const Goal& g : Goals()) {
    const Row* a = nullptr;
    const Row* b = nullptr;
    for (const Row& r : rows) {
      if (r.workload != g.workload || r.threads != g.threads) continue;
      if (r.system == "alexfs") a = &r;
      bool is_tmpfs = r.system == "tmpfs";
      if ((g.versus == "tmpfs" && is_tmpfs) || (g.versus == "disk" && !is_tmpfs && r.system != "alexfs")) b = &r;
    }
    if (a == nullptr || b == nullptr || b->ops_per_s <= 0) {
      std::printf("  %-20s %dt  >= %.2fx %-5s  not measured\n", g.workload.c_str(), g.threads, g.at_least,
                  g.versus.c_str());
      continue;
    }
    double ratio = a->ops_per_s / b->ops_per_s;
    std::printf("  %-20s %dt  >= %.2fx %-5s  %.2fx  %s\n", g.workload.c_str(), g.threads, g.at_least,
                b->system.c_str(), ratio, ratio >= g.at_least ? "met" : "MISSED");
  }
  std::fflush(stdout);
  if (!in.json.empty() && !report.WriteJson(in.json)) ok = false;
  return ok ? 0 : 1;
}

void AddFsSuite(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "fs",
      "AlexFS through a real mount vs tmpfs vs a directory on the disk filesystem: stat, cat (cached and "
      "cold), create, durable update (tmp+fsync+rename, 1 and 4 writers), repeated readdir of 10,000 "
      "entries, ls -lR walk of 100,000 files, 64 MiB sequential write/read. Targets interleaved, order "
      "rotated per run, median run reported; every op timed with steady_clock. Needs root (tmpfs mount, "
      "drop_caches). Mounts are removed on exit, on error and on SIGINT/SIGTERM.");
  cmd->add_flag("--quick", opt->quick, "smoke run: 1 run, 0.5 s phases, 10,000-file walk, fewer ops");
  cmd->add_option("--json", opt->json, "write the rows to FILE as JSON");
  cmd->add_option("--alexfs", opt->alexfs, "the alexfs binary (default: ../alexfs next to alexfs-bench's directory)");
  cmd->add_option("--dir", opt->dir, "where the disk target, the AlexFS data directory and the mounts live (default /var/tmp)");
  cmd->add_option("--runs", opt->runs, "runs per row, median reported (default 3; 1 with --quick)")
      ->check(CLI::Range(1, 99));
  cmd->add_option("--seconds", opt->seconds, "duration of time-bounded phases (default 2; 0.5 with --quick)");
  cmd->add_option("--workloads", opt->workloads,
                  "comma-separated workload name prefixes: stat, cat_cached, cat_cold, create_write_close, "
                  "durable_update, readdir_10k_repeat, walk_lsR, walk_lsR_cold, seq_write, seq_read, "
                  "append_100B_fdatasync, overwrite_4KiB_fdatasync, chmod_utimes_rename, sqlite_wal_full")
      ->delimiter(',');
  cmd->add_option("--systems", opt->systems, "comma-separated: alexfs,tmpfs,disk")->delimiter(',');
  cmd->add_option("--seq-mib", opt->seq_mib, "size of the sequential write/read rows' file in MiB (default 64)");
  cmd->add_flag("--no-cold", opt->no_cold, "leave out the rows that drop the page cache");
  cmd->callback([opt] {
    int rc = RunSuite(*opt);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace
}  // namespace alexfs::bench::fsbench

ALEXFS_BENCH_SUITE(fs, alexfs::bench::fsbench::AddFsSuite);
